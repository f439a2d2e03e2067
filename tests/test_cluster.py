"""`vcam anonymize --ray`: the same tasks on a real Ray cluster (a head with two worker CPUs on 127.0.0.1),
started and stopped by the test. Skips without Ray (`pip install 'vcam[cluster]'`), fails in CI."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import pytest
from conftest import STILL
from test_batch import DEMO, decoded, demo_boxes

from vcam.evaluation.metrics import detail_correlation

COPIES = 3
"""The demo clip three times over: 168 frames, 14 s, which the default plan cuts in two for two CPUs, the
seam at frame 84 with both heads on each side of it."""


@pytest.fixture
def ray_head():
    ray = Path(sys.executable).parent / "ray"
    if not ray.exists():
        message = "needs Ray: pip install 'vcam[cluster]'"
        if os.environ.get("VCAM_REQUIRE_RAY") == "1":
            pytest.fail(message)
        pytest.skip(message)
    with socket.socket() as s:  # a free port on the loopback interface
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    # Loopback only: without the switch Ray advertises the machine's own address, not 127.0.0.1.
    # The head and vcam (the driver) share a token, as the nodes of a real cluster would.
    env = {
        **os.environ,
        "RAY_USAGE_STATS_ENABLED": "0",
        "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0",
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(32),
    }
    temp = tempfile.mkdtemp(prefix="vcam-ray-")  # short: Ray's socket paths must fit AF_UNIX's 107 bytes
    start = [
        str(ray), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=2",
        "--include-dashboard=false", "--disable-usage-stats", f"--temp-dir={temp}",
    ]  # fmt: skip
    out = subprocess.run(start, capture_output=True, text=True, env=env, timeout=180)
    assert out.returncode == 0, out.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}", env
    finally:
        subprocess.run([str(ray), "stop", "--force"], capture_output=True, env=env, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)


def long_demo(path: Path) -> None:
    frames, _ = decoded(DEMO)
    cap = cv2.VideoCapture(str(DEMO))
    fps = cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), fps, (w, h))
    for _ in range(COPIES):
        for frame in frames:
            writer.write(frame)
    writer.release()


def test_folder_with_a_chunked_video_on_a_local_ray_cluster(ray_head, tmp_path, sample_path):
    address, env = ray_head
    src, out, report = tmp_path / "in", tmp_path / "out", tmp_path / "report.json"
    (src / "clips").mkdir(parents=True)
    long_demo(src / "clips" / "demo3.avi")
    shutil.copy(sample_path / STILL, src / "still.png")
    cmd = [sys.executable, "-m", "vcam", "anonymize", str(src), "-o", str(out), "--ray", address]
    run = subprocess.run([*cmd, "--report", str(report)], capture_output=True, text=True, env=env, timeout=600)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "sandbox is off" in run.stderr and "Traceback" not in run.stderr

    data = json.loads(report.read_text())
    assert data["runner"] == f"Ray at {address}" and data["workers"] == 2
    files = {Path(f["input"]).name: f for f in data["files"]}
    assert files["demo3.avi"]["status"] == "done" and files["demo3.avi"]["frames"] == 56 * COPIES
    assert files["demo3.avi"]["chunks"] == 2
    assert files["still.png"]["status"] == "done" and files["still.png"]["faces"] >= 2

    original, stamps = decoded(src / "clips" / "demo3.avi")
    result, result_stamps = decoded(out / "clips" / "demo3_anonymized.avi")
    assert len(result) == len(original) == 56 * COPIES
    assert [round(s) for s in result_stamps] == [round(s) for s in stamps]
    boxes = demo_boxes()
    readable = [
        (i, box)
        for i, frame in enumerate(original)
        for box in boxes.get(i % 56, [])
        if detail_correlation(frame, result[i], box) >= 0.5
    ]
    assert readable == [], "a face left readable (the seam is at frame 84)"

    again = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=env, timeout=600)
    assert again.returncode == 0 and again.stderr.count("skipped (--resume)") == 2, again.stderr[-2000:]

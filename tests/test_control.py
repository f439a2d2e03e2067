"""The running camera as `vcam ctl` and a second start see it: a real service on a real eval image.

The service publishes through the recording pyvirtualcam backend, so each assertion is about the
frames a call app would receive.
"""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import ROOT, STILL, sample_boxes

from vcam.app import config, control
from vcam.app.service import CameraService, SourceSpec
from vcam.evaluation.metrics import detail_correlation
from vcam.pipeline.anonymizer import AnonymizerSettings
from vcam.pipeline.controls import ControlState, LiveControls
from vcam.pipeline.sinks import VirtualCameraSink

FACES = [[round(v) for v in box] for box in sample_boxes(STILL)]


def make_service(sample_path, tmp_path, state: ControlState | None = None) -> tuple[CameraService, np.ndarray]:
    path = sample_path / STILL
    original = cv2.imread(str(path))
    h, w = original.shape[:2]
    sink = VirtualCameraSink(w, h, 15, backend="recording")
    service = CameraService(
        LiveControls(state or ControlState()),
        SourceSpec(file=path, fps=15),
        sink,
        AnonymizerSettings(),
        fps=15,
        config_file=tmp_path / "config.toml",
    )
    return service, original


def newest_after(backend, t: float, timeout: float = 5.0) -> np.ndarray:
    """The first frame published after time `t` (monotonic) plus one more, so a change has surely applied."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        later = [f for f, ft in zip(backend.frames, backend.times, strict=False) if ft > t]
        if len(later) >= 2:
            return later[-1]
        time.sleep(0.05)
    raise AssertionError("no frames published")


def faces_hidden(image: np.ndarray, original: np.ndarray) -> bool:
    return all(detail_correlation(original, image, box) < 0.5 for box in FACES)


@pytest.fixture
def endpoint(tmp_path):
    folder = tmp_path / "run"
    folder.mkdir(mode=0o700)
    return control.Endpoint(folder)


def test_ctl_commands_change_the_published_frames(sample_path, tmp_path, recording_backend, endpoint):
    service, original = make_service(sample_path, tmp_path)
    server = control.ControlServer(endpoint, service.handle)
    service.start()
    try:
        assert service.anonymizer.wait_ready(30)
        ask = lambda **req: control.request(endpoint, req)  # noqa: E731
        assert faces_hidden(newest_after(recording_backend, time.monotonic()), original)

        t = time.monotonic()
        assert ask(cmd="off")["controls"]["enabled"] is False
        assert np.array_equal(newest_after(recording_backend, t), original), "off must publish the raw frame"
        assert ask(cmd="status")["state"] == "paused"
        assert ask(cmd="set", key="intensity", value="85")["controls"]["intensity"] == 85
        saved, warnings = config.load(tmp_path / "config.toml")
        assert not warnings and saved.intensity == 85
        assert saved.enabled, "a pause is never saved: the camera always starts anonymizing"

        t = time.monotonic()
        ask(cmd="toggle")
        assert faces_hidden(newest_after(recording_backend, t), original)

        t = time.monotonic()
        ask(cmd="set", key="style", value="solid")
        out = newest_after(recording_backend, t)
        for x, y, w, h in FACES:
            assert out[y + h // 3 : y + 2 * h // 3, x + w // 3 : x + 2 * w // 3].std() < 3, "solid fill expected"
        assert config.load(tmp_path / "config.toml")[0].style == "solid"
    finally:
        server.close()
        service.stop()
    assert not endpoint.socket_path.exists()


def test_control_channel_rejects_bad_requests_and_keeps_running(sample_path, tmp_path, recording_backend, endpoint):
    service, _ = make_service(sample_path, tmp_path)
    server = control.ControlServer(endpoint, service.handle)
    service.start()
    try:

        def raw(payload: bytes) -> dict:
            with socket.socket(socket.AF_UNIX) as s:
                s.settimeout(5)
                s.connect(str(endpoint.socket_path))
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
                return json.loads(s.recv(65536))

        bad = [
            b"\xff\xfe garbage",
            b"[1, 2, 3]",
            b'{"cmd": "rm -rf /"}',
            b'{"cmd": "set", "key": "intensity"}',
            b"{" + b" " * 10_000 + b"}",
            json.dumps({"cmd": "set", "key": "__class__", "value": 1}).encode(),
            json.dumps({"cmd": "set", "key": "intensity", "value": "500"}).encode(),
            json.dumps({"cmd": "set", "key": "style", "value": "invisible"}).encode(),
            json.dumps({"cmd": "set", "key": "enabled", "value": "off"}).encode(),
        ]
        for payload in bad:
            answer = raw(payload)
            assert answer["ok"] is False and answer["error"], payload
        assert service.controls.snapshot() == ControlState(), "no bad request may change a setting"
        assert control.request(endpoint, {"cmd": "status"})["ok"]
        assert service.running
    finally:
        server.close()
        service.stop()


def test_control_socket_is_private(tmp_path, endpoint):
    """Three locks, each tested alone as user nobody: the 0700 folder, the 0600 socket, the peer-uid check."""
    calls = []
    server = control.ControlServer(endpoint, lambda req: calls.append(req) or {"ok": True})
    assert stat.S_IMODE(endpoint.socket_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(endpoint.folder.stat().st_mode) & 0o077 == 0
    if os.geteuid() != 0:
        server.close()
        pytest.skip("switching to another user needs root (CI runs as root)")
    # Open pytest's private temp folders for traversal so that only our own permissions stand in the way.
    opened = [p for p in endpoint.folder.parents if str(p).startswith(tempfile.gettempdir()) and p != Path("/tmp")]
    modes = {p: stat.S_IMODE(p.stat().st_mode) for p in opened}
    probe = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        # Connect and read only: the server answers a stranger without reading, so a send could race its close.
        "try:\n s.connect(sys.argv[1]); print(s.recv(100).decode())\n"
        "except PermissionError: print('denied')\n"
    )
    # The venv's interpreter may sit under /root (not enterable by nobody); the probe needs only the stdlib.
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable

    def as_nobody() -> str:
        run = subprocess.run(
            [python, "-c", probe, str(endpoint.socket_path)],
            user=65534,
            group=65534,
            capture_output=True,
            text=True,
            timeout=30,
        )
        return run.stdout.strip()

    try:
        for p in opened:
            os.chmod(p, modes[p] | 0o711)
        assert as_nobody() == "denied"  # the folder
        os.chmod(endpoint.folder, 0o711)
        assert as_nobody() == "denied"  # the socket file
        os.chmod(endpoint.socket_path, 0o666)
        assert json.loads(as_nobody()) == {"ok": False, "error": "permission denied"}  # the server's uid check
        assert calls == [] and server.rejected == 1
    finally:
        for p, mode in modes.items():
            os.chmod(p, mode)
        server.close()


def test_loopback_variant_needs_the_secret(tmp_path, endpoint):
    """The Windows variant (loopback + per-user secret), exercised here by forcing it."""
    tcp = control.Endpoint(endpoint.folder, use_unix=False)
    server = control.ControlServer(tcp, lambda req: {"ok": True, "cmd": req["cmd"]})
    try:
        assert control.request(tcp, {"cmd": "status"})["cmd"] == "status"
        assert stat.S_IMODE(tcp.secret_path.stat().st_mode) == 0o600
        port = json.loads(tcp.secret_path.read_text())["port"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(json.dumps({"cmd": "off", "secret": "guess"}).encode() + b"\n")
            assert json.loads(s.recv(4096)) == {"ok": False, "error": "permission denied"}
    finally:
        server.close()


def cli(*args, env, timeout=60):
    return subprocess.run(
        [sys.executable, "-m", "vcam", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_second_start_asks_the_running_camera_and_exits(sample_path, tmp_path):
    env = {**os.environ, "XDG_RUNTIME_DIR": str(tmp_path / "rt"), "HOME": str(tmp_path), "DISPLAY": ""}
    env["PYTHONPATH"] = str(ROOT)
    (tmp_path / "rt").mkdir(mode=0o700)
    still = str(sample_path / STILL)
    first = subprocess.Popen(
        [sys.executable, "-m", "vcam", "run", "--input", still, "--output", "null", "--no-tray"],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while cli("ctl", "status", env=env).returncode != 0:
            assert time.monotonic() < deadline and first.poll() is None, "first instance never answered"
            time.sleep(0.3)
        second = cli("run", "--input", still, "--output", "null", "--no-tray", env=env)
        assert second.returncode == 0
        assert "already running" in second.stderr
        assert "preview = True" in cli("ctl", "status", env=env).stdout
        bad = cli("ctl", "set", "intensity", "loud", env=env)
        assert bad.returncode == 2 and "intensity must be a number" in bad.stderr and "Traceback" not in bad.stderr
        assert cli("ctl", "quit", env=env).returncode == 0
        assert first.wait(timeout=5) == 0
    finally:
        if first.poll() is None:
            first.kill()
    gone = cli("ctl", "status", env=env)
    assert gone.returncode == 2 and "not running" in gone.stderr

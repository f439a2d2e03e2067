"""`vcam anonymize` at batch scale: chunks and their seams, the report, --resume, a bad file, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from conftest import CLIP, ROOT, STILL

from vcam.app.cli import anonymizer_settings, main
from vcam.app.config import Config
from vcam.evaluation.metrics import detail_correlation
from vcam.pipeline import effects
from vcam.pipeline.batch import BatchOptions, anonymize_batch
from vcam.pipeline.chunks import ChunkSettings, plan_chunks
from vcam.pipeline.runners import InlineRunner
from vcam.pipeline.sources import VideoFileSource

DEMO = ROOT / "assets" / "demo" / "intel-sv__head-pose-face-detection-female-and-male.mp4"
"""Two tilted heads in all 56 frames at 12 fps; reference boxes in tests/data/video_gt.json."""
SMALL_CHUNKS = ChunkSettings(warm_s=0.5, min_s=1.0, max_s=1.2)
"""Chunks of 14 frames for the demo clip: four chunks, three seams, each with a face on both sides."""


def demo_boxes() -> dict[int, list[list[float]]]:
    gt = json.loads((ROOT / "tests" / "data" / "video_gt.json").read_text())["videos"]
    boxes: dict[int, list[list[float]]] = {}
    for index, box, _src in gt["../../assets/demo/intel-sv__head-pose-face-detection-female-and-male.mp4"]["boxes"]:
        boxes.setdefault(index, []).append(box)
    return boxes


def decoded(path):
    """Every frame of a video with its timestamp (ms), as OpenCV decodes it."""
    cap = cv2.VideoCapture(str(path))
    frames, stamps = [], []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        frames.append(image)
        stamps.append(cap.get(cv2.CAP_PROP_POS_MSEC))
    cap.release()
    return frames, stamps


@pytest.mark.parametrize(
    ("frames", "fps", "workers"), [(0, 30, 4), (47, 30, 2), (56, 12, 4), (10_000, 30, 2), (901, 29.97, 3), (5, 30, 8)]
)
def test_chunks_cover_every_frame_once(frames, fps, workers):
    chunks = plan_chunks(frames, fps, workers, SMALL_CHUNKS if frames == 56 else None)
    assert chunks[0].start == 0 and chunks[-1].stop is None
    for a, b in zip(chunks, chunks[1:], strict=False):
        assert a.stop == b.start, "no gap, no overlap in the kept frames"
    for chunk in chunks:
        assert 0 <= chunk.warm <= chunk.start
        assert chunk.start == 0 or chunk.warm >= 0.5 * fps, "warm for at least the tracker's hold"
    if frames == 56:
        assert len(chunks) == 4


def test_seams_hide_every_face_and_keep_every_frame(tmp_path):
    """The demo clip cut into four chunks run by two worker processes: every reference face unreadable in
    every frame, the input's frame count and timestamps, and the very frames one pass writes."""
    settings, effect = anonymizer_settings(Config(), live=False), effects.EffectSettings()
    whole = anonymize_batch([DEMO], tmp_path / "whole.mp4", settings, effect, BatchOptions(workers=1), say=print)
    cut = anonymize_batch(
        [DEMO], tmp_path / "cut.mp4", settings, effect, BatchOptions(workers=2, chunks=SMALL_CHUNKS), say=print
    )
    assert whole.runner == "this process" and cut.runner == "2 local processes"
    assert [r.error for r in cut.files] == [None] and cut.files[0].chunks == 4
    original, stamps = decoded(DEMO)
    out, out_stamps = decoded(tmp_path / "cut.mp4")
    one_pass, _ = decoded(tmp_path / "whole.mp4")
    assert len(out) == len(original) == 56
    assert np.allclose(out_stamps, stamps, atol=1.0)
    boxes = demo_boxes()
    readable = [
        (i, box)
        for i, frame in enumerate(original)
        for box in boxes.get(i, [])
        if detail_correlation(frame, out[i], box) >= 0.5
    ]
    assert readable == []
    assert sum(len(b) for b in boxes.values()) == 112
    differing = [i for i in range(56) if np.abs(out[i].astype(np.int16) - one_pass[i]).mean() > 0.5]
    assert differing == [], "the seams changed what was hidden"


def test_a_seek_that_lands_on_another_frame_is_caught(tmp_path, monkeypatch):
    """A file whose seeks are not exact (variable frame rate) must not get another frame's faces: the
    thumbnail check finds it and the file is done again in one piece."""
    settings, effect = anonymizer_settings(Config(), live=False), effects.EffectSettings()
    anonymize_batch([DEMO], tmp_path / "whole.mp4", settings, effect, BatchOptions(workers=1))
    real_seek = VideoFileSource.seek
    monkeypatch.setattr(VideoFileSource, "seek", lambda self, index: real_seek(self, index + 3 if index else 0))
    result = anonymize_batch(
        [DEMO], tmp_path / "o.mp4", settings, effect, BatchOptions(chunks=SMALL_CHUNKS), runner=InlineRunner(4)
    )
    assert [r.error for r in result.files] == [None]
    original, _ = decoded(DEMO)
    out, _ = decoded(tmp_path / "o.mp4")
    one_pass, _ = decoded(tmp_path / "whole.mp4")
    assert len(out) == 56
    boxes = demo_boxes()
    assert all(detail_correlation(original[i], out[i], b) < 0.5 for i in boxes for b in boxes[i])
    differing = [i for i in range(56) if np.abs(out[i].astype(np.int16) - one_pass[i]).mean() > 0.5]
    assert differing == [], "frames hidden with another frame's faces"


@pytest.fixture
def tree(tmp_path, sample_path):
    """A folder tree: a still at the top, the clip and a damaged video in a subfolder."""
    src = tmp_path / "in"
    (src / "day2").mkdir(parents=True)
    (src / "still.png").write_bytes((sample_path / STILL).read_bytes())
    (src / "day2" / "eat.mkv").write_bytes((sample_path / CLIP).read_bytes())
    (src / "day2" / "broken.mp4").write_bytes((sample_path / CLIP).read_bytes()[:3000])
    return src


def test_folder_tree_report_and_resume(tree, tmp_path):
    out, report = tmp_path / "out", tmp_path / "report.json"
    rc = main(["anonymize", str(tree), "-o", str(out), "--report", str(report), "--workers", "2"])
    assert rc == 1, "one input failed"
    assert (out / "still_anonymized.png").is_file()
    assert (out / "day2" / "eat_anonymized.mp4").is_file(), "the input tree is mirrored"
    data = json.loads(report.read_text())
    files = {os.path.basename(f["input"]): f for f in data["files"]}
    assert files["broken.mp4"]["status"] == "failed" and "broken.mp4" in files["broken.mp4"]["error"]
    assert files["eat.mkv"]["status"] == "done" and files["eat.mkv"]["frames"] == 47
    assert files["eat.mkv"]["faces"] >= 47 and files["still.png"]["faces"] >= 2
    assert data["vcam_version"] and data["settings"]["anonymizer"]["scan"] and data["workers"] == 2
    assert all(f["seconds"] > 0 for f in files.values() if f["status"] == "done")
    stamp = (out / "still_anonymized.png").stat().st_mtime_ns

    rc = main(["anonymize", str(tree), "-o", str(out), "--report", str(report), "--resume"])
    assert rc == 1
    files = {os.path.basename(f["input"]): f for f in json.loads(report.read_text())["files"]}
    assert files["still.png"]["status"] == "skipped" and files["eat.mkv"]["status"] == "skipped"
    assert files["broken.mp4"]["status"] == "failed", "a failed file is tried again"
    assert (out / "still_anonymized.png").stat().st_mtime_ns == stamp
    assert not [p for p in out.rglob("*") if "partial" in p.name]


def _ctrl_c_as_in_a_terminal() -> None:
    """A command typed at a terminal starts with Ctrl-C at its default action. Tests started in the
    background of a script (`pytest &`) inherit it ignored, and so would vcam, which then rightly keeps
    it ignored: the batch ran to the end ("12 done", exit 0) with Ctrl-C sent 4 s in."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_keeps_finished_outputs_and_leaves_no_partial_one(tmp_path, sample_path):
    # Twelve clips: after the first is written there are seconds of work left, so the interrupt lands
    # mid-batch even when this test is slow to notice the first output.
    clips = 12
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(clips):
        (src / f"clip{i}.mkv").write_bytes((sample_path / CLIP).read_bytes())
    cmd = [sys.executable, "-m", "vcam", "anonymize", str(src), "-o", str(out), "--workers", "2"]
    started = time.monotonic()
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, text=True, start_new_session=True, preexec_fn=_ctrl_c_as_in_a_terminal
    )
    deadline = started + 120
    while not list(out.glob("*_anonymized.mp4")) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.1)
    assert proc.poll() is None, "the batch ended before it could be interrupted"
    os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
    sent = time.monotonic() - started
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, f"Ctrl-C sent {sent:.1f} s after the start\n{err}"
    assert "interrupted" in err and "Traceback" not in err
    assert [p.name for p in out.rglob("*") if "partial" in p.name] == []
    finished = sorted(out.glob("*_anonymized.mp4"))
    assert 1 <= len(finished) < clips
    for path in finished:
        assert len(decoded(path)[0]) == 47, f"{path.name} is complete"

    rc = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, timeout=300)
    assert rc.returncode == 0, rc.stderr
    assert len(list(out.glob("*_anonymized.mp4"))) == clips
    assert rc.stderr.count("skipped (--resume)") == len(finished)


def test_output_names_are_checked_before_any_work(tmp_path, sample_path, capsys):
    clip = str(sample_path / CLIP)
    assert main(["anonymize", clip, "-o", str(tmp_path / "noext")]) == 1
    assert "no extension" in capsys.readouterr().err
    assert main(["anonymize", clip, "-o", str(tmp_path / "new") + os.sep]) == 0, "a trailing / asks for a folder"
    assert (tmp_path / "new" / "intel-sv__eat_anonymized.mp4").is_file()
    assert main(["anonymize"]) == 2 and "at least one" in capsys.readouterr().err


def test_ray_address_or_input(tmp_path):
    from vcam.app.cli import _is_ray_address

    assert _is_ray_address("auto") and _is_ray_address("10.0.0.5:6379") and _is_ray_address("ray://head:10001")
    folder = tmp_path / "a:b"
    folder.mkdir()
    assert not _is_ray_address(str(tmp_path)) and not _is_ray_address(str(folder)), "`--ray FOLDER` is an input"


def test_a_sweep_find_is_hidden_on_the_frames_before_it():
    """Files look back: a face only the sweep saw at t=0.3 s was there on the frames since the last sweep."""
    from vcam.detection.track import TrackerSettings
    from vcam.frames import Face
    from vcam.pipeline.chunks import FrameResult
    from vcam.pipeline.workers import fill_back

    seen = Face((100.0, 100.0, 40.0, 40.0), 0.9)
    small = Face((300.0, 50.0, 12.0, 12.0), 0.5)
    doubt = Face((500.0, 300.0, 60.0, 60.0), 0.3, unverified=True)
    pending = [
        (0.1, FrameResult([seen], None, 1)),
        (0.2, FrameResult([seen], None, 2)),
        (0.25, FrameResult([], "c", 3)),
    ]
    fill_back(pending, [seen, small, doubt], 0.3, TrackerSettings(growth_per_s=1.0))
    first, second, curtained = (result for _, result in pending)
    assert [f.box for f in first.faces[:1]] == [seen.box] and len(first.faces) == 2, "the small face added once"
    added = first.faces[1].box
    assert abs(added[2] - 12 * 1.2) < 1e-6, "grown 1.2x (0.2 s back)"
    assert abs((added[0] + added[2] / 2) - 306) < 1e-6, "about its centre"
    assert abs(second.faces[1].box[2] - 12 * 1.1) < 1e-6
    assert curtained.faces == [] and curtained.curtain == "c" and first.checksum == 1

"""Shared fixtures: the small test set that ships in tests/data, and the full evaluation set in
../shared/eval (never copied into the project; tests that need it skip without it, unless
VCAM_REQUIRE_EVAL=1, as in CI)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import pytest
import pyvirtualcam

ROOT = Path(__file__).resolve().parent.parent


DATA = ROOT / "tests" / "data"
STILL = "images/intel-sv__female-and-male_025.png"
"""The shipped still the camera tests play: two people, faces 68-79 px."""
CLIP = "videos/intel-sv__eat.mkv"
"""The shipped clip: one signer, 47 frames, with per-frame face boxes."""


def eval_dir() -> Path:
    env = os.environ.get("VCAM_EVAL_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def eval_path() -> Path:
    """The full evaluation set; a test that needs it skips without it (fails in CI)."""
    path = eval_dir()
    if not (path / "manifest.json").is_file():
        message = f"needs the full evaluation set at {path} (set VCAM_EVAL_DIR)"
        if os.environ.get("VCAM_REQUIRE_EVAL") == "1":
            pytest.fail(message)
        pytest.skip(message)
    return path


@pytest.fixture(scope="session")
def sample_path() -> Path:
    """The test set that ships with the repository (tests/data/README.md)."""
    return DATA


def sample_boxes(name: str) -> list[list[float]]:
    """The reference face boxes of one shipped image."""
    files = json.loads((DATA / "manifest.json").read_text())["files"]
    return next(f["gt_boxes"] for f in files if f["file"] == name)


class RecordingBackend:
    """A pyvirtualcam backend that keeps every frame sent, as the real device would receive it."""

    frames: list = []
    times: list = []
    device_path = "recording"

    def __init__(self, *, width, height, fps, fourcc, device, **kw):
        self.width, self.height = width, height
        RecordingBackend.frames, RecordingBackend.times = [], []

    def send(self, frame):
        RecordingBackend.frames.append(frame.reshape(self.height, self.width, 3).copy())
        RecordingBackend.times.append(time.monotonic())

    def close(self):
        pass

    def device(self):
        return RecordingBackend.device_path

    def native_fmt(self):
        return None


@pytest.fixture
def recording_backend():
    pyvirtualcam.register_backend("recording", RecordingBackend)
    yield RecordingBackend
    RecordingBackend.device_path = "recording"
    from pyvirtualcam import camera

    camera.BACKENDS.pop("recording", None)


# The fault injectors live in bench/ (the soak benchmark uses them too).
sys.path.insert(0, str(ROOT / "bench"))

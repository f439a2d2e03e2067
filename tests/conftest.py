"""Shared fixtures: the evaluation data in ../shared/eval (never copied into the project)."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest
import pyvirtualcam

ROOT = Path(__file__).resolve().parent.parent


def eval_dir() -> Path:
    env = os.environ.get("VCAM_EVAL_DIR")
    return Path(env) if env else ROOT.parent / "shared" / "eval"


@pytest.fixture(scope="session")
def eval_path() -> Path:
    path = eval_dir()
    if not (path / "manifest.json").is_file():
        pytest.fail(f"evaluation data not found at {path}; set VCAM_EVAL_DIR")
    return path


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

"""Shared fixtures: the evaluation data in ../shared/eval (never copied into the project)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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

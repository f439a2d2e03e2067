"""Where the bundled files (models, demo clip, icons) live, installed or in a checkout.

A wheel carries the top-level ``assets/`` folder as ``vcam/assets``; a source
checkout (editable install, tests) uses the folder beside the package.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

MODEL_SHA256 = {
    "face_detection_short_range.tflite": "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    "face_detection_full_range_sparse.tflite": "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    "centerface.onnx": "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
}
SHORT_RANGE = "face_detection_short_range.tflite"
FULL_RANGE = "face_detection_full_range_sparse.tflite"
CENTERFACE = "centerface.onnx"
DEMO_CLIP = "demo/intel-sv__head-pose-face-detection-female-and-male.mp4"


def assets_dir() -> Path:
    """The assets folder: the installed copy first, else the checkout's."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "assets", here.parent / "assets"):
        if (candidate / "models").is_dir():
            return candidate
    raise FileNotFoundError(
        "vcam's assets folder (BlazeFace models) is missing; reinstall with `pip install .` "
        "or run `python assets/fetch_models.py`"
    )


@dataclass(frozen=True)
class ModelCheck:
    name: str
    path: Path
    ok: bool
    detail: str


def check_models() -> list[ModelCheck]:
    """Check each bundled BlazeFace model exists and has the published sha256."""
    out = []
    try:
        models = assets_dir() / "models"
    except FileNotFoundError as exc:
        return [ModelCheck(n, Path(n), False, str(exc)) for n in MODEL_SHA256]
    for name, want in MODEL_SHA256.items():
        path = models / name
        if not path.is_file():
            out.append(ModelCheck(name, path, False, "missing"))
            continue
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append(ModelCheck(name, path, got == want, "sha256 ok" if got == want else f"sha256 {got} != {want}"))
    return out


def model_path(name: str) -> Path:
    """Path of a bundled model, verified against its checksum (a corrupt model is refused)."""
    for check in check_models():
        if check.name == name:
            if not check.ok:
                raise FileNotFoundError(f"model {name}: {check.detail} ({check.path})")
            return check.path
    raise KeyError(name)

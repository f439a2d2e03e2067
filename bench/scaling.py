"""How the per-frame cost grows with the number of faces and with the frame size.

    PYTHONPATH=. python bench/scaling.py --eval-dir ../shared/eval

Faces: real faces cut from an eval image (dlib 2008_001009, two faces) pasted 1, 3, 10 and 20
times on a 1280x720 frame made from a face-free eval image, so the count is known exactly.
Sizes: a real clip (hamilton, 640x360) scaled to 480p, 720p and 1080p.
Each frame goes through the live stage (scanner with a 20 ms budget, the shipped live
configuration, then the effect) repeatedly; medians and p95 of the stage time are printed,
split into detection and hiding. Not a test: it prints figures.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2
import numpy as np

from vcam.detection.scan import Scanner, ScanSettings
from vcam.frames import Face
from vcam.pipeline import effects
from vcam.pipeline.sources import VideoFileSource

BUDGET_S = 0.020  # 0.6 of a 30 fps frame interval, as the live pipeline gives the scanner


def composite(eval_dir: Path, n: int, size=(1280, 720)) -> np.ndarray:
    background = cv2.resize(cv2.imread(str(eval_dir / "images" / "insightface__view.jpg")), size)
    source = cv2.imread(str(eval_dir / "images" / "dlib__2008_001009.jpg"))
    crops = [source[50:180, 120:250], source[190:330, 100:240]]  # the two faces with hair and chin
    rng = np.random.default_rng(n)
    cols = max(1, int(np.ceil(np.sqrt(n * 16 / 9))))
    rows = int(np.ceil(n / cols))
    cell_w, cell_h = size[0] // cols, size[1] // rows
    for i in range(n):
        crop = crops[i % 2]
        scale = min(cell_w / crop.shape[1], cell_h / crop.shape[0], 1.6) * rng.uniform(0.7, 0.95)
        face = cv2.resize(crop, None, fx=scale, fy=scale)
        r, c = divmod(i, cols)
        y, x = r * cell_h + (cell_h - face.shape[0]) // 2, c * cell_w + (cell_w - face.shape[1]) // 2
        background[y : y + face.shape[0], x : x + face.shape[1]] = face
    return background


def measure(scanner: Scanner, frames: list[np.ndarray], repeats: int) -> tuple[list[float], list[float], int]:
    detect, hide, faces = [], [], 0
    effect = effects.EffectSettings()
    tracked: list[Face] = []
    for k in range(repeats):
        image = frames[k % len(frames)]
        t0 = time.perf_counter()
        result = scanner.scan(image, k / 30, tracked, BUDGET_S)
        t1 = time.perf_counter()
        effects.apply(image, result.faces, effect)
        t2 = time.perf_counter()
        tracked, faces = result.faces, len(result.faces)
        detect.append(t1 - t0)
        hide.append(t2 - t1)
    return detect, hide, faces


def row(label: str, detect: list[float], hide: list[float], extra: str) -> str:
    total = sorted(d + h for d, h in zip(detect, hide, strict=True))
    p95 = total[int(0.95 * (len(total) - 1))]
    return (
        f"| {label} | {extra} | {1000 * statistics.median(detect):.1f} | {1000 * statistics.median(hide):.2f} | "
        f"{1000 * statistics.median(total):.1f} | {1000 * p95:.1f} |"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    p.add_argument("--repeats", type=int, default=150)
    args = p.parse_args()
    scanner = Scanner(ScanSettings())
    scanner.warm_up()
    print(f"live stage cost (scan budget {BUDGET_S * 1000:.0f} ms, default live settings), cv2 {cv2.__version__}\n")
    print("| frame | faces placed / found | detect ms (median) | hide ms (median) | stage ms (median) | stage p95 ms |")
    print("|---|---|---|---|---|---|")
    for n in (1, 3, 10, 20):
        image = composite(args.eval_dir, n)
        detect, hide, found = measure(scanner, [image], args.repeats)
        print(row("1280x720 composite", detect, hide, f"{n} / {found}"), flush=True)
    clip = VideoFileSource(args.eval_dir / "videos" / "facerec__short_hamilton_clip.mp4")
    frames = []
    while (f := clip.read()) is not None and len(frames) < 150:
        frames.append(f.image)
    clip.close()
    for w, h in ((854, 480), (1280, 720), (1920, 1080)):
        scaled = [cv2.resize(f, (w, h)) for f in frames]
        detect, hide, _ = measure(scanner, scaled, args.repeats)
        print(row(f"{w}x{h} hamilton", detect, hide, "1-5 (clip)"), flush=True)
    scanner.close()


if __name__ == "__main__":
    main()

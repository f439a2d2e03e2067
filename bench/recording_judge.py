"""The outside measurement: `vcam run --input CLIP --output rec.mp4` as a user runs it, the recording judged.

    PYTHONPATH=. python bench/recording_judge.py --eval-dir ../shared/eval --clip mosaic --seconds 8 [--busy]

Renders a clip of the evaluation set (`--clip NAME` fitted into 1080p, or `mosaic`: four clips tiled into
one 1080p frame) as an MP4 with its reference boxes, runs the real command on it (`vcam run --no-tray
--input clip.mp4 --output rec.mp4 --seconds S`, its own process, optionally with another process keeping one
core busy), and judges the recording frame by frame: each recorded frame is matched to the camera frame it
shows (the closest at 1/8 size), then every reference face of that frame is scored as `vcam eval` scores it
(readable: detail correlation >= 0.5). A frame that matches no camera frame closely is a curtain; one that
shows the same camera frame as the frame before it is stale (repeated).

This is how the issue measured the camera (its clip is not in the evaluation set); the recording's own
encoder runs in the camera's process, which makes it a harder test than `bench/live_leaks.py`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np
from clips import Recording, fitted, mosaic
from faults import busy_core

from vcam.evaluation.evaluate import video_cases
from vcam.evaluation.metrics import detail_correlation

MOSAIC = ("classroom", "hamilton", "female-and-male", "bird")
SIZE = (1920, 1080)
SMALL = 8
CURTAIN_DIFF = 25.0
"""Mean grey difference at 1/8 size above which a recorded frame shows no camera frame (the curtain's dark
blocks); a hidden face changes a few percent of the picture by far less on average."""


def render(recording: Recording, path: Path) -> None:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), recording.fps, recording.size)
    for k in range(len(recording.jpegs)):
        writer.write(recording.image(k))
    writer.release()


def small(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image[::SMALL, ::SMALL], cv2.COLOR_BGR2GRAY).astype(np.float32)


def frames(path: Path):
    cap = cv2.VideoCapture(str(path))
    while True:
        ok, image = cap.read()
        if not ok:
            break
        yield image
    cap.release()


def judge(clip: Path, boxes: list[list[list[float]]], recording: Path) -> dict:
    sources = [small(f) for f in frames(clip)]
    stack = np.stack(sources)
    matches: list[int | None] = []
    crops: dict[int, list[tuple[int, list[float], np.ndarray]]] = {}
    for i, out in enumerate(frames(recording)):
        diffs = np.abs(stack - small(out)).mean(axis=(1, 2))
        k = int(diffs.argmin())
        if diffs[k] > CURTAIN_DIFF:
            matches.append(None)
            continue
        matches.append(k)
        for box in boxes[k]:
            crops.setdefault(k, []).append((i, box, out))
    readable = []
    for k, original in enumerate(frames(clip)):
        for i, box, out in crops.get(k, []):
            corr = detail_correlation(original, out, box)
            if corr >= 0.5:
                readable.append((i, k, [round(v) for v in box], round(corr, 2)))
    shown = [m for m in matches if m is not None]
    stale = sum(1 for a, b in zip(matches, matches[1:], strict=False) if b is not None and a == b)
    return {
        "recorded": len(matches),
        "curtained": matches.count(None),
        "stale": stale,
        "current": len(shown) - stale,
        "face_frames": sum(len(boxes[m]) for m in shown),
        "readable": len(readable),
        "longest": _longest(sorted({i for i, *_ in readable})),
        "leaks": readable,
    }


def _longest(indices: list[int]) -> int:
    best = run = 0
    for a, b in zip([None, *indices], indices, strict=False):
        run = run + 1 if a is not None and b == a + 1 else 1
        best = max(best, run)
    return best


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    p.add_argument("--clip", default="mosaic", help="a clip name part, or mosaic")
    p.add_argument("--seconds", type=float, default=8.0)
    p.add_argument("--busy", action="store_true", help="another process keeps one core busy")
    p.add_argument("--verbose", action="store_true", help="list every readable face-frame")
    args = p.parse_args()
    if args.clip == "mosaic":
        picked = [next(c for c in video_cases(args.eval_dir) if n in c[0].name) for n in MOSAIC]
        rec = mosaic(picked, SIZE, args.seconds)
    else:
        path, gt = video_cases(args.eval_dir, only=[args.clip])[0]
        rec = fitted(path, gt, SIZE, args.seconds)
    with tempfile.TemporaryDirectory() as tmp:
        clip, out = Path(tmp) / "clip.mp4", Path(tmp) / "rec.mp4"
        render(rec, clip)
        (Path(tmp) / "boxes.json").write_text(json.dumps(rec.boxes))
        with busy_core() if args.busy else contextlib.nullcontext():
            run = subprocess.run(
                [
                    "vcam",
                    "run",
                    "--no-tray",
                    "--input",
                    str(clip),
                    "--output",
                    str(out),
                    "--fps",
                    str(rec.fps),
                    "--width",
                    str(rec.size[0]),
                    "--height",
                    str(rec.size[1]),
                    "--seconds",
                    str(args.seconds),
                    "--stats",
                ],
                capture_output=True,
                text=True,
                timeout=120 + 4 * args.seconds,
            )
        if run.returncode != 0 or not out.exists():
            sys.exit(f"vcam run failed ({run.returncode}): {run.stderr[-2000:]}")
        result = judge(clip, rec.boxes, out)
    load = "one core busy" if args.busy else "idle"
    print(
        f"{rec.name} at {rec.size[0]}x{rec.size[1]}, {load}: recorded {result['recorded']} frames "
        f"({args.seconds * rec.fps:.0f} camera frames), current {result['current']}, stale {result['stale']}, "
        f"curtained {result['curtained']}; readable face-frames {result['readable']} of {result['face_frames']} "
        f"(longest run {result['longest']})"
    )
    print("last stats line:", [line for line in run.stderr.splitlines() if "fps" in line][-1:])
    if args.verbose:
        for leak in result["leaks"]:
            print("  recorded frame {} shows camera frame {}: face {}, detail {:.2f}".format(*leak))


if __name__ == "__main__":
    main()

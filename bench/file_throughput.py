"""File-mode throughput against deface, same machine, same run, same frames.

    PYTHONPATH=. python bench/file_throughput.py ../shared/eval/videos/intel-sv__eat.mkv --scale 1280x720

Every method gets the same decoded frames (decoding is not timed) and runs as it would on a file:
ours as `vcam anonymize` (every pass, CenterFace at native size), deface 1.5's own pipeline at its
default (native size) and at `--scale 640x360`. Prints frames/s, median and p95 ms per frame.
Recall for the same methods is in docs/history/EVALUATION-2026-11.md (`vcam eval`, same configs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import cv2

from vcam.evaluation.evaluate import make_method
from vcam.evaluation.methods import Unavailable
from vcam.frames import Frame
from vcam.pipeline import effects
from vcam.pipeline.sources import VideoFileSource


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("clip", type=Path)
    p.add_argument("--scale", default="1280x720")
    p.add_argument("--configs", default="default,near,far,haar,deface,deface 640x360")
    args = p.parse_args()
    size = tuple(int(v) for v in args.scale.split("x"))
    source = VideoFileSource(args.clip)
    frames = []
    while (f := source.read()) is not None:
        frames.append(cv2.resize(f.image, size))
    source.close()
    print(f"{args.clip.name}: {len(frames)} frames at {size[0]}x{size[1]}, cv2 {cv2.__version__}\n")
    print("| method | frames/s | ms/frame median | p95 |")
    print("|---|---|---|---|")
    for name in args.configs.split(","):
        try:
            method = make_method(name, effects.EffectSettings(), hold_s=0.5)
        except Unavailable as exc:
            print(f"| {name} | not installed: {exc} | | |")
            continue
        method.run(Frame(frames[0], 0.0, 0))  # load the models outside the timing
        method.reset()
        times = []
        start = time.perf_counter()
        for i, image in enumerate(frames):
            t0 = time.perf_counter()
            method.run(Frame(image, i / 30, i))
            times.append(time.perf_counter() - t0)
        total = time.perf_counter() - start
        method.close()
        times.sort()
        print(
            f"| {name} | {len(frames) / total:.1f} | {1000 * statistics.median(times):.0f} | "
            f"{1000 * times[int(0.95 * (len(times) - 1))]:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

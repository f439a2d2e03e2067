"""What a smaller head ellipse would buy and cost: hidden area against faces left uncovered.

    PYTHONPATH=. python bench/shape_tradeoff.py --eval-dir ../shared/eval [--variants "0.66,0.74,0.03 0.6,0.68,0.03"]

`vcam anonymize`'s decisions (file tiers) are made once for the eval images and clips; each variant then
only redraws the head shapes with other semi-axes (across, brow to chin, in detector-box widths and
heights) and upward shift, and is scored as `vcam eval` scores the shipped one: the median of hidden
area over the faces' area on the images with ground truth, faces hidden (>= 90% of the box) by size,
face-frames of the clips under 90% covered (and how many of those keep readable detail), frames with
false hides. The detectors and the tracker do not depend on the shape, so the decisions are the same
for every variant. Not a test: it prints figures (docs/EVALUATION.md, "Hidden area: what 1.8x costs").
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

import numpy as np

from vcam.evaluation.evaluate import HIDDEN_SHARE, frame_boxes, image_cases, make_method, video_cases
from vcam.evaluation.metrics import (
    FALSE_HIDE_FRAME,
    coverage,
    detail_correlation,
    false_hide_share,
    hidden_area_ratio,
)
from vcam.frames import Face, Frame
from vcam.pipeline import effects
from vcam.pipeline.sources import VideoFileSource, read_image

SHIPPED = (effects.HEAD_WIDTH, effects.HEAD_HEIGHT, effects.HEAD_UP)
DEFAULT_VARIANTS = (SHIPPED, (0.62, 0.70, 0.03), (0.60, 0.68, 0.03), (0.56, 0.64, 0.03), (0.52, 0.60, 0.05))


@dataclass
class Decided:
    """One image or clip frame: where it came from and the faces `vcam anonymize` decided to hide."""

    path: Path
    index: int
    faces: list[Face]
    truth: list[list[float]]
    ignored: list[list[float]]


def decide(eval_dir: Path) -> tuple[list[Decided], list[Decided]]:
    method = make_method("files", effects.EffectSettings(), hold_s=0.5)
    images = []
    for case in image_cases(eval_dir):
        method.reset()
        out = method.run(Frame(read_image(case.path), 0.0, 0))
        images.append(Decided(case.path, 0, out.faces, case.boxes, case.ignored))
    frames = []
    for path, gt in video_cases(eval_dir):
        boxes, ignored = frame_boxes(gt), frame_boxes({"boxes": gt.get("ignore_boxes", [])})
        method.reset()
        method.prepare(path)
        source = VideoFileSource(path)
        index = 0
        while (read := source.read()) is not None:
            out = method.run(Frame(read.image, index / source.fps, index))
            frames.append(Decided(path, index, out.faces, boxes.get(index, []), ignored.get(index, [])))
            index += 1
        source.close()
    method.close()
    return images, frames


def score(images: list[Decided], frames: list[Decided]) -> str:
    """One table row for the head shape now set in `effects`."""
    setting = effects.EffectSettings()
    ratios, by_size = [], {"faces >= 24 px": [0, 0], "16-32 px": [0, 0], "< 16 px": [0, 0]}
    for item in images:
        image = read_image(item.path)
        mask = effects.hidden_mask(item.faces, image.shape, setting)
        if item.truth:
            ratios.append(hidden_area_ratio(mask, item.truth + item.ignored))
        for box in item.truth:
            hidden = coverage(box, mask) >= HIDDEN_SHARE
            for name, inside in (
                ("faces >= 24 px", box[2] >= 24),
                ("16-32 px", 16 <= box[2] < 32),
                ("< 16 px", box[2] < 16),
            ):
                if inside:
                    by_size[name][0] += hidden
                    by_size[name][1] += 1
    leaked = readable = false_frames = 0
    by_path: dict[Path, list[Decided]] = {}
    for item in frames:
        by_path.setdefault(item.path, []).append(item)
    for path, items in by_path.items():
        source = VideoFileSource(path)
        for item in items:
            read = source.read()
            if read is None:
                break
            mask = effects.hidden_mask(item.faces, read.image.shape, setting)
            false_frames += false_hide_share(mask, item.truth + item.ignored) > FALSE_HIDE_FRAME
            uncovered = [box for box in item.truth if coverage(box, mask) < HIDDEN_SHARE]
            if uncovered:
                output = effects.apply(read.image, item.faces, setting)
                leaked += len(uncovered)
                readable += sum(detail_correlation(read.image, output, box) >= 0.5 for box in uncovered)
        source.close()
    sizes = " | ".join(f"{hit}/{total}" for hit, total in by_size.values())
    return (
        f"| {effects.HEAD_WIDTH:.2f} x {effects.HEAD_HEIGHT:.2f}, up {effects.HEAD_UP:.2f} | "
        f"{np.median(ratios):.2f}x | {sizes} | {leaked} ({readable}) | {false_frames}/{len(frames)} |"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument(
        "--variants",
        help='space-separated "width,height,up" semi-axes and shift (default: the shipped shape and four smaller)',
    )
    args = parser.parse_args(argv)
    variants = (
        [tuple(float(v) for v in item.split(",")) for item in args.variants.split()]
        if args.variants
        else DEFAULT_VARIANTS
    )
    images, frames = decide(args.eval_dir)
    print(
        "| head ellipse (semi-axes in box widths x heights) | hidden area / face area (images, median) | "
        "faces >= 24 px hidden | 16-32 px | < 16 px | leaked face-frames (readable) | frames with false hides |"
    )
    print("|---|---|---|---|---|---|---|")
    for width, height, up in variants:
        with (
            mock.patch.object(effects, "HEAD_WIDTH", width),
            mock.patch.object(effects, "HEAD_HEIGHT", height),
            mock.patch.object(effects, "HEAD_UP", up),
        ):
            print(score(images, frames), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

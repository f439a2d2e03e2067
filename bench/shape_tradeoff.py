"""What a smaller head ellipse would buy and cost: hidden area against faces left uncovered.

    PYTHONPATH=. python bench/shape_tradeoff.py --eval-dir ../shared/eval [--variants "0.66,0.74,0.03 0.6,0.68,0.03"]

`vcam anonymize`'s decisions (file tiers) are made once for the eval images and clips; each variant then
only redraws the head shapes with other semi-axes (across, brow to chin, in detector-box widths and
heights) and upward shift, and is scored by `vcam eval`'s own `eval_images` and `eval_videos`: the median
of hidden area over the faces' area on the images with ground truth, faces hidden (>= 90% of the box) by
size, face-frames of the clips under 90% covered (and how many of those keep readable detail), frames
with false hides. The detectors and the tracker do not depend on the shape, so the decisions are the
same for every variant. Not a test: it prints figures (docs/history/EVALUATION-2026-11.md, "Hidden area:
what 1.8x costs").
"""

from __future__ import annotations

import argparse
from pathlib import Path
from unittest import mock

import numpy as np

from vcam.detection.track import TrackerSettings
from vcam.evaluation.evaluate import eval_images, eval_videos, image_cases, make_method, video_cases
from vcam.evaluation.methods import Method, MethodOutput
from vcam.evaluation.metrics import Tally
from vcam.frames import Face, Frame
from vcam.pipeline import effects

SHIPPED = (effects.HEAD_WIDTH, effects.HEAD_HEIGHT, effects.HEAD_UP)
DEFAULT_VARIANTS = (SHIPPED, (0.62, 0.70, 0.03), (0.60, 0.68, 0.03), (0.56, 0.64, 0.03), (0.52, 0.60, 0.05))


class Replay:
    """The shipped method's decisions, recorded on the first pass over the images and clips, then drawn
    again with the head shape `effects` has at the time (the evaluation's Method contract)."""

    name = "replay"

    def __init__(self, method: Method) -> None:
        self._method = method
        self.recording = True
        self._decided: dict[tuple[str, int], list[Face]] = {}
        self._images = 0
        self._source = ""

    def start_pass(self) -> None:
        self._images = 0

    def reset(self) -> None:
        """Before each image (and each clip, whose `prepare` then names it)."""
        self._source = f"image {self._images}"
        self._images += 1
        if self.recording:
            self._method.reset()

    def prepare(self, path: Path) -> None:
        self._source = str(path)
        if self.recording:
            self._method.prepare(path)  # type: ignore[attr-defined]

    def run(self, frame: Frame) -> MethodOutput:
        key = (self._source, frame.index)
        if self.recording:
            self._decided[key] = self._method.run(frame).faces
        faces = self._decided[key]
        setting = effects.EffectSettings()
        mask = effects.hidden_mask(faces, frame.image.shape, setting)
        return MethodOutput(faces, mask, effects.apply(frame.image, faces, setting))

    def close(self) -> None:
        self._method.close()


def row(images, videos) -> str:
    """One table row from `vcam eval`'s reports for the head shape now set in `effects`."""
    sizes = [images.at_least_24, images.by_bucket.get("16-32", Tally()), images.by_bucket.get("0-16", Tally())]
    false_frames = sum(hits for hits, _ in videos.false_hide_frames.values())
    frames = sum(total for _, total in videos.false_hide_frames.values())
    return (
        f"| {effects.HEAD_WIDTH:.2f} x {effects.HEAD_HEIGHT:.2f}, up {effects.HEAD_UP:.2f} | "
        f"{np.nanmedian(images.area_ratios):.2f}x | " + " | ".join(f"{t.hidden}/{t.total}" for t in sizes) + " | "
        f"{videos.leaked} ({videos.visible}) | {false_frames}/{frames} |"
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
    images, clips = image_cases(args.eval_dir), video_cases(args.eval_dir)
    replay = Replay(make_method("files", effects.EffectSettings(), hold_s=TrackerSettings().hold_s))
    eval_images(images, replay)
    eval_videos(clips, replay)
    replay.recording = False
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
            replay.start_pass()
            print(row(eval_images(images, replay), eval_videos(clips, replay)), flush=True)
    replay.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

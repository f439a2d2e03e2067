"""Privacy in hard conditions: the clips and images of `../shared/eval` as a real camera in a real room makes them.

    PYTHONPATH=. python bench/conditions.py --eval-dir ../shared/eval \
        --conditions normal,dim,dark,motion,lowq,backlight --configs files,deface [--pictures docs/conditions]

Each condition is our own model of what a camera does (`CONDITIONS`; the parameters are in `Condition`), applied
to every frame and image with the reference boxes unchanged, seeded per file so runs repeat. The degraded copies
are written losslessly (FFV1) to a temporary folder and deleted afterwards. Each method then runs in file mode
(`vcam eval`'s `eval_videos` and `eval_images`), and per condition it prints readable face-frames (a face under
90% covered whose detail still correlates >= 0.5 with the degraded original), leaked face-frames, the longest
run, and the share of image faces >= 24 px hidden. `--pictures DIR` saves one frame per condition before and
after (vcam), for the docs.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.evaluation.evaluate import (
    ImageCase,
    eval_images,
    eval_videos,
    frame_boxes,
    image_cases,
    make_method,
    play_clip,
    video_cases,
)
from vcam.evaluation.methods import Unavailable
from vcam.pipeline import effects
from vcam.pipeline.sources import VideoFileSource, read_image


@dataclass(frozen=True)
class Condition:
    """A camera's view of a room. Light is scaled in linear light (sRGB decoded) and the sensor's noise added
    there, as a camera at the top of its gain shows it: dark and noisy."""

    light: float = 1.0
    """Share of the light of the original scene (a dim room: about a third)."""
    noise: float = 0.0
    """Sensor noise in 8-bit linear units (shot noise grows with the signal: `noise` * sqrt)."""
    blur_px: float = 0.0
    """Motion blur length as a share of the frame width x 1000 (1/30 s exposure of a moving head)."""
    quality: int = 0
    """JPEG quality after halving the resolution (a cheap camera or a congested link); 0 = not applied."""
    window: float = 0.0
    """A bright window behind the person: this share of the frame's width at one side, blown out, and the
    exposure metered on it (the rest darkened by `light`)."""


CONDITIONS: dict[str, Condition] = {
    "normal": Condition(),
    "dim": Condition(light=1 / 3, noise=2.0),
    "dark": Condition(light=1 / 20, noise=2.5),
    "motion": Condition(blur_px=25.0),
    "lowq": Condition(quality=15),
    "backlight": Condition(light=0.45, window=0.3),
}


def _linear(image: np.ndarray) -> np.ndarray:
    x = image.astype(np.float32) / 255.0
    return np.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def _srgb(linear: np.ndarray) -> np.ndarray:
    x = np.clip(linear, 0.0, 1.0)
    out = np.where(x <= 0.0031308, x * 12.92, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return np.clip(out * 255.0 + 0.5, 0, 255).astype(np.uint8)


def degrade(
    image: np.ndarray, c: Condition, rng: np.random.Generator, angle: float, side: int, faces: list | None = None
) -> np.ndarray:
    """`image` (BGR) as the camera of condition `c` sees it; `angle` (motion) and `side` (window) are per file.
    The window is behind the people: it never covers a reference face (`faces`, grown 1.5x)."""
    out = image
    h, w = image.shape[:2]
    if c.blur_px:
        length = max(3, int(round(c.blur_px * w / 1000)))
        kernel = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0
        rot = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), math.degrees(angle), 1.0)
        kernel = cv2.warpAffine(kernel, rot, (length, length))
        out = cv2.filter2D(out, -1, kernel / kernel.sum(), borderType=cv2.BORDER_REPLICATE)
    if c.light != 1.0 or c.noise or c.window:
        lin = _linear(out) * c.light
        if c.window:
            ramp = np.clip((np.arange(w, dtype=np.float32) / w - (1 - c.window)) / 0.08, 0, 1)
            ramp = np.repeat((ramp if side else ramp[::-1])[None, :], h, axis=0)
            for x, y, bw, bh in faces or []:
                x0, y0 = int(max(0, x - bw / 4)), int(max(0, y - bh / 4))
                ramp[y0 : int(y + bh * 1.25), x0 : int(x + bw * 1.25)] = 0.0
            ramp = cv2.GaussianBlur(ramp, (0, 0), max(2.0, w / 200))[..., None]
            lin = lin * (1 - ramp) + 1.5 * ramp
        if c.noise:
            sigma = c.noise / 255.0 * np.sqrt(np.maximum(lin, 1e-4) * 255.0 / 16.0 + 1.0)
            lin = lin + rng.standard_normal(lin.shape, dtype=np.float32) * sigma
        out = _srgb(lin)
    if c.quality:
        small = cv2.resize(out, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, c.quality])
        out = cv2.resize(cv2.imdecode(data, cv2.IMREAD_COLOR), (w, h), interpolation=cv2.INTER_LINEAR)
    return out


def _seeded(name: str, condition: str) -> tuple[np.random.Generator, float, int]:
    seed = zlib.crc32(f"{condition}:{name}".encode())
    rng = np.random.default_rng(seed)
    return rng, float(rng.uniform(0, math.pi)), int(rng.integers(0, 2))


def degrade_clip(src: Path, dst: Path, gt: dict, name: str, condition: str) -> None:
    rng, angle, side = _seeded(name, condition)
    source = VideoFileSource(src)
    boxes = frame_boxes(gt)
    writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"FFV1"), source.fps, source.size)
    if not writer.isOpened():
        raise SystemExit(f"conditions: cannot write {dst} with FFV1 (OpenCV built without FFmpeg?)")
    while (frame := source.read()) is not None:
        writer.write(degrade(frame.image, CONDITIONS[condition], rng, angle, side, boxes.get(frame.index, [])))
    writer.release()
    source.close()


def degraded_set(eval_dir: Path, folder: Path, condition: str, only: list[str] | None, images: bool):
    """The clips (and images) of `eval_dir` under `condition`, written into `folder`; as `vcam eval`'s cases."""
    clips = []
    for path, gt in video_cases(eval_dir, only=only):
        dst = folder / (path.stem + ".mkv")
        degrade_clip(path, dst, gt, path.name, condition)
        clips.append((dst, gt))
    cases = []
    for case in image_cases(eval_dir) if images else []:
        rng, angle, side = _seeded(case.path.name, condition)
        dst = folder / (case.path.stem + ".png")
        image = degrade(read_image(case.path), CONDITIONS[condition], rng, angle, side, case.boxes + case.ignored)
        cv2.imwrite(str(dst), image)
        cases.append(ImageCase(dst, case.boxes, case.ignored))
    return clips, cases


def save_picture(clips, condition: str, out_dir: Path) -> None:
    """One frame of the clip with the most faces under `condition`, before and after `vcam anonymize`'s method."""
    path, gt = max(clips, key=lambda c: len(c[1]["boxes"]))
    index = max(frame_boxes(gt).items(), key=lambda kv: len(kv[1]))[0]
    method = make_method("files", effects.EffectSettings(), hold_s=0.5)
    try:
        frame, out = next((frame, out) for frame, out in play_clip(method, path) if frame.index == index)
    finally:
        method.close()
    side = np.hstack([frame.image, np.full((frame.image.shape[0], 8, 3), 255, np.uint8), out.image])
    out_dir.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out_dir / f"{condition}.png"), side)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--configs", default="files,deface")
    parser.add_argument("--videos", default=None, help="comma list of clip name parts (default: all)")
    parser.add_argument("--no-images", action="store_true")
    parser.add_argument("--pictures", type=Path, help="save a before/after picture per condition here")
    args = parser.parse_args(argv)
    names = [c for c in args.conditions.split(",") if c]
    unknown = [c for c in names if c not in CONDITIONS]
    if unknown:
        print(f"conditions: unknown {unknown}; known: {', '.join(CONDITIONS)}", file=sys.stderr)
        return 2
    configs = [c for c in args.configs.split(",") if c]
    only = args.videos.split(",") if args.videos else None
    rows = []
    for condition in names:
        with tempfile.TemporaryDirectory(prefix=f"vcam-{condition}-") as tmp:
            clips, cases = degraded_set(args.eval_dir, Path(tmp), condition, only, not args.no_images)
            if args.pictures:
                save_picture(clips, condition, args.pictures)
            for config in configs:
                try:
                    method = make_method(config, effects.EffectSettings(), hold_s=0.5)
                except Unavailable as exc:
                    print(f"<!-- {config}: not measured: {exc} -->", flush=True)
                    continue
                try:
                    videos = eval_videos(clips, method)
                    images = eval_images(cases, method) if cases else None
                finally:
                    method.close()
                worst = max(videos.per_clip.items(), key=lambda kv: kv[1][0])
                rows.append(
                    f"| {condition} | {config} | {videos.visible} | {videos.leaked}/{videos.face_frames} | "
                    f"{max(videos.longest_run.values(), default=0)} | "
                    + (f"{images.at_least_24.share:.1%} | " if images else "- | ")
                    + f"{Path(worst[0]).stem.split('__')[-1]} {worst[1][0]} |"
                )
                print(rows[-1], file=sys.stderr, flush=True)
    print(f"Hard conditions, file mode, {len(clips)} clips" + (f" and {len(cases)} images" if cases else "") + "\n")
    print(
        "| condition | method | readable face-frames | leaked face-frames | longest run | image faces >= 24 px hidden "
        "| most leaks |"
    )
    print("|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())

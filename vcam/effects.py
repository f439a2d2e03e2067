"""How a face is hidden: blur, pixelate, solid fill or a feathered elliptical mask.

Every effect is a pure function of ``(image, faces, style, intensity)``: it
writes only inside each face's hidden area (the box grown by `margin`,
clipped to the frame), and its strength scales with the face so a large face
is no easier to recognise than a small one. Intensity 0 is still
anonymizing: blur at half the face width and 8 pixel blocks across a face
are where a face recognizer mostly stops matching (see docs/EVALUATION.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from vcam.frames import Face, clip_box, expand_box

Style = Literal["blur", "pixelate", "solid", "mask"]
STYLES: tuple[Style, ...] = ("blur", "pixelate", "solid", "mask")
SOLID_BGR = (48, 48, 48)


@dataclass(frozen=True, slots=True)
class EffectSettings:
    style: Style = "blur"
    intensity: int = 70
    """0-100; 0 is the weakest setting that still hides a face, 100 leaves only a smudge."""
    margin: float = 1.45
    """Hidden area = detector box grown by this factor (and more toward hairline and chin)."""


def hidden_mask(faces: list[Face], shape: tuple[int, ...], settings: EffectSettings) -> np.ndarray:
    """Boolean HxW mask of the pixels the effect replaces (for the mask style: the solid core of the ellipse)."""
    mask = np.zeros(shape[:2], np.uint8)
    height, width = shape[:2]
    for face in faces:
        grown = expand_box(face.box, settings.margin)
        region = clip_box(grown, width, height)
        if region is None:
            continue
        x0, y0, x1, y1 = region
        if settings.style == "mask":
            mask[y0:y1, x0:x1] |= (_ellipse_alpha(region, grown)[..., 0] >= 1.0).astype(np.uint8)
        else:
            mask[y0:y1, x0:x1] = 1
    return mask.astype(bool)


def affected_mask(faces: list[Face], shape: tuple[int, ...], margin: float) -> np.ndarray:
    """Boolean HxW mask of every pixel any effect may write (the grown, clipped boxes); all else is untouched."""
    mask = np.zeros(shape[:2], bool)
    height, width = shape[:2]
    for face in faces:
        region = clip_box(expand_box(face.box, margin), width, height)
        if region is not None:
            x0, y0, x1, y1 = region
            mask[y0:y1, x0:x1] = True
    return mask


def apply(image: np.ndarray, faces: list[Face], settings: EffectSettings) -> np.ndarray:
    """Return a copy of `image` with every face hidden in `settings.style`."""
    out = image.copy()
    height, width = image.shape[:2]
    level = max(0, min(100, int(settings.intensity))) / 100.0
    for face in faces:
        grown = expand_box(face.box, settings.margin)
        region = clip_box(grown, width, height)
        if region is None:
            continue
        size = max(grown[2], grown[3])
        if settings.style == "blur":
            _blur(out, region, size, level)
        elif settings.style == "pixelate":
            _pixelate(out, region, size, level)
        elif settings.style == "solid":
            x0, y0, x1, y1 = region
            out[y0:y1, x0:x1] = SOLID_BGR
        elif settings.style == "mask":
            _mask(out, region, grown, size, level)
        else:
            raise ValueError(f"unknown style {settings.style!r}; choose one of {', '.join(STYLES)}")
    return out


def _odd(n: float) -> int:
    k = max(3, int(n))
    return k if k % 2 else k + 1


def _blur_patch(patch: np.ndarray, size: float, level: float) -> np.ndarray:
    """Blur that cannot be undone: average away detail at 1/2 (intensity 0) to the whole (100) face size.

    Downscale first, so the cost stays under a millisecond for any face size.
    """
    kernel_frac = 0.5 + 0.5 * level
    h, w = patch.shape[:2]
    small_w = max(1, int(round(w * 12 / max(size, 1))))
    small_h = max(1, int(round(h * 12 / max(size, 1))))
    small = cv2.resize(patch, (small_w, small_h), interpolation=cv2.INTER_AREA)
    k = _odd(12 * kernel_frac)
    small = cv2.stackBlur(small, (k, k))
    small = cv2.stackBlur(small, (k, k))
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)


def _blur(out: np.ndarray, region, size: float, level: float) -> None:
    x0, y0, x1, y1 = region
    out[y0:y1, x0:x1] = _blur_patch(out[y0:y1, x0:x1], size, level)


def _pixelate(out: np.ndarray, region, size: float, level: float) -> None:
    """Blocks of 1/8 (intensity 0) to 1/4 (100) of the face: 8 blocks re-identify ~12% in our measurements."""
    x0, y0, x1, y1 = region
    blocks_across = 8 - 4 * level
    block = max(2.0, size / blocks_across)
    patch = out[y0:y1, x0:x1]
    h, w = patch.shape[:2]
    small = cv2.resize(patch, (max(1, round(w / block)), max(1, round(h / block))), interpolation=cv2.INTER_AREA)
    out[y0:y1, x0:x1] = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)


def _ellipse_alpha(region, grown) -> np.ndarray:
    """HxWx1 alpha of the mask style: 1 inside an ellipse 15% wider than the grown box, feathered to 0 by 1.2x."""
    x0, y0, x1, y1 = region
    x, y, w, h = grown
    cx, cy, ax, ay = x + w / 2, y + h / 2, max(w, 1) / 2 * 1.15, max(h, 1) / 2 * 1.15
    yy, xx = np.ogrid[y0:y1, x0:x1]
    r = np.sqrt(((xx + 0.5 - cx) / ax) ** 2 + ((yy + 0.5 - cy) / ay) ** 2)
    return np.clip((1.2 - r) / 0.2, 0.0, 1.0)[..., None].astype(np.float32)


def _mask(out: np.ndarray, region, grown, size: float, level: float) -> None:
    """Blurred face under an elliptical alpha: solid inside, feathered to zero at the region's border."""
    x0, y0, x1, y1 = region
    patch = out[y0:y1, x0:x1]
    alpha = _ellipse_alpha(region, grown)
    hidden = _blur_patch(patch, size, level).astype(np.float32)
    out[y0:y1, x0:x1] = (hidden * alpha + patch.astype(np.float32) * (1 - alpha) + 0.5).astype(np.uint8)

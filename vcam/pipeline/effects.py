"""How a face is hidden: blur, pixelate, solid fill, a softer blurred mask, a drawn emoji face or an avatar
that shows the face's expression (`vcam.pipeline.avatar`), all over one head shape.

Every effect is a pure function of ``(image, faces, style, intensity)``: it
writes only inside each face's head shape (an ellipse over the head, turned
with the eye line, with a soft edge; the box grown by `margin` where the box is
a guess), and its strength scales with the face so a large face is no easier
to recognise than a small one. Intensity 0 is still
anonymizing: blur at half the face width and 8 pixel blocks across a face
are where a face recognizer mostly stops matching (see docs/history/EVALUATION-2026-11.md).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Literal

import cv2
import numpy as np

from vcam.frames import Face, clip_box, expand_box
from vcam.pipeline import avatar
from vcam.pipeline.head_outline import mesh_outline

Style = Literal["blur", "pixelate", "solid", "mask", "emoji", "avatar"]
STYLES: tuple[Style, ...] = ("blur", "pixelate", "solid", "mask", "emoji", "avatar")
MESH_STYLES: frozenset[str] = frozenset({"avatar"})
"""Styles that draw from each face's mesh (`vcam.pipeline.meshing` runs for these whatever `mesh_outline` says)."""
DRAWN: frozenset[str] = frozenset({"emoji", "avatar"})
"""Styles drawn on the head's ellipse: where a mesh outline exists they cover the ellipse and the outline."""
SOLID_BGR = (48, 48, 48)
EMOJI_BGR = (40, 200, 250)
"""The emoji style's face: an opaque yellow like solid's grey, with eyes and a smile drawn over it."""
EMOJI_INK = (30, 40, 60)


@dataclass(frozen=True, slots=True)
class EffectSettings:
    style: Style = "blur"
    intensity: int = 70
    """0-100; 0 is the weakest setting that still hides a face, 100 leaves only a smudge."""
    margin: float = 1.45
    """Hidden area = detector box grown by this factor (and more toward hairline and chin)."""
    mesh_outline: bool = True
    """Where a face has a confident mesh, hide the head's outline from it instead of the box's ellipse."""


HEAD_WIDTH = 0.66
HEAD_HEIGHT = 0.74
HEAD_UP = 0.03
"""The head ellipse's semi-axes and upward shift, in detector-box widths and heights. Ground-truth face
boxes (hairline to chin, ear to ear) are 0.8-0.9 box widths wide and 0.9-1.0 box heights high (median;
p90 1.0-1.1x) and sit 0-0.04 heights above the box centre; an ellipse through those corners with room
for their spread is these numbers (docs/history/EVALUATION-2026-11.md, "Head shapes")."""
SURE_FACE = 0.7
"""Below this score the box is a guess: a profile, a turned or dim face, often a part of a close-up face
that several such boxes cover together (hamilton's close-ups: 0.44-0.57). Their rectangles are kept."""
TINY_FACE_PX = 24.0
"""Below this width the keypoints are noise and the box is rough: the rectangle is kept."""
FEATHER = 0.08
"""Soft edge outside the shape, as a share of its radius: blur, pixelate and solid."""
MASK_FEATHER = 0.3
"""The mask style's wider soft edge."""


@dataclass(frozen=True, slots=True)
class HeadShape:
    """An ellipse over the head: centre, semi-axes (`a` across the face, `b` brow to chin), turned by `angle`."""

    cx: float
    cy: float
    a: float
    b: float
    angle: float
    """Radians; 0 = upright. Taken from the eye line."""
    rect: tuple[float, float, float, float] | None = None
    """Instead of the ellipse, this whole box (faces cut by the frame edge, tiny or uncertain faces)."""
    outline: np.ndarray | None = field(default=None, compare=False)
    """Instead of the ellipse, this polygon (Nx2 frame pixels): the face mesh's outline grown to the whole head.
    The ellipse's numbers stay: the drawn styles (emoji, avatar) are drawn on it and cover both (`drawn`)."""
    drawn: bool = False
    """A drawn style's shape: the ellipse and the outline together."""

    @property
    def size(self) -> float:
        """The face size an effect's strength scales with: the shape's longer extent."""
        if self.rect is not None:
            return max(self.rect[2], self.rect[3])
        if self.outline is not None and not self.drawn:
            return float(np.ptp(self.outline, axis=0).max())
        return 2 * max(self.a, self.b)

    def bounds(self, feather: float) -> tuple[float, float, float, float]:
        """Axis-aligned box ``(x, y, w, h)`` around the shape and its soft edge."""
        if self.rect is not None:
            return self.rect
        a, b = self.a * (1 + feather), self.b * (1 + feather)
        c, s = abs(np.cos(self.angle)), abs(np.sin(self.angle))
        ex, ey = np.hypot(a * c, b * s), np.hypot(a * s, b * c)
        ellipse = (self.cx - ex, self.cy - ey, 2 * ex, 2 * ey)
        if self.outline is None:
            return ellipse
        (x0, y0), (x1, y1) = self.outline.min(axis=0) - 1, self.outline.max(axis=0) + 1
        if self.drawn:
            x0, y0 = min(x0, ellipse[0]), min(y0, ellipse[1])
            x1, y1 = max(x1, ellipse[0] + ellipse[2]), max(y1, ellipse[1] + ellipse[3])
        return (float(x0), float(y0), float(x1 - x0), float(y1 - y0))

    def _outline_alpha(self, region: tuple[int, int, int, int], feather: float) -> np.ndarray:
        """0 outside the outline, rising to 1 across a soft edge inside it (as wide as the ellipse's would be).

        Inside, not outside as the ellipse's: the outline is already the whole head grown from the face's own
        points, so its soft edge falls on hair and ears, and the face stays opaque; outside, the soft edge added
        a fifth to the hidden area (2.16x the reference box against 1.82x, the median of the images' faces)."""
        x0, y0, x1, y1 = region
        inside = np.zeros((y1 - y0, x1 - x0), np.uint8)
        points = np.round((self.outline - (x0, y0)) * 4).astype(np.int32)  # quarter-pixel precision
        cv2.fillPoly(inside, [points], 1, cv2.LINE_8, 2)
        width = max(feather * self.size / 2, 1.0)
        depth = cv2.distanceTransform(inside, cv2.DIST_L2, 3)
        return np.clip(depth / np.float32(width), 0.0, 1.0)[..., None]

    def alpha(self, region: tuple[int, int, int, int], feather: float) -> np.ndarray:
        """HxWx1 float32 over `region`: 1 inside the ellipse, falling to 0 across the soft edge.

        In place and in float32, the distance from cv2.magnitude: 0.29 ms a frame of the live camera's hiding
        where the same formula in fresh numpy arrays took 0.52 ms (eat at 720p, this machine). A unit disc
        warped into the region instead took 0.80 ms there: the warp reads a 1 MB image for every face.
        """
        x0, y0, x1, y1 = region
        if self.rect is not None:
            return np.ones((y1 - y0, x1 - x0, 1), np.float32)
        if self.outline is not None:
            outline = self._outline_alpha(region, feather)
            if not self.drawn:
                return outline
            return np.maximum(outline, replace(self, outline=None).alpha(region, feather))
        c, s = np.cos(self.angle), np.sin(self.angle)
        a, b = max(self.a, 0.5), max(self.b, 0.5)
        dx = np.arange(x0, x1, dtype=np.float32) + np.float32(0.5 - self.cx)
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] + np.float32(0.5 - self.cy)
        u = dx * np.float32(c / a) + dy * np.float32(s / a)
        v = dy * np.float32(c / b) - dx * np.float32(s / b)
        r = cv2.magnitude(u, v)
        np.subtract(np.float32(1 + feather), r, out=r)
        r *= np.float32(1 / feather)
        np.clip(r, 0.0, 1.0, out=r)
        return r[..., None]


def eye_angle(face: Face) -> float | None:
    """The head's tilt from the eye line (BlazeFace's and CenterFace's first two keypoints), if plausible."""
    if len(face.keypoints) < 2 or face.box[2] < TINY_FACE_PX:
        return None
    (x0, y0), (x1, y1) = face.keypoints[0], face.keypoints[1]
    dx, dy = x1 - x0, y1 - y0
    distance = float(np.hypot(dx, dy))
    angle = float(np.arctan2(dy, dx))
    if not (0.15 * face.box[2] <= distance <= 1.2 * face.box[2]) or abs(angle) > np.radians(100):
        return None  # eyes too close, too far, or upside down: not a readable eye line
    return angle


def head_shape(
    face: Face, margin: float, frame: tuple[int, int], *, drawn: bool = False, outline: bool = True
) -> HeadShape:
    """The area to hide for one face in a `frame` of (width, height): an ellipse from hairline to chin and
    ear to ear, turned with the eye line.

    `margin` scales it (at the default the ellipse has the measured proportions). Where the box is a guess
    the rectangle of the box grown by `margin` stays: a face cut by the frame edge (its keypoints are
    guesses, and the rectangle's corners are what covered hamilton's edge-cut profile), a face under
    `TINY_FACE_PX`, a face under `SURE_FACE`.
    """
    x, y, w, h = face.box
    grown = expand_box(face.box, margin)
    if not all(np.isfinite(face.box)) or w < TINY_FACE_PX or face.score < SURE_FACE or _at_edge(face.box, *frame):
        return HeadShape(0.0, 0.0, 0.0, 0.0, 0.0, rect=grown)
    angle = eye_angle(face) or 0.0
    scale = margin / EffectSettings().margin
    if abs(angle) > np.radians(15):
        # A tilted head: its axis-aligned reference box has hair and ears in the corners the upright proportions
        # leave out; a round shape as tall as the head reaches them.
        a = b = HEAD_HEIGHT * max(w, h) * scale
    else:
        a, b = HEAD_WIDTH * w * scale, HEAD_HEIGHT * h * scale
    up = HEAD_UP * (max(w, h) if abs(angle) > np.radians(15) else h)
    cx = x + w / 2 + up * np.sin(angle)
    cy = y + h / 2 - up * np.cos(angle)
    grown = mesh_outline(face, margin / EffectSettings().margin) if outline else None
    return HeadShape(float(cx), float(cy), float(a), float(b), angle, outline=grown, drawn=drawn)


EDGE_PX = 2.0
"""A box this close to the frame's edge was cut by it (the detector slides such boxes inside the frame)."""


def _at_edge(box, width: int, height: int) -> bool:
    x, y, w, h = box
    return x < EDGE_PX or y < EDGE_PX or x + w > width - EDGE_PX or y + h > height - EDGE_PX


def _feather(style: str) -> float:
    return MASK_FEATHER if style == "mask" else FEATHER


def _placed(
    faces: list[Face],
    shape: tuple[int, ...],
    margin: float,
    feather: float,
    drawn: bool = False,
    outline: bool = True,
) -> Iterator[tuple[Face, HeadShape, tuple[int, int, int, int]]]:
    """Each face's head shape and the frame region it touches (faces wholly outside the frame are skipped)."""
    height, width = shape[:2]
    for face in faces:
        head = head_shape(face, margin, (width, height), drawn=drawn, outline=outline)
        region = clip_box(head.bounds(feather), width, height)
        if region is not None:
            yield face, head, region


def _shape_masks(
    faces: list[Face], shape: tuple[int, ...], margin: float, feather: float, drawn: bool, outline: bool = True
) -> np.ndarray:
    mask = np.zeros(shape[:2], bool)
    for _, head, (x0, y0, x1, y1) in _placed(faces, shape, margin, feather, drawn, outline):
        mask[y0:y1, x0:x1] |= head.alpha((x0, y0, x1, y1), feather)[..., 0] > 0
    return mask


def hidden_mask(faces: list[Face], shape: tuple[int, ...], settings: EffectSettings) -> np.ndarray:
    """Boolean HxW mask of the pixels the effect changes: every head shape with its soft edge."""
    drawn = settings.style in DRAWN
    return _shape_masks(faces, shape, settings.margin, _feather(settings.style), drawn, settings.mesh_outline)


def affected_mask(faces: list[Face], shape: tuple[int, ...], margin: float) -> np.ndarray:
    """Boolean HxW mask of every pixel any style may write (the widest soft edge); all else is untouched."""
    return _shape_masks(faces, shape, margin, max(FEATHER, MASK_FEATHER), True)


def apply(image: np.ndarray, faces: list[Face], settings: EffectSettings) -> np.ndarray:
    """Return a copy of `image` with every face hidden in `settings.style`, over its head shape."""
    if settings.style not in STYLES:
        raise ValueError(f"unknown style {settings.style!r}; choose one of {', '.join(STYLES)}")
    out = image.copy()
    level = max(0, min(100, int(settings.intensity))) / 100.0
    feather = _feather(settings.style)
    drawn = settings.style in DRAWN
    for face, head, region in _placed(faces, image.shape, settings.margin, feather, drawn, settings.mesh_outline):
        x0, y0, x1, y1 = region
        patch = out[y0:y1, x0:x1]
        size = head.size
        if settings.style == "pixelate":
            fill = _pixelate_patch(patch, size, level)
        elif settings.style == "solid":
            fill = np.empty_like(patch)
            fill[:] = SOLID_BGR
        elif settings.style == "emoji":
            fill = _emoji_patch(patch.shape, head, region)
        elif settings.style == "avatar":
            fill = _avatar_patch(patch.shape, head, region, face, settings.intensity)
        else:  # blur, mask
            fill = _blur_patch(patch, size, level)
        if head.rect is not None:
            out[y0:y1, x0:x1] = fill
            continue
        alpha = head.alpha(region, feather)[..., 0]
        # cv2.blendLinear: the per-pixel mix in C (numpy's float mix of a 250 px face at 720p cost ~7 ms).
        out[y0:y1, x0:x1] = cv2.blendLinear(fill, patch, alpha, 1.0 - alpha)
    return out


def _emoji_patch(shape: tuple[int, ...], head: HeadShape, region: tuple[int, int, int, int]) -> np.ndarray:
    """A cartoon face filling `region`: opaque yellow (nothing of the face shows, as with solid), eyes and a
    smile placed on the head shape, turned with the eye line and scaled with the head."""
    fill = np.empty(shape, np.uint8)
    fill[:] = EMOJI_BGR
    x0, y0 = region[0], region[1]
    if head.rect is not None:
        rx, ry, rw, rh = head.rect
        cx, cy, a, b, angle = rx + rw / 2 - x0, ry + rh / 2 - y0, rw / 2, rh / 2, 0.0
    else:
        cx, cy, a, b, angle = head.cx - x0, head.cy - y0, head.a, head.b, head.angle
    if not np.isfinite([cx, cy, a, b]).all() or max(abs(cx), abs(cy), a, b) > 4 * max(shape[:2]):
        return fill  # a shape mostly off the frame (or absurd): the plain fill, no features to draw
    c, s = np.cos(angle), np.sin(angle)

    def at(u: float, v: float) -> tuple[int, int]:
        """A point `u` across and `v` down the face (in semi-axes), turned with the head, in patch pixels."""
        du, dv = u * a, v * b
        return int(round(cx + du * c - dv * s)), int(round(cy + du * s + dv * c))

    eye = max(1, int(round(0.13 * min(a, b))))
    for side in (-0.38, 0.38):
        cv2.circle(fill, at(side, -0.22), eye, EMOJI_INK, -1, cv2.LINE_AA)
    thickness = max(1, int(round(0.07 * min(a, b))))
    smile_axes = (max(1, int(round(0.5 * a))), max(1, int(round(0.32 * b))))
    cv2.ellipse(fill, at(0.0, 0.12), smile_axes, float(np.degrees(angle)), 20, 160, EMOJI_INK, thickness, cv2.LINE_AA)
    return fill


def _avatar_patch(
    shape: tuple[int, ...], head: HeadShape, region: tuple[int, int, int, int], face: Face, intensity: int
) -> np.ndarray:
    """The avatar over the head shape (the same opaque area solid fills), tilted with the smoothed head roll
    where the face has a mesh, with the eye line otherwise."""
    x0, y0 = region[0], region[1]
    if head.rect is not None:
        rx, ry, rw, rh = head.rect
        centre, axes, angle = (rx + rw / 2 - x0, ry + rh / 2 - y0), (rw / 2, rh / 2), 0.0
    else:
        centre, axes, angle = (head.cx - x0, head.cy - y0), (head.a, head.b), head.angle
    if face.expression is not None and face.mesh is not None:
        angle = face.expression.roll
    return avatar.draw(shape, centre, axes, angle, face.expression, intensity=intensity)


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


def _pixelate_patch(patch: np.ndarray, size: float, level: float) -> np.ndarray:
    """Blocks of 1/8 (intensity 0) to 1/4 (100) of the face: 8 blocks re-identify ~12% in our measurements."""
    blocks_across = 8 - 4 * level
    block = max(2.0, size / blocks_across)
    h, w = patch.shape[:2]
    small = cv2.resize(patch, (max(1, round(w / block)), max(1, round(h / block))), interpolation=cv2.INTER_AREA)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)

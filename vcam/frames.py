"""The two value types every stage passes around: `Frame` and `Face`.

Sources normalise whatever they read (grayscale, RGBA, odd sizes) into a
`Frame`, so detection, tracking and effects only ever see BGR uint8 HxWx3.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

Box = tuple[float, float, float, float]
"""An axis-aligned box ``(x, y, w, h)`` in frame pixels (floats, may cross the edge)."""


@dataclass(frozen=True, slots=True)
class Frame:
    """One BGR ``uint8`` image of shape HxWx3 and the monotonic time it was captured."""

    image: np.ndarray
    t: float
    index: int = 0
    still: bool = False
    """A photo: the only view of its faces there will be (the show-me gate cannot wait for a second look)."""

    @property
    def size(self) -> tuple[int, int]:
        """``(width, height)``."""
        return self.image.shape[1], self.image.shape[0]


@dataclass(frozen=True, slots=True)
class Expression:
    """What a face says, without who it is: normalised parameters an avatar is drawn from.

    Read from a face mesh (`vcam.detection.expression`); the scales are the mesh's ratios mapped to 0..1
    between a neutral face and a wide one (the constants beside `read` say where each comes from).
    """

    mouth_open: float = 0.0
    """0 lips together, 1 wide open."""
    smile: float = 0.0
    """Mouth width beyond neutral: 0 neutral or pursed, 1 a broad smile."""
    eyes_open: tuple[float, float] = (1.0, 1.0)
    """Each eye (the one on the picture's left first): 1 open, 0 shut."""
    brows: float = 0.0
    """Eyebrows raised: 0 resting, 1 raised high."""
    yaw: float = 0.0
    """Head turned, radians; positive: toward the picture's right."""
    pitch: float = 0.0
    """Head nodded, radians; positive: chin down."""
    roll: float = 0.0
    """Head tilted, radians (the eye line's angle in the picture)."""
    gaze: tuple[float, float] = (0.0, 0.0)
    """Where the irises sit in the eyes, -1..1 across (picture's right positive) and down."""


NEUTRAL = Expression()


@dataclass(frozen=True, slots=True)
class EyeReading:
    """What the iris model read of both eyes (the picture's left eye first)."""

    openings: tuple[float, float]
    """Eyelid gap over eye width."""
    irises: tuple[tuple[float, float], tuple[float, float]]
    """Each iris centre's offset from the eye's middle, in eye widths (across to the picture's right, down)."""


@dataclass(frozen=True, slots=True)
class FaceMesh:
    """MediaPipe's 468 face landmarks on one face (`vcam.detection.mesh`)."""

    points: np.ndarray
    """468x3 float32: x, y in frame pixels, z (depth, same scale; smaller is nearer)."""
    score: float
    """The model's face-presence score, 0..1."""
    angle: float = 0.0
    """The crop's rotation (the eye line's angle in the picture), radians."""
    crop_points: np.ndarray | None = None
    """468x3 as the model gave them: in its upright 192x192 crop (the expression is read from these)."""
    eyes: EyeReading | None = None
    """The iris model's reading, where it ran (the avatar's blinks and gaze)."""


@dataclass(frozen=True, slots=True)
class Face:
    """One face: box in frame pixels, detector score, keypoints and when it was last seen.

    `box` is the detector's own box; how much area around it gets hidden is the
    effect's margin, not the detector's business.
    """

    box: Box
    score: float
    keypoints: tuple[tuple[float, float], ...] = field(default=())
    last_seen: float = 0.0
    track_id: int = -1
    source: str = ""
    """Which detector and pass found it ("centerface frame", "blazeface-far tile"): for diagnosis and checks."""
    unverified: bool = False
    """An uncertain candidate kept (hidden) only because its second look did not fit the frame's budget.
    It is hidden like any face but does not vouch for the candidates that overlap it later."""
    mesh: FaceMesh | None = field(default=None, compare=False)
    """The face's landmarks where they were read (the avatar style and the mesh outline); not part of equality."""
    expression: Expression | None = field(default=None, compare=False)
    """The smoothed expression the avatar shows; None: neutral."""

    def with_box(self, box: Box) -> Face:
        return replace(self, box=box)


def to_bgr(image: np.ndarray) -> np.ndarray:
    """Return `image` as a contiguous BGR uint8 HxWx3 array.

    Accepts grayscale (HxW or HxWx1), BGR and BGRA, and integer or float dtypes
    (floats are taken as 0..1). Raises ValueError for anything else, naming what
    it got, so callers can turn it into a clear message.
    """
    if not isinstance(image, np.ndarray) or image.size == 0:
        raise ValueError("empty image")
    if image.dtype != np.uint8:
        if np.issubdtype(image.dtype, np.floating):
            image = np.clip(image * 255.0, 0, 255).astype(np.uint8)
        elif image.dtype == np.uint16:
            image = (image >> 8).astype(np.uint8)
        elif np.issubdtype(image.dtype, np.integer) or image.dtype == np.bool_:
            image = np.clip(image, 0, 255).astype(np.uint8)
        else:
            raise ValueError(f"unsupported pixel type {image.dtype}")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    raise ValueError(f"unsupported image shape {image.shape}")


def expand_box(box: Box, scale: float) -> Box:
    """Grow `box` around its centre by `scale`, and more upward and downward.

    BlazeFace boxes run from the brows to the mouth; the extra height reaches
    the hairline and the chin so the hidden area covers the whole face.
    """
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    nw = w * scale
    nh = h * scale * 1.25
    return (cx - nw / 2, cy - nh / 2 - 0.05 * nh, nw, nh)


def clip_box(box: Box, width: int, height: int) -> tuple[int, int, int, int] | None:
    """Integer ``(x0, y0, x1, y1)`` of `box` inside a `width` x `height` frame, or None if empty."""
    x, y, w, h = box
    if not all(np.isfinite(v) for v in box) or w <= 0 or h <= 0:
        return None
    x0 = max(0, int(np.floor(x)))
    y0 = max(0, int(np.floor(y)))
    x1 = min(width, int(np.ceil(x + w)))
    y1 = min(height, int(np.ceil(y + h)))
    if x1 <= x0 or y1 <= y0:
        return None
    return x0, y0, x1, y1


def grow_box(box: Box, scale: float) -> Box:
    """`box` scaled by `scale` about its centre (unlike `expand_box`, the same in both directions)."""
    x, y, w, h = box
    return (x + w / 2 - w * scale / 2, y + h / 2 - h * scale / 2, w * scale, h * scale)


def union_box(a: Box, b: Box) -> Box:
    """The smallest box holding both."""
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    return (x0, y0, max(a[0] + a[2], b[0] + b[2]) - x0, max(a[1] + a[3], b[1] + b[3]) - y0)


def regions_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two ``(x0, y0, x1, y1)`` regions share any pixel."""
    return a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]


def regions_area(regions: list[tuple[int, int, int, int]]) -> int:
    """Pixels of ``(x0, y0, x1, y1)`` regions, summed (overlaps counted twice)."""
    return sum((x1 - x0) * (y1 - y0) for x0, y0, x1, y1 in regions)


def intersection(a: Box, b: Box) -> float:
    """Area two boxes share (0 when apart)."""
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    iw = min(ax + aw, bx + bw) - max(ax, bx)
    ih = min(ay + ah, by + bh) - max(ay, by)
    return iw * ih if iw > 0 and ih > 0 else 0.0


def iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes."""
    inter = intersection(a, b)
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if inter > 0 and union > 0 else 0.0


def centre_inside(a: Box, b: Box) -> bool:
    """Whether the centre of box `a` lies inside box `b`."""
    cx, cy = a[0] + a[2] / 2, a[1] + a[3] / 2
    return b[0] <= cx <= b[0] + b[2] and b[1] <= cy <= b[1] + b[3]


def merge_regions(regions: list[tuple[int, int, int, int]]) -> list[tuple[int, int, int, int]]:
    """Unite ``(x0, y0, x1, y1)`` regions that overlap, until none do (a handful at most)."""
    out: list[tuple[int, int, int, int]] = []
    for region in regions:
        while (hit := next((o for o in out if regions_overlap(o, region)), None)) is not None:
            out.remove(hit)
            region = (min(hit[0], region[0]), min(hit[1], region[1]), max(hit[2], region[2]), max(hit[3], region[3]))
        out.append(region)
    return out

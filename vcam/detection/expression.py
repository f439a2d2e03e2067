"""What a face mesh says about the expression, in numbers an avatar can be drawn from; and their smoothing.

Every parameter is a ratio of distances between landmarks in the model's upright crop (so it does not
change with the face's size or tilt), mapped to 0..1 between a neutral face and a wide one. The ranges are
anatomical, checked on the mesh of our own clips (median and 5th-95th percentile of each ratio on four
clips of ../shared/eval, this machine): inner-lip gap 0.004-0.05 of the face's height while talking, 0.09
with teeth showing in a smile; mouth width 0.51-0.59 of the eye span at rest, 0.76 smiling; an open eye
0.21-0.36 of its width high (closed eyes read 0.05-0.08 in MediaPipe's mesh); brow-to-eye 0.11-0.15 of the
face's height at rest. No parameter carries a length of the face itself: the avatar's proportions are its
own template's (`vcam.pipeline.avatar`).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field, replace

import numpy as np

from vcam.frames import Expression, FaceMesh

# MediaPipe face mesh indices (the picture's left eye is the person's right eye).
FOREHEAD, CHIN = 10, 152
LIP_TOP, LIP_BOTTOM = 13, 14
MOUTH_LEFT, MOUTH_RIGHT = 61, 291
EYE_L_OUT, EYE_L_IN, EYE_L_TOP, EYE_L_BOTTOM = 33, 133, 159, 145
EYE_R_IN, EYE_R_OUT, EYE_R_TOP, EYE_R_BOTTOM = 362, 263, 386, 374
BROW_L, BROW_R = 105, 334
CHEEK_L, CHEEK_R = 234, 454

MOUTH_CLOSED, MOUTH_WIDE = 0.005, 0.12
"""Inner-lip gap over face height: lips together (the 5th percentile of 1,345 signing and talking face-frames
reads 0.004), a wide-open mouth (the man's open smile reads 0.09). A first range of 0.01-0.16 left the small
openings of speech at the bottom of the scale, drawn closed: the read-back correlation with dlib was 0.46."""
WIDTH_REST, WIDTH_SMILE = 0.55, 0.80
"""Mouth corners' span over the eyes' outer corners' span: resting (0.51-0.59), a broad smile (0.76 seen)."""
EYE_SHUT, EYE_OPEN = 0.09, 0.24
"""Eyelid gap over eye width: shut (MediaPipe's closed eyes read 0.05-0.08), plainly open (0.21-0.36)."""
BROW_REST, BROW_RAISED = 0.125, 0.185
"""Brow-to-upper-lid over face height: resting (0.11-0.15), raised high."""
IRIS_GAIN = 6.0
"""The iris model's iris centre sits within 0.1-0.15 eye widths of the eye's middle on our clips (a woman
looking aside: -0.12..0.10); this maps that to most of -1..1."""
TYPICAL_OPENING = 0.3
"""The iris model's eyelid gap over eye width on an open eye (median 0.29-0.37 on 18 of 22 clips; 0.17-0.22
on narrow or downcast eyes), for a face whose own open level is not known yet."""
SHUT_SHARE, OPEN_SHARE = 0.6, 0.9
"""An eye reads shut at 0.6 of its own open level and open from 0.9 of it. Eyes differ (0.17 to 0.37 open on
our clips), so each track is measured against itself. Where the scale sits follows the usual definition of a
blink (the eye's aspect ratio under 0.7 of its open level, the one bench/expression_fidelity.py measures
with): such an eye is drawn mostly shut. Measured by that bench (blinks shown / avatar eyes shut while the eyes
are open): 0.5/0.8 1 of 9 and 22 of 1,097 frames; 0.6/0.9 3 of 9 and 39; showing closures unsmoothed as
well 4 of 9 and 66 (not kept)."""
EYE_LEVEL_S = 3.0
"""The open level is the 80th percentile of a track's eyelid openings over this long."""


def _unit(value: float, low: float, high: float) -> float:
    return float(min(1.0, max(0.0, (value - low) / (high - low))))


def read(mesh: FaceMesh) -> Expression:
    """The expression of one mesh (unsmoothed)."""
    p = mesh.crop_points if mesh.crop_points is not None else mesh.points
    p = np.asarray(p, np.float32)

    def dist(a: int, b: int) -> float:
        return float(np.linalg.norm(p[a] - p[b]))

    height = max(dist(FOREHEAD, CHIN), 1e-3)
    span = max(dist(EYE_L_OUT, EYE_R_OUT), 1e-3)
    eyes = (
        _unit(dist(EYE_L_TOP, EYE_L_BOTTOM) / max(dist(EYE_L_OUT, EYE_L_IN), 1e-3), EYE_SHUT, EYE_OPEN),
        _unit(dist(EYE_R_TOP, EYE_R_BOTTOM) / max(dist(EYE_R_IN, EYE_R_OUT), 1e-3), EYE_SHUT, EYE_OPEN),
    )
    brow = (dist(BROW_L, EYE_L_TOP) + dist(BROW_R, EYE_R_TOP)) / 2 / height
    across = p[CHEEK_R] - p[CHEEK_L]
    down = p[CHIN] - p[FOREHEAD]
    eye_line = p[EYE_R_OUT] - p[EYE_L_OUT]
    yaw = math.atan2(float(across[2]), float(across[0])) if p.shape[1] > 2 else 0.0
    pitch = math.atan2(float(down[2]), float(down[1])) if p.shape[1] > 2 else 0.0
    roll = mesh.angle + math.atan2(float(eye_line[1]), float(eye_line[0]))
    seen = (0.0, 0.0)  # the mesh has no irises: a gaze needs the iris model's reading
    if mesh.eyes is not None:  # the iris model's eyelids and irises, where it ran
        eyes = tuple(_unit(o / TYPICAL_OPENING, SHUT_SHARE, OPEN_SHARE) for o in mesh.eyes.openings)
        looking = np.mean(mesh.eyes.irises, axis=0) * IRIS_GAIN
        seen = (float(np.clip(looking[0], -1, 1)), float(np.clip(looking[1], -1, 1)))
    return Expression(
        mouth_open=_unit(dist(LIP_TOP, LIP_BOTTOM) / height, MOUTH_CLOSED, MOUTH_WIDE),
        smile=_unit(dist(MOUTH_LEFT, MOUTH_RIGHT) / span, WIDTH_REST, WIDTH_SMILE),
        eyes_open=eyes,
        brows=_unit(brow, BROW_REST, BROW_RAISED),
        yaw=yaw,
        pitch=pitch,
        roll=roll,
        gaze=seen,
    )


@dataclass
class OneEuro:
    """The 1-euro filter (Casiez, Roussel, Vogel 2012): smooths jitter when a value rests and follows it
    when it moves fast, so the avatar neither trembles nor lags a blink.

    `min_cutoff` 1.5 Hz and `beta` 0.5 for values on a 0..1 scale: at rest (0.5 units/s of jitter) the
    cutoff is 1.75 Hz and a 30 fps frame moves a quarter of the way; a blink (about 14 units/s) opens it to
    8.5 Hz, two thirds of the way each frame, so a three-frame blink still closes the avatar's eye."""

    min_cutoff: float = 1.5
    beta: float = 0.5
    d_cutoff: float = 1.0
    _x: float | None = None
    _dx: float = 0.0
    _t: float = 0.0

    @staticmethod
    def _alpha(cutoff: float, dt: float) -> float:
        tau = 1.0 / (2 * math.pi * cutoff)
        return 1.0 / (1.0 + tau / dt)

    def __call__(self, x: float, t: float) -> float:
        if self._x is None or t <= self._t:
            self._x, self._t = x, t
            return x
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx += self._alpha(self.d_cutoff, dt) * (dx - self._dx)
        cutoff = self.min_cutoff + self.beta * abs(self._dx)
        self._x += self._alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x


FIELDS = ("mouth_open", "smile", "eye_l", "eye_r", "brows", "yaw", "pitch", "roll", "gaze_x", "gaze_y")


def _flat(e: Expression) -> tuple[float, ...]:
    return (e.mouth_open, e.smile, *e.eyes_open, e.brows, e.yaw, e.pitch, e.roll, *e.gaze)


def _unflat(v: list[float]) -> Expression:
    return Expression(v[0], v[1], (v[2], v[3]), v[4], v[5], v[6], v[7], (v[8], v[9]))


@dataclass
class _Track:
    seen: float
    filters: list[OneEuro]
    openings: deque[tuple[float, float, float]] = field(default_factory=deque)
    """(t, left, right) eyelid openings of the last `EYE_LEVEL_S`."""


@dataclass
class ExpressionSmoother:
    """Per track: each eye measured against its own open level, then one 1-euro filter per parameter; a track
    unseen for `forget_s` starts afresh."""

    forget_s: float = 2.0
    _tracks: dict[int, _Track] = field(default_factory=dict)

    def __call__(self, track: int, expression: Expression, t: float, mesh: FaceMesh | None = None) -> Expression:
        state = self._tracks.get(track)
        if state is None or t - state.seen > self.forget_s:
            state = _Track(t, [OneEuro() for _ in FIELDS])
        state.seen = t
        self._tracks[track] = state
        if mesh is not None and mesh.eyes is not None:
            expression = replace(expression, eyes_open=self._own_level(state, mesh.eyes.openings, t))
        smoothed = [f(v, t) for f, v in zip(state.filters, _flat(expression), strict=True)]
        for old in [k for k, s in self._tracks.items() if t - s.seen > self.forget_s]:
            del self._tracks[old]
        return _unflat(smoothed)

    @staticmethod
    def _own_level(state: _Track, openings: tuple[float, float], t: float) -> tuple[float, float]:
        state.openings.append((t, *openings))
        while state.openings and t - state.openings[0][0] > EYE_LEVEL_S:
            state.openings.popleft()
        history = np.array(state.openings)[:, 1:]
        level = np.percentile(history, 80, axis=0) if len(history) >= 5 else np.full(2, TYPICAL_OPENING)
        level = np.maximum(level, 0.05)
        return tuple(_unit(o / lv, SHUT_SHARE, OPEN_SHARE) for o, lv in zip(openings, level, strict=True))  # type: ignore[return-value]

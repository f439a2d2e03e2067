"""The avatar style: one drawn cartoon face on a fixed template, moved only by the expression's numbers.

Nothing of the person's face reaches the picture: the head is filled opaque (hair and face colours, the
same area the solid style covers), and the features sit where the template puts them (eye spacing, nose,
face shape are the template's), so the only things that come from the person are the `Expression`'s
parameters: mouth opening and width, each eye's opening, the brows, where the eyes look, and the head's
turn, nod and tilt. A face without a mesh gets the same avatar with a neutral expression.

Intensity, for this style, is how much of the expression shows: up to 70 (the default) all of it, then
less, down to a neutral face at 100 that only turns with the head (for a user who does not want even
their expressions' timing to be seen).
"""

from __future__ import annotations

import math
from dataclasses import replace

import cv2
import numpy as np

from vcam.frames import NEUTRAL, Expression

HAIR_BGR = (70, 52, 48)
SKIN_BGR = (160, 200, 246)
INK_BGR = (45, 40, 52)
EYE_WHITE_BGR = (250, 250, 250)
IRIS_BGR = (120, 80, 40)
MOUTH_BGR = (60, 45, 150)
TONGUE_BGR = (120, 110, 230)
CHEEK_BGR = (150, 150, 245)
FULL_EXPRESSION_AT = 70
"""Intensity up to which the expression shows in full; it fades to neutral between this and 100."""
SHIFT = 4
"""Sub-pixel precision of the drawing (cv2's `shift`): features of a small face do not jump by whole pixels."""
_ONE = 1 << SHIFT


def expression_gain(intensity: int) -> float:
    """How much of the expression the avatar shows at this intensity (1 up to `FULL_EXPRESSION_AT`, 0 at 100)."""
    return float(min(1.0, max(0.0, (100 - intensity) / (100 - FULL_EXPRESSION_AT))))


def damped(expression: Expression, gain: float) -> Expression:
    """`expression` moved toward neutral by `gain` (1: unchanged, 0: neutral); the head's pose is kept."""
    if gain >= 1.0:
        return expression

    def toward(value: float, rest: float) -> float:
        return rest + gain * (value - rest)

    return replace(
        expression,
        mouth_open=toward(expression.mouth_open, NEUTRAL.mouth_open),
        smile=toward(expression.smile, NEUTRAL.smile),
        eyes_open=tuple(toward(e, 1.0) for e in expression.eyes_open),  # type: ignore[arg-type]
        brows=toward(expression.brows, NEUTRAL.brows),
        gaze=tuple(toward(g, 0.0) for g in expression.gaze),  # type: ignore[arg-type]
    )


def draw(
    shape: tuple[int, ...],
    centre: tuple[float, float],
    axes: tuple[float, float],
    angle: float,
    expression: Expression | None,
    *,
    intensity: int = FULL_EXPRESSION_AT,
) -> np.ndarray:
    """An opaque patch of `shape`: the avatar over an ellipse at `centre` (patch pixels) with semi-axes `axes`
    (across, brow to chin) turned by `angle`, hair colour everywhere else in the patch."""
    fill = np.empty(shape, np.uint8)
    fill[:] = HAIR_BGR
    cx, cy = centre
    a, b = axes
    if (
        not np.isfinite([cx, cy, a, b, angle]).all()
        or min(a, b) < 2
        or max(abs(cx), abs(cy), a, b) > 4 * max(shape[:2])
    ):
        return fill
    e = damped(expression or NEUTRAL, expression_gain(intensity))
    c, s = math.cos(angle), math.sin(angle)
    turn = math.sin(max(-1.2, min(1.2, e.yaw)))
    nod = math.sin(max(-0.8, min(0.8, e.pitch)))

    def at(u: float, v: float) -> tuple[int, int]:
        """`u` across and `v` down the head in semi-axes, turned with the head, as cv2 fixed-point pixels."""
        du, dv = u * a, v * b
        return (int(round((cx + du * c - dv * s) * _ONE)), int(round((cy + du * s + dv * c) * _ONE)))

    def size(u: float, v: float) -> tuple[int, int]:
        return (max(1, int(round(u * a * _ONE))), max(1, int(round(v * b * _ONE))))

    degrees = math.degrees(angle)
    line = max(1, int(round(0.05 * min(a, b))))

    def ellipse(u, v, su, sv, color, thickness=-1, start=0, end=360, tilt=0.0):
        cv2.ellipse(fill, at(u, v), size(su, sv), degrees + tilt, start, end, color, thickness, cv2.LINE_AA, SHIFT)

    # The face: an oval inside the head (the rest stays hair), moved a little with the head's turn and nod.
    fu, fv = 0.14 * turn, 0.18 + 0.06 * nod
    ellipse(fu, fv, 0.84 - 0.1 * abs(turn), 0.80, SKIN_BGR)
    # Features: moved further than the oval with the turn and nod, so the head reads as turning.
    ou, ov = 0.42 * turn, 0.28 * nod
    spread = 1.0 - 0.25 * abs(turn)
    for side, openness in ((-1, e.eyes_open[0]), (1, e.eyes_open[1])):
        eu, ev = ou + side * 0.34 * spread, -0.02 + ov
        brow_v = ev - 0.24 - 0.14 * e.brows
        ellipse(eu, brow_v + 0.05, 0.13 * spread, 0.05, INK_BGR, line, 205, 335)
        if openness < 0.2:
            ellipse(eu, ev, 0.14 * spread, 0.05, INK_BGR, line * 2, 10, 170)  # a shut eye: the lid's curve
            continue
        height = 0.04 + 0.1 * openness
        ellipse(eu, ev, 0.15 * spread, height, EYE_WHITE_BGR)
        gu, gv = 0.07 * e.gaze[0], 0.05 * e.gaze[1]
        iris = min(0.08, height * b / a * 0.95)
        ellipse(eu + gu * spread, ev + gv, iris * spread, min(iris * a / b, height * 0.95), IRIS_BGR)
        ellipse(eu, ev, 0.15 * spread, height, INK_BGR, line)
    # The nose: the template's, a short curve.
    ellipse(ou * 1.1, 0.24 + ov, 0.06, 0.05, INK_BGR, line, 20, 160)
    # The mouth: wider with a smile, open as far as the lips are.
    mu, mv = ou * 0.95, 0.52 + ov * 0.9
    width = (0.22 + 0.16 * e.smile) * spread
    opening = 0.02 + 0.15 * e.mouth_open
    if e.smile > 0.3:
        for side in (-1, 1):
            ellipse(mu + side * 0.46 * spread, mv - 0.14, 0.1, 0.06, CHEEK_BGR)
    if e.mouth_open < 0.04:
        curve = 0.04 + 0.12 * e.smile
        ellipse(mu, mv - curve, width, curve + 0.02, INK_BGR, line * 2, 15, 165)
    elif e.smile > 0.4:
        # An open smile: a "D" lying on its back, the upper teeth along its straight edge.
        # As tall as the plain open mouth (2 x opening), so the same opening reads the same either way.
        top = mv - opening
        ellipse(mu, top, width, 2 * opening, MOUTH_BGR, -1, 0, 180)
        ellipse(mu, top, width * 0.8, min(0.06, opening), EYE_WHITE_BGR, -1, 0, 180)
        ellipse(mu, top, width, 2 * opening, INK_BGR, line, 0, 180)
        cv2.line(fill, at(mu - width, top), at(mu + width, top), INK_BGR, line, cv2.LINE_AA, SHIFT)
    else:
        ellipse(mu, mv, width, opening, MOUTH_BGR)
        if e.mouth_open > 0.3:
            ellipse(mu, mv + opening * 0.55, width * 0.55, opening * 0.4, TONGUE_BGR)
        ellipse(mu, mv, width, opening, INK_BGR, line)
    return fill

"""The hidden area is a head shape: an ellipse that covers the face and turns with it, and the generous
rectangle where the box is a guess (the frame edge, tiny or uncertain faces)."""

from __future__ import annotations

import numpy as np
import pytest

from vcam.evaluation.metrics import coverage
from vcam.frames import Face, clip_box, expand_box
from vcam.pipeline import effects

SHAPE = (480, 640, 3)
FRAME = (SHAPE[1], SHAPE[0])
SETTINGS = effects.EffectSettings()


def upright(x=300.0, y=200.0, size=80.0, score=0.9) -> Face:
    # BlazeFace's order: right eye (image left), left eye, nose tip.
    kps = ((x + 0.3 * size, y + 0.35 * size), (x + 0.7 * size, y + 0.35 * size), (x + 0.5 * size, y + 0.6 * size))
    return Face((x, y, size, size), score, kps)


def rotate(face: Face, degrees: float) -> Face:
    x, y, w, h = face.box
    cx, cy = x + w / 2, y + h / 2
    t = np.radians(degrees)
    kps = tuple(
        (cx + (px - cx) * np.cos(t) - (py - cy) * np.sin(t), cy + (px - cx) * np.sin(t) + (py - cy) * np.cos(t))
        for px, py in face.keypoints
    )
    return Face(face.box, face.score, kps)


def test_a_sure_upright_face_gets_an_ellipse_smaller_than_the_old_rectangle():
    face = upright()
    head = effects.head_shape(face, SETTINGS.margin, FRAME)
    assert head.rect is None and head.angle == pytest.approx(0.0)
    mask = effects.hidden_mask([face], SHAPE, SETTINGS)
    assert coverage(face.box, mask) == 1.0
    x0, y0, x1, y1 = clip_box(expand_box(face.box, SETTINGS.margin), *FRAME)
    assert mask.sum() < 0.7 * (x1 - x0) * (y1 - y0), "soft edge included"


@pytest.mark.parametrize("degrees", [30, 90, -90])
def test_a_turned_head_turns_the_ellipse_and_it_still_covers_the_face(degrees):
    face = rotate(upright(), degrees)
    head = effects.head_shape(face, SETTINGS.margin, FRAME)
    assert head.rect is None and head.angle == pytest.approx(np.radians(degrees), abs=1e-6)
    assert coverage(face.box, effects.hidden_mask([face], SHAPE, SETTINGS)) >= 0.99


def test_a_face_cut_by_the_frame_edge_keeps_the_rectangle_and_is_covered_inside_the_frame():
    face = Face((-40.0, 150.0, 100.0, 100.0), 0.95, ((-10, 185), (30, 185)))
    setting = effects.EffectSettings(style="solid")
    assert effects.head_shape(face, setting.margin, FRAME).rect == expand_box(face.box, setting.margin)
    out = effects.apply(np.full(SHAPE, 200, np.uint8), [face], setting)
    assert (out[150:250, 0:60] == effects.SOLID_BGR).all(), "the whole visible part of the face is filled"


def test_a_face_near_the_edge_but_not_cut_by_it_keeps_its_ellipse_clipped_by_the_frame():
    face = Face((270.0, 10.0, 100.0, 100.0), 0.95, ((295, 45), (345, 45)))
    setting = effects.EffectSettings(style="solid")
    assert expand_box(face.box, setting.margin)[1] < 0, "its grown box pokes out of the frame"
    assert effects.head_shape(face, setting.margin, FRAME).rect is None
    assert coverage(face.box, effects.hidden_mask([face], SHAPE, setting)) >= 0.99


@pytest.mark.parametrize("face", [Face((100.0, 100.0, 12.0, 12.0), 0.9), upright(score=0.5)], ids=["tiny", "unsure"])
def test_tiny_and_uncertain_faces_keep_the_generous_rectangle(face):
    head = effects.head_shape(face, SETTINGS.margin, FRAME)
    assert head.rect == expand_box(face.box, SETTINGS.margin)
    assert coverage(face.box, effects.hidden_mask([face], SHAPE, SETTINGS)) == 1.0


@pytest.mark.parametrize("style", effects.STYLES)
def test_every_style_fills_the_shape_and_nothing_outside_it(style):
    image = np.random.default_rng(1).integers(0, 256, SHAPE, dtype=np.uint8)
    face = rotate(upright(), 20)
    setting = effects.EffectSettings(style=style)
    out = effects.apply(image, [face], setting)
    changed = np.any(out != image, axis=2)
    assert not (changed & ~effects.hidden_mask([face], SHAPE, setting)).any()
    x, y, w, h = (int(v) for v in face.box)
    assert changed[y : y + h, x : x + w].mean() > 0.9


@pytest.mark.parametrize("feather", [effects.FEATHER, effects.MASK_FEATHER])
def test_the_soft_edge_is_exactly_one_on_the_ellipse_and_zero_past_its_edge(feather):
    """At any size, place and angle, a point of the ellipse is fully hidden, a point past the soft edge
    untouched, and the edge between falls as the distance from the ellipse grows."""
    rng = np.random.default_rng(7)
    for _ in range(200):
        size = float(rng.uniform(6, 600))
        head = effects.HeadShape(
            float(rng.uniform(-100, 740)),
            float(rng.uniform(-100, 580)),
            size * float(rng.uniform(0.4, 1.0)),
            size * float(rng.uniform(0.4, 1.2)),
            float(rng.uniform(-np.pi, np.pi)),
        )
        region = clip_box(head.bounds(feather), *FRAME)
        if region is None:
            continue
        x0, y0, x1, y1 = region
        alpha = head.alpha(region, feather)[..., 0]
        yy, xx = np.mgrid[y0:y1, x0:x1] + 0.5
        c, s = np.cos(head.angle), np.sin(head.angle)
        u = ((xx - head.cx) * c + (yy - head.cy) * s) / head.a
        v = ((yy - head.cy) * c - (xx - head.cx) * s) / head.b
        r = np.hypot(u, v)
        assert alpha.shape == r.shape and alpha.dtype == np.float32
        rounding = 1e-5  # the mask is computed in float32
        assert (alpha[r <= 1 - rounding] == 1).all(), "inside the ellipse: fully hidden"
        assert (alpha[r >= 1 + feather + rounding] == 0).all(), "past the soft edge: untouched"
        ramp = np.clip((1 + feather - r) / feather, 0, 1)
        assert np.abs(alpha - ramp).max() <= 1e-4, "the soft edge follows the ellipse"

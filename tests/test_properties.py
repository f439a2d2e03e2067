"""Property-based tests (hypothesis) for the effects and the tracker, over random sizes, channels and boxes.

Frames reach the effects through `to_bgr` (what every source does), so random channel counts go through it.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vcam.detection.track import Tracker, TrackerSettings
from vcam.frames import Face, clip_box, expand_box, to_bgr
from vcam.pipeline import effects

coordinate = st.one_of(
    st.floats(-200, 400, allow_nan=False),
    st.sampled_from([0.0, -1e9, 1e9, 1e15, math.inf, -math.inf, math.nan]),
)
extent = st.one_of(st.floats(-50, 500, allow_nan=False), st.sampled_from([0.0, 1e9, math.inf, math.nan]))
boxes = st.tuples(coordinate, coordinate, extent, extent)
SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def frames(draw):
    h, w = draw(st.integers(1, 96)), draw(st.integers(1, 96))
    channels = draw(st.sampled_from([None, 1, 3, 4]))
    shape = (h, w) if channels is None else (h, w, channels)
    seed = draw(st.integers(0, 2**32 - 1))
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


@SETTINGS
@given(
    image=frames(),
    face_boxes=st.lists(boxes, max_size=4),
    style=st.sampled_from(effects.STYLES),
    intensity=st.integers(0, 100),
    margin=st.floats(1.0, 3.0),
)
def test_effects_touch_only_the_grown_boxes_and_always_change_them(image, face_boxes, style, intensity, margin):
    bgr = to_bgr(image)
    faces = [Face(box, 0.9) for box in face_boxes]
    setting = effects.EffectSettings(style=style, intensity=intensity, margin=margin)
    out = effects.apply(bgr, faces, setting)
    assert out.shape == bgr.shape and out.dtype == np.uint8
    outside = ~effects.affected_mask(faces, bgr.shape, margin)
    assert np.array_equal(out[outside], bgr[outside]), "a pixel outside every grown box changed"
    hidden = effects.hidden_mask(faces, bgr.shape, setting)
    h, w = bgr.shape[:2]
    for box in face_boxes:
        region = clip_box(expand_box(box, margin), w, h)
        if region is None or (region[2] - region[0]) < 4 or (region[3] - region[1]) < 4:
            continue  # nothing left in frame, or too few pixels to be a face
        x0, y0, x1, y1 = region
        inside = hidden[y0:y1, x0:x1]
        if inside.sum() < 16:
            continue
        changed = np.any(out[y0:y1, x0:x1] != bgr[y0:y1, x0:x1], axis=2)[inside]
        assert changed.mean() > 0.5, f"only {changed.mean():.0%} of a hidden face changed"


@st.composite
def detection_runs(draw):
    """A sequence of frames with rising timestamps, each with a few random (often absurd) detections."""
    t, out = 0.0, []
    for _ in range(draw(st.integers(1, 12))):
        t += draw(st.floats(0.0, 0.4))
        out.append((t, [Face(b, 0.8) for b in draw(st.lists(boxes, max_size=3))]))
    return out


def _sane(box) -> bool:
    return all(math.isfinite(v) for v in box) and box[2] > 0 and box[3] > 0 and max(abs(v) for v in box) < 1e6


@SETTINGS
@given(runs=detection_runs(), hold=st.floats(0.0, 2.0), probe=st.floats(0.0, 3.0))
def test_tracker_never_raises_and_keeps_every_fresh_face(runs, hold, probe):
    tracker = Tracker(TrackerSettings(hold_s=hold))
    for t, detections in runs:
        tracker.update(detections, t)
        kept = tracker.faces_at(t)
        for det in detections:
            if not _sane(det.box):
                continue
            # A face detected on this frame is hidden on it, with at least its own box.
            x, y, w, h = det.box
            assert any(
                f.box[0] <= x + 1e-6
                and f.box[1] <= y + 1e-6
                and f.box[0] + f.box[2] >= x + w - 1e-6
                and f.box[1] + f.box[3] >= y + h - 1e-6
                for f in kept
            ), (det.box, [f.box for f in kept])
    last = runs[-1][0]
    later = tracker.faces_at(last + probe)
    if (last + probe) - last > hold:
        assert later == [], "a face past its hold time must be released"
    for face in later:
        assert _sane(face.box), "the tracker must not carry absurd boxes"

"""Merging one face's boxes from several passes: grown to cover every pass's view of the face, but not to a
box at another scale."""

from __future__ import annotations

from vcam.detection.detect import merge_faces
from vcam.evaluation.evaluate import image_cases
from vcam.frames import Face, Frame
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import Anonymizer
from vcam.pipeline.sources import read_image

FACE = (100.0, 100.0, 40.0, 40.0)


def test_two_views_of_one_turned_head_are_hidden_together():
    # BlazeFace and CenterFace each cover a different half of a turned head: the union covers both.
    merged = merge_faces([Face(FACE, 0.9), Face((115.0, 95.0, 45.0, 50.0), 0.6)])
    assert merged == [Face((100.0, 95.0, 60.0, 50.0), 0.9)]


def test_an_unsure_box_at_another_scale_does_not_grow_a_confident_face():
    big = (80.0, 80.0, 80.0, 80.0)  # 4x the area, 0.47: the short-range model's guess on a small photo
    assert merge_faces([Face(FACE, 0.93), Face(big, 0.47)]) == [Face(FACE, 0.93)]


def test_a_confident_larger_box_still_grows_the_face():
    # A turned head's confident boxes differ by up to 2x in area; both views are kept.
    larger = (90.0, 95.0, 55.0, 55.0)
    assert merge_faces([Face(FACE, 0.95), Face(larger, 0.9)]) == [Face((90.0, 95.0, 55.0, 55.0), 0.95)]


def test_hidden_regions_stay_near_the_faces_size_on_real_photos(eval_path):
    """Each hidden face's box is at most 3x the area of the reference face it sits on. Before the unsure-box
    rule, the dlib photos had boxes of 3.3x, 3.6x and 4.7x (a 40 px face hidden as an 80 px one)."""
    cases = [c for c in image_cases(eval_path) if "dlib__20" in c.path.name]
    assert len(cases) >= 5
    checked = 0
    with Anonymizer() as anonymizer:
        for case in cases:
            out = anonymizer.process(Frame(read_image(case.path), 0.0, 0), effects.EffectSettings())
            anonymizer.reset()
            for face in out.faces:
                x, y, w, h = face.box
                on = [g for g in case.boxes if g[0] <= x + w / 2 <= g[0] + g[2] and g[1] <= y + h / 2 <= g[1] + g[3]]
                if on:
                    checked += 1
                    assert w * h <= 3 * on[0][2] * on[0][3], (case.path.name, face.box, on[0])
    assert checked >= 25

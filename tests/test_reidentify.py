"""Re-identification by a face recognizer (issue 10's last target), with dlib's recognizer on the shipped
clips. The full eval set (docs/EVALUATION.md, "Re-identification") is harder: there about a fifth of the
faces stay matchable from their surroundings even under a solid box, and pixelate and emoji sit above
that floor."""

from __future__ import annotations

from vcam.pipeline.effects import STYLES


def test_no_style_lets_the_recognizer_re_identify_a_face(sample_path):
    """dlib's recognizer, as an attacker holding the very same frame unhidden: every style's output is beyond
    its same-person distance for every face of the shipped clips (and the untouched frame is within it,
    so the check can fail)."""
    from vcam.evaluation.reidentify import FLOOR, score_clips

    scores = score_clips(sample_path, every=8)
    assert scores["untouched"].faces >= 10 and scores["untouched"].matched == scores["untouched"].faces
    for style in (*STYLES, FLOOR):
        assert scores[style].matched == 0, f"{style}: {scores[style].matched} of {scores[style].faces} re-identified"

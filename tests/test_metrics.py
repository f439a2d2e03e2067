"""The evaluation's own arithmetic on hand-made cases with known answers, and `vcam eval` on a small subset."""

from __future__ import annotations

import numpy as np
import pytest
from test_video_and_cli import run_cli

from vcam.evaluation.evaluate import image_cases
from vcam.evaluation.metrics import (
    ImageDetections,
    average_precision,
    bucket,
    coverage,
    false_hide_share,
    hidden_area_ratio,
    on_a_face,
    over_hiding,
    precision_recall,
)


def test_coverage_full_half_none_and_outside():
    mask = np.zeros((100, 100), bool)
    mask[10:50, 10:50] = True
    assert coverage([10, 10, 40, 40], mask) == 1.0
    assert coverage([10, 10, 40, 80], mask) == pytest.approx(0.5)
    assert coverage([60, 60, 20, 20], mask) == 0.0
    assert coverage([200, 200, 10, 10], mask) == 1.0, "a box wholly outside the frame has nothing to leak"


def test_over_hiding_counts_only_pixels_outside_faces():
    mask = np.zeros((10, 10), bool)
    assert over_hiding(mask, []) == 0.0  # an empty frame with nothing hidden
    mask[:, :5] = True
    assert over_hiding(mask, []) == 0.5
    assert over_hiding(mask, [[0, 0, 5, 10]]) == 0.0, "hiding exactly the face is not over-hiding"


def test_false_hides_allow_the_grown_face_and_count_the_rest_of_the_picture():
    mask = np.zeros((100, 100), bool)
    face = [40, 10, 10, 10]  # grown 2.5x: x 32.5-57.5, y 2.5-27.5
    mask[5:25, 35:55] = True  # hair and margin around the face: allowed
    assert false_hide_share(mask, [face]) == 0.0
    mask[60:80, 40:50] = True  # a torso box below it: 200 of 10,000 pixels
    assert false_hide_share(mask, [face]) == pytest.approx(0.02)
    assert false_hide_share(mask, []) == pytest.approx(mask.mean())
    assert on_a_face([42, 12, 6, 6], [face]) and not on_a_face([40, 60, 10, 20], [face])
    assert hidden_area_ratio(mask, [face]) == pytest.approx((400 + 200) / 100)


def test_average_precision_and_ignored_boxes():
    truth = [[0, 0, 10, 10], [50, 50, 10, 10]]
    perfect = ImageDetections([([0, 0, 10, 10], 0.9), ([50, 50, 10, 10], 0.8)], truth)
    assert average_precision([perfect]) == pytest.approx(1.0)
    half = ImageDetections([([0, 0, 10, 10], 0.9)], truth)
    assert average_precision([half]) == pytest.approx(0.5)
    # A detection on a box flagged invalid is neither a hit nor a false positive.
    ignored = ImageDetections([([0, 0, 10, 10], 0.9), ([80, 80, 10, 10], 0.95)], [[0, 0, 10, 10]], [[80, 80, 10, 10]])
    assert average_precision([ignored]) == pytest.approx(1.0)
    counted = ImageDetections([([0, 0, 10, 10], 0.9), ([80, 80, 10, 10], 0.95)], [[0, 0, 10, 10]])
    assert average_precision([counted]) == pytest.approx(0.5)
    precision, recall = precision_recall([counted])
    assert list(precision) == [0.0, 0.5] and list(recall) == [0.0, 1.0]
    assert average_precision([ImageDetections([], [])]) == 0.0, "an empty frame: nothing found, nothing to find"


def test_size_buckets():
    assert [bucket(w) for w in (5, 16, 40, 100, 500)] == ["0-16", "16-32", "32-64", "64-128", ">128"]


def test_manifest_invalid_boxes_are_ignored_not_dropped(eval_path):
    cases = image_cases(eval_path)
    assert any(c.ignored for c in cases), "WIDER invalid=1 boxes must be carried as ignored"
    assert any(not c.boxes and not c.ignored for c in cases), "verified negatives are kept"


def test_vcam_eval_runs_on_the_shipped_set(tmp_path, sample_path):
    plots = tmp_path / "plots"
    proc = run_cli(
        "eval",
        "--eval-dir",
        str(sample_path),
        "--videos",
        "eat",
        "--configs",
        "near,default,haar",
        "--plots",
        str(plots),
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| default |" in proc.stdout and "| haar |" in proc.stdout and "AP@0.5" in proc.stdout
    assert "leaked face-frames" in proc.stdout
    assert {p.name for p in plots.iterdir()} == {"recall_by_size.png", "precision_recall.png", "leak_timeline.png"}

"""The live sweep's schedule (vcam.pipeline.sweep_plan): moved parts of the picture are swept soon, still
parts now and then, and no part goes unswept longer than its limit while sweeps keep up."""

from __future__ import annotations

import numpy as np

from vcam.pipeline.sweep_plan import SweepPlan, SweepPlanSettings

ROWS, COLS = 3, 4


def thumb(moved_cells: dict[tuple[int, int], float] | None = None, base: float = 100.0) -> np.ndarray:
    """A 32x18 thumbnail whose cell (r, c) is shifted by the given amount."""
    out = np.full((18, 32), base, np.float32)
    for (r, c), delta in (moved_cells or {}).items():
        out[r * 6 : (r + 1) * 6, c * 8 : (c + 1) * 8] += delta
    return out


def test_no_cell_goes_unswept_longer_than_its_limit_while_sweeps_keep_up():
    """30 s of random motion (cells changing at random times, by random amounts), sweeps started whenever
    a cell is due and taking up to 0.12 s: every frame after the first sweep may be published, and sweeps
    start at least `gap_s` apart."""
    rng = np.random.default_rng(7)
    plan = SweepPlan()
    s = plan.settings
    level = np.full((ROWS, COLS), 100.0)
    running: tuple[float, np.ndarray, np.ndarray, float] | None = None  # ends, cells, thumb, frame time
    last_swept = np.full((ROWS, COLS), -np.inf)
    starts: list[float] = []
    for i in range(30 * 30):
        t = i / 30
        if rng.random() < 0.2:
            r, c = rng.integers(ROWS), rng.integers(COLS)
            level[r, c] += rng.choice([-1, 1]) * rng.uniform(2, 40)
        current = thumb({(r, c): level[r, c] - 100 for r in range(ROWS) for c in range(COLS)})
        plan.observe(current, t)
        if running is not None and t >= running[0]:
            plan.swept(running[1], running[2], running[3])
            last_swept[running[1]] = running[3]
            running = None
        if running is None:
            due = plan.due(t)
            if due.any():
                running = (t + rng.uniform(0.0, 0.12), due, current, t)
                starts.append(t)
        if t > 0.2:
            assert not plan.stale(t), f"frame {i}: a cell went unswept past its limit"
            assert (t - last_swept <= s.still_limit_s).all()
    assert np.diff(starts[1:]).min() >= s.gap_s - 1e-9, "sweeps start at least gap_s apart"


def test_a_still_scene_is_swept_at_the_still_interval_and_a_change_at_once_where_it_is():
    plan = SweepPlan()
    s = plan.settings
    plan.observe(thumb(), 0.0)
    assert plan.due(0.0).all(), "nothing swept yet: everything is due"
    assert plan.stale(0.0), "nothing swept yet: not publishable"
    plan.swept(None, thumb(), 0.0)
    for t in np.arange(0.0, s.still_every_s - 0.01, 1 / 30):
        plan.observe(thumb(), t)
        assert not plan.due(t).any(), t
        assert not plan.stale(t), t
    plan.observe(thumb(), s.still_every_s)
    assert plan.due(s.still_every_s).all()
    plan.swept(None, thumb(), s.still_every_s)

    t = s.still_every_s + s.every_s + 0.01
    plan.observe(thumb({(1, 0): 30.0}), t)  # someone appears at the left
    due = plan.due(t)
    assert due[1, 0] and due.sum() == 1, due
    assert not plan.stale(t + s.limit_s - 0.01), "a change may wait up to its limit"
    assert plan.stale(t + s.limit_s + 0.01), "a change unswept past its limit is not published"


def test_regions_cover_the_due_cells_with_a_margin_and_the_whole_frame_when_most_is_due():
    plan = SweepPlan(SweepPlanSettings(margin=0.25))
    one = np.zeros((ROWS, COLS), bool)
    one[1, 0] = True
    assert plan.regions(one, 1280, 720) == [(0, 180, 400, 540)]
    two = one.copy()
    two[0, 3] = True
    assert sorted(plan.regions(two, 1280, 720)) == [(0, 180, 400, 540), (880, 0, 1280, 300)]
    most = np.ones((ROWS, COLS), bool)
    most[0, 0] = False
    assert plan.regions(most, 1280, 720) is None

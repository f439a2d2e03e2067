"""The two tiers of live detection (AnonymizerSettings.two_tiers): the fast tier checks every frame, the
sweep thread runs CenterFace and the tiles by need, and the fail-closed rule sits in one place."""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import STILL, sample_boxes

from vcam.detection.scan import ScanResult, ScanSettings
from vcam.evaluation.metrics import detail_correlation
from vcam.frames import Frame
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import STATUS_ERROR, STATUS_SLOW, SWEEP_NICENESS, Anonymizer, AnonymizerSettings
from vcam.pipeline.sources import read_image

EFFECT = effects.EffectSettings()
BUDGET = 1 / 30


class TierScanner:
    """Fast tier finds nothing and answers at once; the sweep can be held (a hung or slow sweep)."""

    def __init__(self, *, fast_raises: threading.Event | None = None) -> None:
        self.settings = ScanSettings()
        self.sweep_open = threading.Event()
        self.sweep_open.set()
        self.sweeps: list[float] = []
        self.regions: list[list | None] = []
        self.fast_raises = fast_raises or threading.Event()

    def warm_up(self) -> None:
        pass

    def scan(self, image, t, tracked, budget_s=None, *, tier="all", regions=None, changes=None, **_options):
        if tier == "sweep":
            self.sweep_open.wait(30)
            self.sweeps.append(t)
            self.regions.append(regions)
        elif self.fast_raises.is_set():
            raise RuntimeError("fast tier failed")
        return ScanResult([], [], 0.0, checked=changes or [])  # the fast tier looks at every change

    def close(self) -> None:
        pass


def settings(**changes) -> AnonymizerSettings:
    return AnonymizerSettings(two_tiers=True, **changes)


def play(anon: Anonymizer, image: np.ndarray, start: int, count: int, t0: float = 0.0):
    """Frames at 30 fps of capture time, each processed as live does (a budget, a deadline)."""
    outs = []
    for i in range(start, start + count):
        frame = Frame(image, t0 + i / 30, i)
        outs.append(anon.process(frame, EFFECT, wait_s=0.5, budget_s=BUDGET))
        time.sleep(0.005)
    return outs


def still() -> np.ndarray:
    return np.full((360, 640, 3), 120, np.uint8)


def assert_passes_while(outs, start: int, passes, status: str, s: AnonymizerSettings, last=None) -> None:
    """Frames captured while `passes(t)` pass the publish rule; none after does: the last frame that passed
    (`last` before these) leaves again, the very same pixels, while it is at most `repeat_s` older, then the
    curtain with `status`."""
    for i, out in enumerate(outs, start=start):
        t = i / 30
        if passes(t):
            assert out.curtain is None and not out.repeat, (i, out.curtain)
            last = out
        elif last is not None and t - last.frame.t <= s.rule.repeat_s:
            assert out.repeat and out.image is last.image and out.curtain is None, (i, out.curtain, out.repeat)
        else:
            assert out.curtain == status and not out.repeat, (i, out.curtain)
    assert outs[-1].curtain == status, "the limit and the repeat were both reached in this test"


def test_no_frame_is_published_once_a_still_scenes_last_sweep_is_older_than_its_limit():
    scanner = TierScanner()
    s = settings()
    with Anonymizer(s, scanner_factory=lambda _: scanner) as anon:
        assert anon.wait_ready(5)
        outs = play(anon, still(), 0, 10)
        assert outs[-1].curtain is None, "swept and checked: published"
        scanner.sweep_open.clear()  # the sweep hangs from here on
        outs = play(anon, still(), 10, 50)
    swept = max(scanner.sweeps)
    assert_passes_while(outs, 10, lambda t: t - swept <= s.sweeps.still_limit_s, STATUS_SLOW, s)
    assert all(out.behind for out in outs if out.repeat or out.curtain), "held back for want of time"


def test_a_change_left_unswept_longer_than_its_limit_is_not_published():
    """The picture moves while the sweep hangs: frames go out until the change is `limit_s` old, not later."""
    scanner = TierScanner()
    s = settings()
    moved = still()
    moved[:, :150] = 170  # a change, not a new scene (the thumbnail's mean change stays under CUT_THRESHOLD)
    with Anonymizer(s, scanner_factory=lambda _: scanner) as anon:
        assert anon.wait_ready(5)
        before = play(anon, still(), 0, 10)[-1]
        assert before.curtain is None
        scanner.sweep_open.clear()
        outs = play(anon, moved, 10, 45)
    assert_passes_while(outs, 10, lambda t: t - 10 / 30 <= s.sweeps.limit_s, STATUS_SLOW, s, before)


def test_a_still_scene_is_swept_at_its_interval_and_motion_is_swept_sooner_where_it_is():
    scanner = TierScanner()
    s = settings()
    image = still()
    with Anonymizer(s, scanner_factory=lambda _: scanner) as anon:
        assert anon.wait_ready(5)
        play(anon, image, 0, 75)  # 2.5 s of a still scene
        gaps = np.diff(scanner.sweeps)
        assert len(scanner.sweeps) >= 3 and gaps.max() <= s.sweeps.still_every_s + 0.1, scanner.sweeps
        assert gaps.min() >= s.sweeps.still_every_s - s.sweeps.every_s - 0.05, "a still scene is not swept often"
        i, count = 75, len(scanner.sweeps)
        while len(scanner.sweeps) == count:  # right after a sweep of the still scene, so none is due for a while
            play(anon, image, i, 1)
            i += 1
        play(anon, image, i, 6)
        before = len(scanner.sweeps)
        moved = image.copy()
        moved[:, :150] = 170  # someone walks in at the left: the picture changes, not a new scene
        play(anon, moved, i + 6, 12)
        time.sleep(0.1)
    first_after = scanner.sweeps[before:]
    moved_at = (i + 6) / 30
    assert first_after and first_after[0] - moved_at <= s.sweeps.every_s, "motion is swept before the still interval"
    region = scanner.regions[before]
    assert region is not None, "only the part that moved is swept"
    assert all(x0 == 0 and x1 < 640 * 0.6 for x0, _, x1, _ in region), region


def test_no_frame_whose_fast_tier_failed_is_published():
    fail = threading.Event()
    scanner = TierScanner(fast_raises=fail)
    s = settings()
    with Anonymizer(s, scanner_factory=lambda _: scanner) as anon:
        assert anon.wait_ready(5)
        before = play(anon, still(), 0, 10)[-1]
        assert before.curtain is None
        fail.set()
        outs = play(anon, still(), 10, 30)
    # Not even an earlier check stands for them (it would, unmoved, were the detector working).
    assert_passes_while(outs, 10, lambda t: False, STATUS_ERROR, s, before)


def test_a_person_entering_a_still_scene_is_hidden_from_the_first_frame_or_curtained(sample_path):
    """Real models: the right-hand person of the shipped still appears in an empty room (painted over)."""
    image = read_image(sample_path / STILL)
    boxes = sample_boxes(STILL)
    right = max(boxes, key=lambda b: b[0])
    x, y, w, h = (int(v) for v in right)
    x0, y0 = max(0, x - w), max(0, y - h // 2)
    empty = image.copy()
    empty[y0:, x0 : x + 2 * w] = cv2.blur(image[y0:, x0 : x + 2 * w], (151, 151))  # a room without him
    with Anonymizer(settings()) as anon:
        assert anon.wait_ready(60)
        play(anon, empty, 0, 45)
        outs = play(anon, image, 45, 30)
    assert any(out.curtain is None for out in outs[-10:]), "anonymizing again once he is found"
    for out in outs:
        if out.curtain is None:
            assert detail_correlation(image, out.image, right) < 0.5, "his face left readable"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_the_sweep_thread_yields_the_cpu_to_the_fast_tier():
    """Under contention the sweep (hundreds of ms to spare) must not delay the fast tier (33 ms)."""
    with Anonymizer(settings(), scanner_factory=lambda _: TierScanner()) as anon:
        assert anon.wait_ready(5)
        play(anon, still(), 0, 5)
        nice = {}
        for thread in threading.enumerate():
            if thread.name.startswith(("vcam-sweep", "vcam-detect")):
                stat = Path(f"/proc/self/task/{thread.native_id}/stat").read_text()
                nice[thread.name.split("-")[1]] = int(stat.rsplit(")", 1)[1].split()[16])
    assert nice == {"sweep": SWEEP_NICENESS, "detect": 0}, nice

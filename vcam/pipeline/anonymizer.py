"""One frame in, one safe frame out: detect, track, hide, and fail closed.

Detection runs in a worker thread so that a slow or hung detector can never
hold a frame back or let it through: `process` waits for the result on this
very frame up to a deadline, then falls back to the newest result if it is
recent enough (the tracker extrapolates and grows the boxes), and otherwise
publishes the privacy curtain. A raw frame leaves only when anonymization is
explicitly off.

Live (`two_tiers`), detection has two tiers: the fast tier (BlazeFace on the
whole frame and on crops around tracked faces) checks every frame on that
worker, and a sweep thread runs CenterFace and the tiles on the parts of the
picture that moved, and on every part now and then (`vcam.pipeline.sweep_plan`);
its finds enter the same tracker. Whether a live frame may leave is decided in one place,
`vcam.pipeline.publish_rule.decide`; what it reads is gathered here (`_evidence`), and
when it says no, the last frame that passed is repeated for a moment, then the curtain.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial

import cv2
import numpy as np

from vcam import native_memory
from vcam.detection.detect import Region
from vcam.detection.exposure import Light, light_of
from vcam.detection.scan import Scanner, ScanSettings, Tier
from vcam.detection.track import Tracker, TrackerSettings
from vcam.frames import Box, Face, Frame, grow_box
from vcam.identity.gate import IdentityGate, IdentitySettings, with_enrolment
from vcam.identity.impostors import Calibration
from vcam.pipeline import effects
from vcam.pipeline.curtain import curtain
from vcam.pipeline.meshing import FILES as MESH_FILES
from vcam.pipeline.meshing import MeshSettings, MeshStage
from vcam.pipeline.motion import ChangeCheckSettings, CheckedPicture, MotionHistory, MotionSettings
from vcam.pipeline.publish_rule import (
    STATUS_ERROR,
    STATUS_NEW_SCENE,
    STATUS_SLOW,
    STATUS_STARTING,
    Decision,
    Evidence,
    PublishRuleSettings,
    Verdict,
    decide,
)
from vcam.pipeline.shedding import LoadShedding, SheddingSettings
from vcam.pipeline.sweep_plan import SweepPlan, SweepPlanSettings

__all__ = ["STATUS_ERROR", "STATUS_NEW_SCENE", "STATUS_SLOW", "STATUS_STARTING", "Anonymizer", "AnonymizerSettings"]

CUT_THRESHOLD = 15.0
"""Mean absolute change of a 32x18 grey thumbnail (0-255) that marks a new scene. Measured on the eval
clips: webcam motion stays under 2.5, a person walking through 11.4, the cuts of the hamilton clip 26-30."""


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A 32x18 grey summary of a frame, to notice a new scene and motion."""
    # Every 8th pixel first: 0.2 ms instead of 0.8-1.3 ms at 720p (on every live frame), and a still
    # scene still reads as still (the same pixels are sampled in every frame).
    sampled = np.ascontiguousarray(image[::8, ::8])
    small = cv2.resize(sampled, (32, 18), interpolation=cv2.INTER_AREA)
    return cv2.cvtColor(small, cv2.COLOR_BGR2GRAY).astype(np.float32)


def scene_changed(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return False
    return float(np.abs(a - b).mean()) > CUT_THRESHOLD


UNSWEPT_GROW = 1.5
"""Live, the margin of a face the fast tier found and no sweep has outlined yet (TrackerSettings.unswept_grow):
1.5 hid the tilted head entering the shipped still from its first frame (tests/test_tiers.py)."""


OUTLINE_S = 3.0
"""Live, how long a sweep's outline of a face (CenterFace's whole-head box) is carried with its track
(`TrackerSettings.outline_s`): CenterFace finds a 35 px face at 0.25-0.5 in one sweep and misses it in the
next, and for one or two sweeps the face kept only BlazeFace's brows-to-mouth box, its hair showing under load
(tests/test_publish_rule.py, the 1080p back row with a core busy: detail 0.50-0.55 at the still limit, 1.2 s)."""

LIVE_FAST_NEAR = True
"""Live, the short-range model checks every frame on the whole frame (128 px input: 3 ms against the full-range
model's 7.7 ms at 720p here) and the full-range one sweeps (`ScanSettings.fast_near`): the faces the short-range
model cannot see on the whole frame are the small ones, which the sweep finds and the crops around them follow
on every frame. In files it left more leaked face-frames (hamilton: 6 against 3 of 1266, none readable), so
files keep the full-range model."""


FILE_SWEEP_S = 0.3
"""`vcam anonymize`: every pass on one frame in 0.3 s, the fast tier between (AnonymizerSettings.file_sweep_s).
Measured in docs/history/EVALUATION-2026-11.md ("File tiers")."""


SWEEP_NICENESS = 3
"""The sweep thread's nice value on Linux: on a shared core the fast tier (33 ms to spare) gets twice its
share. At 10 (a tenth of the share) the sweep starved under another process busy on one core: with the
publish rule it then went stale and frames were held back (1080p, bench/live_leaks.py --load busy, two runs
each: bird 49 and 71 curtained frames of 300, brother 32 and 76; at 3: 22 and 27, 20 and 25; at 0: 14 and 21,
10 and 19, with capture-to-publish p99 up to 124 ms against 35-103 ms at 10 and 45-75 ms at 3)."""


REACH_SIDE = 2.5
REACH_UP = 0.5
REACH_DOWN = 6.0
"""A tracked person's reach, in face widths sideways of the face's centre and face heights above its top and
below it: where their own hands, arms and body move (a signer's hands at the forehead and the chest)."""


DARK_GROW = 1.25
"""In a frame too dark to anonymize reliably (`Light.DARK`), faces are hidden with 1.25x the margin: there the
detectors' boxes come from a lifted, noisy copy (bench/conditions.py's dark room: a quarter of its face-frames
leak even lifted), so what is found is hidden with room to spare. It does not change bench/conditions.py's file
mode counts (dim 19, dark 333 readable face-frames with and without it): the faces that leak there are not found
at all, which no margin fixes."""


def reach(box: Box) -> Box:
    """Where a tracked person's own body moves. Changes there are that person's, and are swept within the sweep
    plan's limits rather than checked on their frame: a signer's moving arms, checked on every frame, were a
    region of half a 720p frame that never fit the fast tier's budget (bench/live_leaks.py)."""
    x, y, w, h = box
    cx = x + w / 2
    return (cx - REACH_SIDE * w, y - REACH_UP * h, 2 * REACH_SIDE * w, (1 + REACH_UP + REACH_DOWN) * h)


def _yield_to_the_fast_tier() -> None:
    """Lower the calling thread's scheduling priority (Linux: niceness is per thread); elsewhere nothing."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), SWEEP_NICENESS)


@dataclass(frozen=True, slots=True)
class AnonymizerSettings:
    scan: ScanSettings = field(default_factory=ScanSettings)
    tracker: TrackerSettings = field(default_factory=TrackerSettings)
    stale_after_s: float = 0.2
    """Newest detection older than this (relative to the frame) means the frame is curtained."""
    hang_after_s: float = 3.0
    """A detection call running longer than this is abandoned and the detector recreated."""
    rebuild_after: int = 3
    """Failed scans in a row before the models are recreated."""
    two_tiers: bool = False
    """Live: the fast tier (BlazeFace on the whole frame and on crops around tracked faces) checks every
    frame on the detection thread, and a sweep thread runs CenterFace and the tiles by need. Files (and
    frames processed without a budget) run every pass on every frame instead."""
    sweeps: SweepPlanSettings = field(default_factory=SweepPlanSettings)
    """Live: which parts of the picture the sweep looks at and when, and how old a sweep may be before frames
    are curtained (`vcam.pipeline.sweep_plan`)."""
    file_sweep_s: float = 0.0
    """Files: every pass on one frame in this many seconds (and on every new scene), the fast tier on
    the frames between; what a sweep finds is also hidden on the frames since the previous sweep (a
    file can look back). 0: every pass on every frame."""
    identity: IdentitySettings = field(default_factory=IdentitySettings)
    """"Hide everyone but me": the enrolment and the rules of `vcam.identity.gate`."""
    rule: PublishRuleSettings = field(default_factory=PublishRuleSettings)
    """Live: the publish rule's bounds (`vcam.pipeline.publish_rule`)."""
    motion: MotionSettings = field(default_factory=MotionSettings)
    """Live: what counts as a change of the picture (`vcam.pipeline.motion`)."""
    shedding: SheddingSettings = field(default_factory=SheddingSettings)
    """Live: when the stage is behind, and sheds the sweep's tiles and postpones it (`vcam.pipeline.shedding`)."""
    change_check: ChangeCheckSettings = field(default_factory=ChangeCheckSettings)
    """Live: how the fast tier looks at the parts of the picture that changed since they were checked for
    small faces (`vcam.pipeline.motion.CheckedPicture`)."""
    still_refresh_s: float = 0.25
    """Live: a tracked face whose surroundings did not move since it was detected gets its zoomed crop only
    when it was last detected this long ago (so its track, held `TrackerSettings.hold_s`, stays fresh), not
    on every frame: in a crowd most faces sit still, and their crops were the fast tier's largest cost (11 of
    its 12 detector calls per frame on the 1080p mosaic of bench/live_leaks.py)."""


@dataclass(frozen=True, slots=True)
class Output:
    image: np.ndarray
    faces: list[Face]
    curtain: str | None
    detect_s: float
    frame: Frame
    shown: tuple[Face, ...] = ()
    """Faces left visible as the enrolled user ("hide everyone but me"); not in `faces`."""
    repeat: bool = False
    """Live: this frame did not pass the publish rule, and `image` is the last one that did (made from `frame`,
    an earlier camera frame)."""
    behind: bool = False
    """Live: the frame did not pass for want of time (the stage is overloaded), not for a start, a new scene or
    a failure."""


@dataclass
class _Job:
    frame: Frame
    budget_s: float | None
    detection_range: str | None = None
    thumb: np.ndarray | None = None
    new_scene: bool = False
    tier: Tier = "all"
    keep_s: float = 0.0
    still: frozenset[int] = frozenset()
    changes: list[Region] | None = None
    light: tuple[Light, float] | None = None
    """The frame's `exposure.light_of`, judged once in `process` for every scan of it."""
    scene: int = 0
    """Which scene the frame belongs to (`Anonymizer._scene`): a worker whose last scan was of another scene
    scans this one thoroughly, even when the cut's own frame was dropped for a newer one before it was scanned."""


class Anonymizer:
    """Owns the detection worker and the tracker. Use as a context manager, or call `close`."""

    def __init__(
        self,
        settings: AnonymizerSettings | None = None,
        scanner_factory: Callable[[ScanSettings], Scanner] | None = None,
    ) -> None:
        self.settings = settings or AnonymizerSettings()
        self._scanner_factory = scanner_factory or (lambda s: Scanner(s))
        self._cond = threading.Condition()
        tracker = self.settings.tracker
        if self.settings.two_tiers:
            tracker = replace(tracker, unswept_grow=UNSWEPT_GROW, outline_s=OUTLINE_S)
            if self.settings.scan.fast_near is None:
                self.settings = replace(self.settings, scan=replace(self.settings.scan, fast_near=LIVE_FAST_NEAR))
        self._tracker = Tracker(tracker)
        self._job: _Job | None = None
        self._ready = False
        self._error: str | None = None
        self._result_t: float | None = None
        self._result_index = -1
        self._result_thumb: np.ndarray | None = None
        self._last_thumb: np.ndarray | None = None
        self._detect_s = 0.0
        self._busy_since: float | None = None
        self._swept_index = -1
        self._plan = SweepPlan(self.settings.sweeps)
        self._sweep_job: _Job | None = None
        self._scene = 0
        self._cuts = 0
        """New scenes and resets so far: a change tells the identity gate to forget its checks."""
        self._gate: IdentityGate | None = None
        self._motion = MotionHistory(self.settings.motion)
        self._checked = CheckedPicture(self.settings.motion.step, self.settings.change_check)
        self._shedding = LoadShedding(self.settings.shedding)
        self._light = Light.GOOD
        self._meshes = MeshStage(MeshSettings() if self.settings.two_tiers else MESH_FILES)
        """The avatar's meshes and each track's smoothed expression (only styles that draw from a mesh)."""
        self._last_safe: Output | None = None
        """Live: the last output that passed the publish rule, to repeat while a frame cannot pass."""
        self.sweeps = 0
        self._generation = 0
        self._closed = False
        self.detector_restarts = 0
        self.detector_errors = 0
        self._start_worker()

    # -- worker -------------------------------------------------------------------------
    def _start_worker(self) -> None:
        self._generation += 1
        self._ready = False
        gen = self._generation
        self._thread = threading.Thread(target=self._work, args=(gen,), name=f"vcam-detect-{gen}", daemon=True)
        self._thread.start()
        self._sweeper: threading.Thread | None = None
        if self.settings.two_tiers:
            self._sweeper = threading.Thread(
                target=self._sweep_work, args=(gen,), name=f"vcam-sweep-{gen}", daemon=True
            )
            self._sweeper.start()

    def _work(self, gen: int) -> None:
        """Detection loop: always works on the newest submitted frame, drops older ones.

        A failing scan curtains at once. The models are only recreated after `rebuild_after`
        failures in a row, and with growing pauses: native runtimes keep memory per detector ever
        created (mediapipe kept ~3 MB each, measured before the switch to LiteRT), so rebuilding on
        every error of a persistent fault would grow memory without end.
        """
        scanner: Scanner | None = None
        failures = 0
        scanned_scene: int | None = None
        while True:
            if scanner is None:
                try:
                    scanner = self._make_scanner()
                except Exception as exc:  # noqa: BLE001 - a model that fails to load curtains, never crashes
                    with self._cond:
                        self._error = f"{type(exc).__name__}: {exc}"
                        self._cond.notify_all()
                        self._cond.wait(1.0)
                        if self._closed or gen != self._generation:
                            return
                    continue
                with self._cond:
                    if gen == self._generation:
                        self._ready = True
                    self._cond.notify_all()
            with self._cond:
                while self._job is None and not self._closed and gen == self._generation:
                    self._cond.wait(0.5)
                if self._closed or gen != self._generation:
                    break
                job, self._job = self._job, None
                self._busy_since = time.monotonic()
                expected = self._tracker.faces_at(job.frame.t)
            if job.detection_range and job.detection_range != scanner.settings.detection_range:
                # A live change from the tray: models load lazily, so the switch costs one slow frame at most.
                scanner.settings = replace(scanner.settings, detection_range=job.detection_range)
            try:
                result = scanner.scan(
                    job.frame.image,
                    job.frame.t,
                    expected,
                    job.budget_s,
                    thorough=job.new_scene or job.scene != scanned_scene,
                    tier=job.tier,
                    still=job.still,
                    changes=job.changes,
                    light=job.light,
                )
            except Exception as exc:  # noqa: BLE001 - any detector failure must curtain, not crash
                failures += 1
                with self._cond:
                    self.detector_errors += 1
                    self._error = f"{type(exc).__name__}: {exc}"
                    self._busy_since = None
                    self._ready = False
                    self._cond.notify_all()
                if failures >= self.settings.rebuild_after:
                    scanner.close()
                    scanner = None
                    native_memory.trim()
                    pause = min(30.0, 0.5 * 2 ** (failures - self.settings.rebuild_after))
                    with self._cond:
                        self._cond.wait_for(lambda: self._closed or gen != self._generation, timeout=pause)
                continue
            failures = 0
            scanned_scene = job.scene
            with self._cond:
                if gen != self._generation:
                    break
                self._busy_since = None
                self._error = None
                self._ready = True
                if self._result_t is None or job.frame.t >= self._result_t:
                    self._tracker.update(result.faces, job.frame.t, keep_s=job.keep_s)
                    self._tracker.release_unverified(result.cleared, job.frame.t)
                    self._mark_checked(result.checked, job.frame)
                    self._result_t = job.frame.t
                    self._result_index = job.frame.index
                    self._result_thumb = job.thumb
                    self._detect_s = result.elapsed_s
                    if job.tier == "all":
                        self._swept(job)
                self._cond.notify_all()
        if scanner is not None:
            scanner.close()
            native_memory.trim()

    def _swept(self, job: _Job, cells: np.ndarray | None = None, regions: list[Region] | None = None) -> None:
        """Record a completed sweep of `cells` (None: every cell), `regions` of the job's frame (None: all of it)
        (caller holds the lock)."""
        self._swept_index = max(self._swept_index, job.frame.index)
        if job.thumb is not None:
            self._plan.swept(cells, job.thumb, job.frame.t)
        if self.settings.two_tiers:
            self._mark_checked(regions, job.frame)
        self.sweeps += 1

    def _mark_checked(self, regions: list[Region] | None, frame: Frame) -> None:
        """Regions of `frame` (None: all of it) checked for small faces (caller holds the lock)."""
        if regions is not None and not regions:
            return
        small = self._motion.small_at(frame.t)
        if small is not None:
            self._checked.mark(regions, small, frame.t, frame.size)

    def _sweep_due(self) -> np.ndarray | None:
        """The cells the sweep thread should look at now, or None (caller holds the lock)."""
        job = self._sweep_job
        if job is None or job.frame.index <= self._swept_index:
            return None
        cells = self._plan.due(job.frame.t, postpone=self._shedding.behind)
        return cells if cells.any() else None

    def _sweep_work(self, gen: int) -> None:
        """The sweep tier: CenterFace and the tiles on the parts of the newest frame the sweep plan calls due
        (moved, or not looked at for a while). Its finds enter the tracker; a failing or hung sweep is not
        waited for, it simply stops being recent, and `process` then curtains (`SweepPlan.stale`)."""
        _yield_to_the_fast_tier()
        scanner: Scanner | None = None
        failures = 0
        swept_scene: int | None = None
        while True:
            with self._cond:
                cells = None
                while not (self._closed or gen != self._generation):
                    cells = self._sweep_due()
                    if cells is not None:
                        break
                    self._cond.wait(0.02)
                if self._closed or gen != self._generation:
                    break
                job, scene, shed = self._sweep_job, self._scene, self._shedding.behind
                assert job is not None and cells is not None
                expected = self._tracker.faces_at(job.frame.t)
            h, w = job.frame.image.shape[:2]
            regions = self._plan.regions(cells, w, h)
            if regions is None:
                cells = np.ones_like(cells)
            try:
                if scanner is None:
                    scanner = self._make_scanner()
                if job.detection_range and job.detection_range != scanner.settings.detection_range:
                    scanner.settings = replace(scanner.settings, detection_range=job.detection_range)
                result = scanner.scan(
                    job.frame.image,
                    job.frame.t,
                    expected,
                    None,
                    tier="sweep",
                    thorough=scene != swept_scene,
                    regions=regions,
                    tiles=not shed,
                    light=job.light,
                )
            except Exception as exc:  # noqa: BLE001 - a failing sweep curtains by going stale, never crashes
                failures += 1
                with self._cond:
                    self.detector_errors += 1
                    self._error = f"sweep: {type(exc).__name__}: {exc}"
                    if failures >= self.settings.rebuild_after and scanner is not None:
                        scanner.close()
                        scanner = None
                    self._cond.wait_for(lambda: self._closed or gen != self._generation, timeout=0.5)
                continue
            failures = 0
            swept_scene = scene
            with self._cond:
                if gen != self._generation:
                    break
                if scene == self._scene:  # a sweep of the scene before a cut says nothing about this one
                    # What the sweep found stays hidden until the next sweep could have found it again: the
                    # fast tier misses tilted and turned heads that CenterFace finds (live, held only the
                    # usual 0.5 s, the head-pose clip leaked 70 face-frames between sweeps). Every part of the
                    # picture is swept again within `still_limit_s` or frames are curtained; a sweep of the
                    # part that does not find it again ends the hold.
                    self._tracker.update(
                        result.faces,
                        job.frame.t,
                        keep_s=self.settings.sweeps.still_limit_s,
                        looked_at=partial(self._plan.covers, cells, width=w, height=h),
                    )
                    self._tracker.release_unverified(result.cleared, job.frame.t)
                    self._swept(job, cells, regions)
                self._cond.notify_all()
        if scanner is not None:
            scanner.close()

    def _make_scanner(self) -> Scanner:
        scanner = self._scanner_factory(self.settings.scan)
        scanner.warm_up()
        return scanner

    # -- public -------------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        with self._cond:
            return self._ready

    def wait_ready(self, timeout: float) -> bool:
        """Block until the models are loaded (or `timeout`); True when ready."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._ready and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
            return self._ready

    def process(
        self,
        frame: Frame,
        effect: effects.EffectSettings,
        *,
        enabled: bool = True,
        wait_s: float | None = None,
        budget_s: float | None = None,
        detection_range: str | None = None,
        render: bool = True,
        tier: Tier | None = None,
        keep_s: float = 0.0,
        show_enrolled: bool | None = None,
        late_s: float = 0.0,
    ) -> Output:
        """Anonymize one frame.

        `wait_s` is how long to wait for detection on this frame (None: until
        it is done, bounded by `hang_after_s`); `budget_s` is the time the
        scanner may spend (None: run every pass); `detection_range` switches
        the scanner's range from this frame on (None: keep it). Without
        `render` only the decision is made (faces, curtain) and `image` is the
        input, untouched: for a worker whose caller hides the pixels itself.
        `tier` picks the scanner's passes for this frame without a budget (files:
        "fast" on most frames, "all" on sweep frames; a new scene always gets
        "all"), and `keep_s` holds what this frame's scan found at least that
        long (a sweep's finds until the next sweep). `show_enrolled` leaves the
        enrolled user's face visible (None: `settings.identity.show_enrolled`).
        Live (two tiers and a budget), the publish rule decides; a frame the fast tier has not checked by
        `wait_s` is waited for up to `late_s` longer when no earlier check can stand for it.
        """
        if not enabled:
            with self._cond:
                self._last_safe = None  # a pause ends what may be repeated: only frames made after it
            return Output(frame.image, [], None, 0.0, frame)
        s = self.settings
        limit = s.hang_after_s if wait_s is None else wait_s
        deadline = time.monotonic() + limit
        judged = light_of(frame.image, s.scan.exposure) if s.scan.exposure is not None else None
        light = judged[0] if judged is not None else Light.GOOD
        if light in (Light.DARK, Light.BLACK):
            effect = replace(effect, margin=effect.margin * DARK_GROW)
        thumb = thumbnail(frame.image)
        tiered = s.two_tiers and budget_s is not None
        if s.two_tiers:
            # Live hides the ellipse, never the mesh's outline: the publish rule's bounds (a face's measured growth
            # covered by the grown box) hold for the ellipse around the box, and the tighter outline let
            # bench/live_leaks.py's faces through (1080p with a core busy: 0 -> 55 readable face-frames).
            effect = replace(effect, mesh_outline=False)
        decision: Decision | None = None
        with self._cond:
            self._light = light
            new_scene = scene_changed(thumb, self._last_thumb)
            self._last_thumb = thumb
            self._cuts += new_scene
            job_tier: Tier = "fast" if tiered else "all"
            if tier is not None and not tiered:
                job_tier = "all" if new_scene else tier
            self._job = _Job(frame, budget_s, detection_range, thumb, new_scene, job_tier, keep_s, light=judged)
            if tiered:
                if new_scene:
                    self._scene += 1
                    self._plan.reset()
                    self._checked.reset()
                    self._tracker.doubt()
                self._job.scene = self._scene
                self._plan.observe(thumb, frame.t)
                self._motion.observe(frame.image, frame.t)
                self._job.still = self._tracker.still(frame.t, self._motion.moved, s.still_refresh_s, self._precise)
                unchecked = self._unchecked(frame, effect.margin)
                self._job.changes = unchecked[0] if unchecked is not None else None
                self._sweep_job = self._job
            self._cond.notify_all()
            self._wait_for(frame, deadline)
            if tiered:
                decision, faces = self._decide(frame, thumb, effect.margin)
                if decision.verdict is not Verdict.PUBLISH and late_s > 0 and self._result_index < frame.index:
                    # Not checked in time, and an earlier check cannot stand for it: a late frame that passes
                    # beats a repeated one.
                    self._wait_for(frame, deadline + late_s)
                    decision, faces = self._decide(frame, thumb, effect.margin)
                status = None if decision.verdict is Verdict.PUBLISH else decision.reason
                self._shedding.record(decision.behind)
            else:
                status = self._status(frame, thumb)
                faces = [] if status else self._tracker.faces_at(frame.t)
            detect_s = self._detect_s
            cuts = self._cuts
            last_safe = self._last_safe
        if decision is not None and decision.verdict is Verdict.REPEAT and last_safe is not None:
            return replace(last_safe, detect_s=detect_s, repeat=True, behind=decision.behind)
        show = s.identity.show_enrolled if show_enrolled is None else show_enrolled
        shown: tuple[Face, ...] = ()
        if show and faces and not status:
            keep = self.identity_gate().shown(frame, faces, cuts)
            shown = tuple(f for f in faces if f.track_id in keep)
            faces = [f for f in faces if f.track_id not in keep]
        if not render:
            return Output(frame.image, faces, status, detect_s, frame, shown)
        if status:
            behind = decision is not None and decision.behind
            return Output(curtain(frame.image, status), [], status, detect_s, frame, behind=behind)
        image, faces = self._meshes.hide(frame.image, faces, effect, frame.t, light if judged is not None else None)
        out = Output(image, faces, None, detect_s, frame, shown)
        if tiered:
            with self._cond:
                if self._last_safe is None or frame.t >= self._last_safe.frame.t:
                    self._last_safe = out
        return out

    def _unchecked(self, frame: Frame, margin: float) -> tuple[list[Region], float] | None:
        """Where `frame` changed since it was last checked for small faces, outside the hidden areas, and how
        long the oldest such change has gone unchecked; None: nothing of this scene was checked yet (caller
        holds the lock)."""
        small = self._motion.small_at(frame.t)
        if small is None:
            return None
        faces = self._tracker.faces_at(frame.t, self._motion.moved)
        covers = [grow_box(f.box, margin) for f in faces]
        reaches: list[Box] = []
        watched: list[Box] = []
        for f in faces:
            (reaches if not f.unverified and self._placed(f) else watched).append(reach(f.box))
        levels = self._motion.current_levels()
        return self._checked.unchecked(small, levels, covers, frame.size, frame.t, reaches, watched)

    def _placed(self, face: Face) -> bool:
        """Whether a tracked face is where its box says: found by the newest fast-tier check, or nothing moved
        around it since it was found. Only such a face lends its body's reach: a held face that moved is a
        guess, and changes beside it may be the face itself. A walker whose 35 px face the budget-short fast
        tier did not crop for 0.4-0.7 s walked out of his held box inside its reach, and was published
        readable (tests/test_publish_rule.py's busy core under two more busy processes: 4 runs of 10 leaked)."""
        if self._result_t is not None and face.last_seen >= self._result_t:
            return True
        return not self._motion.moved(face.box, face.last_seen)

    def _precise(self, face: Face) -> bool:
        """A detection good enough to stand while its face sits still: a zoomed crop's, or a confident one. The
        short-range model's unsure box on the whole frame is a head-and-shoulders guess (0.5, twice the face):
        skipping the crop that replaces it left a signer's torso unchecked under it (brother, 720p live)."""
        return face.source.endswith(" crop") or face.score >= self.settings.scan.verify_blazeface_below

    def _wait_for(self, frame: Frame, deadline: float) -> None:
        """Wait (holding the lock) until the fast tier has checked `frame`, a failure, or `deadline`."""
        while self._result_index < frame.index and not self._closed:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            if self._error is not None and not self._ready:
                break
            self._cond.wait(min(left, 0.05))
        self._check_hang()

    def _decide(self, frame: Frame, thumb: np.ndarray, margin: float) -> tuple[Decision, list[Face]]:
        """The publish rule's verdict on a live frame, and the faces to hide if it passes (caller holds the lock).

        Everything the rule reads is gathered here, from the tracker, the sweep plan and the motion history."""
        faces, overgrown = self._tracker.covers(frame.t, self._motion.moved)
        checked_t = self._result_t
        late = checked_t is not None and self._result_index != frame.index
        unchecked = self._unchecked(frame, margin)
        evidence = Evidence(
            t=frame.t,
            checked_t=checked_t,
            moved_since_check=late and self._motion.moved_outside([f.box for f in faces], checked_t, margin),
            swept=self._plan.started and not self._plan.stale(frame.t),
            sweep_started=self._plan.started,
            overgrown=overgrown,
            unchecked_change_s=float("inf") if unchecked is None else unchecked[1] if unchecked[0] else None,
            last_safe_t=self._last_safe.frame.t if self._last_safe is not None else None,
            error=self._error,
            new_scene=late and scene_changed(thumb, self._result_thumb),
            too_dark=self._light is Light.BLACK,
        )
        decision = decide(evidence, self.settings.rule)
        return decision, faces

    @property
    def light(self) -> Light:
        """How far the newest frame's light lets detection be trusted (`vcam.detection.exposure`)."""
        with self._cond:
            return self._light

    @property
    def behind(self) -> bool:
        """Live: the stage is behind (enough recent frames held back for want of time) and sheds load."""
        with self._cond:
            return self._shedding.behind

    def set_enrolled(self, embeddings: np.ndarray, calibration: Calibration | None = None) -> None:
        """A new enrolment (or none, shape (0, 128)) with its own thresholds from the next frame on. A gate
        not made yet is not made for this: it starts from the settings, which now carry the new enrolment."""
        with self._cond:
            identity = with_enrolment(self.settings.identity, embeddings, calibration)
            self.settings = replace(self.settings, identity=identity)
            gate = self._gate
        if gate is not None:
            gate.set_enrolled(embeddings, calibration)

    def identity_gate(self) -> IdentityGate:
        """The "hide everyone but me" gate, made on first use: live (a budget, two tiers) its checks run on
        a thread of their own; files check in line, on the file's clock."""
        with self._cond:
            if self._gate is None:
                self._gate = IdentityGate(self.settings.identity, background=self.settings.two_tiers)
            return self._gate

    def _status(self, frame: Frame, thumb: np.ndarray) -> str | None:
        if self._result_t is None:
            return STATUS_ERROR if self._error else STATUS_STARTING
        age = frame.t - self._result_t
        if age > self.settings.stale_after_s or age < -1.0:
            return STATUS_ERROR if self._error else STATUS_SLOW
        if self._result_index != frame.index and scene_changed(thumb, self._result_thumb):
            # The newest detections belong to another scene (a cut, another camera): they say nothing
            # about the faces in this one, however recent they are.
            return STATUS_NEW_SCENE
        return None

    def _check_hang(self) -> None:
        busy = self._busy_since
        if busy is not None and time.monotonic() - busy > self.settings.hang_after_s:
            self.detector_restarts += 1
            self._error = "detector hung"
            self._busy_since = None
            self._start_worker()

    def reset(self) -> None:
        """Forget all tracks and results (e.g. after the camera changed): the next frame must be detected afresh."""
        with self._cond:
            self._tracker.reset()
            self._result_t = None
            self._result_index = -1
            self._result_thumb = self._last_thumb = None
            self._sweep_job = None
            self._swept_index = -1
            self._plan.reset()
            self._motion.clear()
            self._checked.reset()
            self._shedding.reset()
            self._last_safe = None
            self._scene += 1
            self._cuts += 1
        self._meshes.reset()

    def close(self) -> None:
        """Stop the worker and release the models (waits briefly; a hung detector thread is abandoned)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            gate = self._gate
        if gate is not None:
            gate.close()
        self._meshes.close()
        for thread in (self._thread, self._sweeper):
            if thread is not None and thread is not threading.current_thread():
                thread.join(timeout=2.0)

    def __enter__(self) -> Anonymizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

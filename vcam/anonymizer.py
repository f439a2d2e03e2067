"""One frame in, one safe frame out: detect, track, hide, and fail closed.

Detection runs in a worker thread so that a slow or hung detector can never
hold a frame back or let it through: `process` waits for the result on this
very frame up to a deadline, then falls back to the newest result if it is
recent enough (the tracker extrapolates and grows the boxes), and otherwise
publishes the privacy curtain. A raw frame leaves only when anonymization is
explicitly off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from vcam import effects, native_memory
from vcam.curtain import curtain
from vcam.frames import Face, Frame
from vcam.scan import Scanner, ScanSettings
from vcam.track import Tracker, TrackerSettings

STATUS_STARTING = "Privacy curtain: starting face detection"
STATUS_ERROR = "Privacy curtain: face detection failed, restarting"
STATUS_SLOW = "Privacy curtain: face detection is behind"
STATUS_NEW_SCENE = "Privacy curtain: new scene, checking for faces"

CUT_THRESHOLD = 15.0
"""Mean absolute change of a 32x18 grey thumbnail (0-255) that marks a new scene. Measured on the eval
clips: webcam motion stays under 2.5, a person walking through 11.4, the cuts of the hamilton clip 26-30."""


def thumbnail(image: np.ndarray) -> np.ndarray:
    """A 32x18 grey summary of a frame (~0.2 ms at 720p), to notice a new scene."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    return cv2.resize(grey, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32)


def scene_changed(a: np.ndarray | None, b: np.ndarray | None) -> bool:
    if a is None or b is None:
        return False
    return float(np.abs(a - b).mean()) > CUT_THRESHOLD


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


@dataclass(frozen=True, slots=True)
class Output:
    image: np.ndarray
    faces: list[Face]
    curtain: str | None
    detect_s: float
    frame: Frame


@dataclass
class _Job:
    frame: Frame
    budget_s: float | None
    detection_range: str | None = None
    thumb: np.ndarray | None = None
    new_scene: bool = False


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
        self._tracker = Tracker(self.settings.tracker)
        self._job: _Job | None = None
        self._ready = False
        self._error: str | None = None
        self._result_t: float | None = None
        self._result_index = -1
        self._result_thumb: np.ndarray | None = None
        self._last_thumb: np.ndarray | None = None
        self._detect_s = 0.0
        self._busy_since: float | None = None
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

    def _work(self, gen: int) -> None:
        """Detection loop: always works on the newest submitted frame, drops older ones.

        A failing scan curtains at once. The models are only recreated after `rebuild_after`
        failures in a row, and with growing pauses: native runtimes keep memory per detector ever
        created (mediapipe kept ~3 MB each, measured before the switch to LiteRT), so rebuilding on
        every error of a persistent fault would grow memory without end.
        """
        scanner: Scanner | None = None
        failures = 0
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
                result = scanner.scan(job.frame.image, job.frame.t, expected, job.budget_s, thorough=job.new_scene)
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
            with self._cond:
                if gen != self._generation:
                    break
                self._busy_since = None
                self._error = None
                self._ready = True
                if self._result_t is None or job.frame.t >= self._result_t:
                    self._tracker.update(result.faces, job.frame.t)
                    self._tracker.release_unverified(result.cleared, job.frame.t)
                    self._result_t = job.frame.t
                    self._result_index = job.frame.index
                    self._result_thumb = job.thumb
                    self._detect_s = result.elapsed_s
                self._cond.notify_all()
        if scanner is not None:
            scanner.close()
            native_memory.trim()

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
    ) -> Output:
        """Anonymize one frame.

        `wait_s` is how long to wait for detection on this frame (None: until
        it is done, bounded by `hang_after_s`); `budget_s` is the time the
        scanner may spend (None: run every pass); `detection_range` switches
        the scanner's range from this frame on (None: keep it).
        """
        if not enabled:
            return Output(frame.image, [], None, 0.0, frame)
        s = self.settings
        limit = s.hang_after_s if wait_s is None else wait_s
        deadline = time.monotonic() + limit
        thumb = thumbnail(frame.image)
        with self._cond:
            new_scene = scene_changed(thumb, self._last_thumb)
            self._last_thumb = thumb
            self._job = _Job(frame, budget_s, detection_range, thumb, new_scene)
            self._cond.notify_all()
            while self._result_index < frame.index and not self._closed:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                if self._error is not None and not self._ready:
                    break
                self._cond.wait(min(left, 0.05))
            self._check_hang()
            status = self._status(frame, thumb)
            faces = [] if status else self._tracker.faces_at(frame.t)
            detect_s = self._detect_s
        if status:
            return Output(curtain(frame.image, status), [], status, detect_s, frame)
        return Output(effects.apply(frame.image, faces, effect), faces, None, detect_s, frame)

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

    def close(self) -> None:
        """Stop the worker and release the models (waits briefly; a hung detector thread is abandoned)."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)

    def __enter__(self) -> Anonymizer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

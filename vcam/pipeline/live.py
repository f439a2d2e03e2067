"""The live loop: newest camera frame -> anonymizer (within the frame budget) -> sink, at the camera's rate.

A capture thread keeps only the newest frame, so a slow stage drops frames
instead of building a backlog and a growing delay. When the camera is lost
the loop keeps publishing curtain frames (call apps drop a silent device)
and the capture thread reopens the camera with backoff.
"""

from __future__ import annotations

import contextlib
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from vcam.detection.exposure import TOO_DARK, Light
from vcam.detection.track import count_people
from vcam.frames import Frame
from vcam.pipeline.anonymizer import Anonymizer
from vcam.pipeline.controls import LiveControls
from vcam.pipeline.curtain import curtain
from vcam.pipeline.publish_rule import STATUS_STARTING
from vcam.pipeline.sinks import Sink, SinkError
from vcam.pipeline.sources import Source, SourceError

STATUS_NO_CAMERA = "Privacy curtain: camera disconnected, reconnecting"
LATE_FRAMES = 1.5
"""A frame the fast tier has not checked by its deadline (0.8 of the frame interval) is waited for up to this
many frame intervals more when no earlier check can stand for it (the publish rule): published late, the
call sees the current scene; given up on, it saw the last frame again."""


def share_the_cores() -> None:
    """Run OpenCV on one thread in a live camera process. Its thread pool split CenterFace's sweep over both
    cores and spun between calls: on this 2-core machine the camera took 82-84% of a core at 720p with the
    pool and 72-73% without, same latency, and with one core busy elsewhere p99 28 ms instead of 27-45 ms
    (bench/live_replay.py, with the sweep thread niced). The detection and sweep threads are the
    parallelism. Process-wide: the service calls it once, before the camera starts."""
    cv2.setNumThreads(1)


# What the pipeline is doing, at a glance (the tray's icon and status line).
ANONYMIZING, PAUSED, CURTAIN, NO_CAMERA, STARTING = "anonymizing", "paused", "curtain", "no camera", "starting"
OVERLOADED = "overloaded"
"""Anonymizing, but frames do not pass the publish rule in time (`Anonymizer.behind`): the call gets repeated
frames or the curtain instead, never a raw frame, and the stage sheds what can wait."""
KEEPS_UP = 0.8
"""A smaller frame "would keep up" when the stage's measured time per frame, scaled by the pixel ratio, would
use at most this share of the frame interval (the detectors' and the hiding's costs follow the pixels: 1080p
to 720p cut the fast tier's and the sweep's time by 2.1-2.3x here, bench/live_replay.py)."""


@dataclass(frozen=True, slots=True)
class Stats:
    fps: float
    latency_p50_ms: float
    latency_p99_ms: float
    detect_ms: float
    faces: int
    frames: int
    curtain_frames: int
    dropped_frames: int
    camera_ok: bool
    detector_restarts: int
    state: str = STARTING
    """One of ANONYMIZING, PAUSED, CURTAIN, NO_CAMERA, STARTING."""
    sink_errors: int = 0
    camera_losses: int = 0
    detector_errors: int = 0
    sink_recoveries: int = 0
    shown: int = 0
    """Faces left visible as the enrolled user ("hide everyone but me"): 0 or 1."""
    repeated_frames: int = 0
    """Frames that did not pass the publish rule and were replaced by the last one that did."""
    behind: str = ""
    """While overloaded, what to do about it ("1080p is too heavy for this machine, 720p would keep up")."""
    light: str = ""
    """While the picture is too dark to anonymize reliably, what to do about it (`exposure.TOO_DARK`)."""

    def line(self) -> str:
        return (
            f"{self.fps:5.1f} fps  latency p50 {self.latency_p50_ms:5.1f} ms  p99 {self.latency_p99_ms:5.1f} ms  "
            f"detect {self.detect_ms:5.1f} ms  faces {self.faces}  curtain {self.curtain_frames}/{self.frames}  "
            f"repeated {self.repeated_frames}  dropped {self.dropped_frames}"
            + ("" if self.camera_ok else "  CAMERA LOST")
            + (f"  BEHIND: {self.behind}" if self.behind else "")
            + (f"  DARK: {self.light}" if self.light else "")
        )


class _Latest:
    """A one-slot mailbox: the capture thread overwrites, the stage takes."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._frame: Frame | None = None
        self.overwritten = 0

    def put(self, frame: Frame) -> None:
        with self._cond:
            if self._frame is not None:
                self.overwritten += 1
            self._frame = frame
            self._cond.notify_all()

    def take(self, timeout: float) -> Frame | None:
        with self._cond:
            if self._frame is None:
                self._cond.wait(timeout)
            frame, self._frame = self._frame, None
            return frame

    def wake(self) -> None:
        with self._cond:
            self._cond.notify_all()


MODELS_WAIT_S = 60.0
"""The longest a recorded input waits for the models before it plays on, curtained (loading takes 1-4 s here)."""


FIRST_CHECK_WAIT_S = 0.5
"""How long each look at a recording's first frame may wait for its check (`LivePipeline._check_first`) ..."""
FIRST_CHECK_S = 5.0
"""... and all of them together (the demo's takes 0.2-0.3 s here)."""


class LivePipeline:
    """Runs until `stop()`, the source ends (files without loop), or the sink is closed by the user."""

    def __init__(
        self,
        open_source: Callable[[], Source],
        sink: Sink,
        anonymizer: Anonymizer,
        controls: LiveControls,
        *,
        fps: float | None = None,
        budget_s: float | None = None,
        stale_camera_s: float = 2.0,
        on_stats: Callable[[Stats], None] | None = None,
        stats_every_s: float = 5.0,
        on_output: Callable[[np.ndarray, Frame | None], None] | None = None,
        open_sink: Callable[[], Sink] | None = None,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._open_source = open_source
        self.sink: Sink | None = sink
        self._open_sink = open_sink
        self._on_event = on_event
        self._sink_retry_at = 0.0
        self._sink_backoff = 0.5
        self.sink_recoveries = 0
        self.anonymizer = anonymizer
        self.controls = controls
        self._fps = fps
        self._budget_s = budget_s
        self._stale_camera_s = stale_camera_s
        self._on_stats = on_stats
        self._stats_every_s = stats_every_s
        self._on_output = on_output
        self._reopen = threading.Event()
        self._state = STARTING
        self._announced = False
        self.camera_losses = 0
        self._latest = _Latest()
        self._stop = threading.Event()
        self._source_done = threading.Event()
        self._camera_ok = False
        self._held_back: Frame | None = None
        """A recording's first frame, held back until it was checked in full: its wait is not latency."""
        self._opened = threading.Event()
        """The first source was opened (and, for a recording, the models loaded) or failed to open: until then
        there is nothing to publish, not even the curtain."""
        self._lock = threading.Lock()
        self._latencies: deque[float] = deque(maxlen=600)
        self._publish_times: deque[float] = deque(maxlen=120)
        self.frames = self.curtain_frames = self.repeated_frames = 0
        self._stage_s = 0.0
        """Running mean of the stage's time per frame (take to publish), for the overloaded advice."""
        self._size: tuple[int, int] | None = None
        self._faces = 0
        self._shown = 0
        self._newest: Frame | None = None
        self._detect_s = 0.0
        self.source_error: str | None = None
        self.sink_errors = 0
        self.sink_error: str | None = None
        self._capture_gen = 0
        self._reading_since: float | None = None
        self._capture = self._new_capture_thread()

    # -- capture -----------------------------------------------------------------------
    def reopen_source(self) -> None:
        """Close the current source and open a new one (the camera choice changed); curtain until it delivers."""
        self._reopen.set()

    def _new_capture_thread(self) -> threading.Thread:
        self._capture_gen += 1
        gen = self._capture_gen
        return threading.Thread(target=self._capture_loop, args=(gen,), name=f"vcam-capture-{gen}", daemon=True)

    def _event(self, message: str) -> None:
        if self._on_event is not None:
            self._on_event(message)

    def _check_stall(self, now: float) -> None:
        """A read blocked beyond the limit (unplugged mid-read, system sleep): give up on that thread and reconnect.

        A blocked OpenCV read cannot be interrupted, so its thread is abandoned; it closes its camera
        and exits when the read finally returns.
        """
        since = self._reading_since
        if since is None or now - since <= self._stale_camera_s:
            return
        self._reading_since = None
        self._camera_ok, self.source_error = False, "the camera stopped delivering frames"
        self.camera_losses += 1
        self._event(f"camera stalled for {now - since:.1f} s: reconnecting")
        self._capture = self._new_capture_thread()
        self._capture.start()

    def _capture_loop(self, gen: int) -> None:
        backoff = 0.5
        source: Source | None = None
        while not self._stop.is_set() and gen == self._capture_gen:
            if self._reopen.is_set():
                self._reopen.clear()
                if source is not None:
                    source.close()
                    source = None
                self._camera_ok = False
                self.anonymizer.reset()
            if source is None:
                try:
                    source = self._open_source()
                except SourceError as exc:
                    self._camera_ok, self.source_error = False, str(exc)
                    self._opened.set()
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, 5.0)
                    continue
                if gen != self._capture_gen:
                    break
                recorded = getattr(source, "recorded", False)
                if recorded:
                    self._wait_for_models()
                self._fps = self._fps or source.fps
                if self.source_error is not None:
                    self._event(f"camera back ({source.name})")
                self._camera_ok, self.source_error, backoff = True, None, 0.5
                self._opened.set()
            try:
                self._reading_since = time.monotonic()
                frame = source.read()
            except SourceError as exc:
                if gen != self._capture_gen:
                    break  # already replaced by the watchdog, which counted the loss
                self._camera_ok, self.source_error = False, str(exc)
                self.camera_losses += 1
                self._event(f"{exc}: reconnecting")
                source.close()
                source = None
                continue
            finally:
                if gen == self._capture_gen:  # an abandoned thread must not clear its successor's watch
                    self._reading_since = None
            if gen != self._capture_gen:
                break
            if frame is None:
                self._source_done.set()
                self._latest.wake()
                break
            if recorded:
                recorded = False
                self._check_first(frame)
                self._held_back = frame
                restart = getattr(source, "restart_clock", None)
                if restart is not None:
                    restart()
            self._latest.put(frame)
        if source is not None:
            source.close()

    def _wait_for_models(self) -> None:
        """A recording waits for nobody: its clock starts once the models are loaded, so its first frame is
        anonymized rather than curtained (the demo clip lost 4-20 of its 56 frames to loading). A camera does
        not wait: its frames are the present, and the curtain covers them until the models are ready. Models
        that never load (a broken install) still give a curtained recording after `MODELS_WAIT_S`."""
        deadline = time.monotonic() + MODELS_WAIT_S
        while not self._stop.is_set() and time.monotonic() < deadline:
            if self.anonymizer.wait_ready(0.2) or self._stop.wait(0.05):
                return

    def _check_first(self, frame: Frame) -> None:
        """A recording's first frame is checked in full before it is played: live, the publish rule curtains
        until the first sweep has looked at the picture (3 of the demo's 56 frames, with the models loaded),
        and a recording can wait for it. Nothing is published here; the frame is published as usual next."""
        state = self.controls.snapshot()
        budget = self._budget_s if self._budget_s is not None else 1.0 / (self._fps or 30.0)
        deadline = time.monotonic() + FIRST_CHECK_S
        while state.enabled and time.monotonic() < deadline:
            out = self.anonymizer.process(
                frame,
                state.effect(),
                wait_s=FIRST_CHECK_WAIT_S,
                budget_s=budget * 0.6,
                late_s=FIRST_CHECK_WAIT_S,
                detection_range=state.detection_range,
                show_enrolled=state.mode == "all-but-me",
            )
            # Checked, but not yet swept: the sweep thread needs a moment (0.2 s for the demo here). Any other
            # reason (a frame too dark, a failing detector) is not the start's, and waiting will not change it.
            passed = out.curtain is None and not out.repeat
            if passed or out.curtain != STATUS_STARTING or self._stop.wait(0.05):
                return

    # -- stage -------------------------------------------------------------------------
    def run(self) -> None:
        """Publish until stopped, from one thread (it owns the sink)."""
        self._capture.start()
        last_frame: Frame | None = None
        last_new = time.monotonic()
        next_stats = time.monotonic() + self._stats_every_s
        try:
            while not self._stop.is_set():
                interval = 1.0 / (self._fps or 30.0)
                frame = self._latest.take(timeout=interval)
                now = time.monotonic()
                self._check_stall(now)
                if frame is None:
                    if self._source_done.is_set():
                        break
                    if not self._opened.is_set():
                        last_new = now
                        continue
                    camera_stalled = now - last_new > self._stale_camera_s
                    if (not self._camera_ok or camera_stalled) and (now - self._last_publish() >= interval):
                        self._publish_curtain(last_frame)
                    continue
                last_new, last_frame = now, frame
                self._publish(frame, interval)
                if self.sink is not None and getattr(self.sink, "closed_by_user", False):
                    break
                if self._on_stats and now >= next_stats:
                    self._on_stats(self.stats())
                    next_stats = now + self._stats_every_s
        finally:
            self.stop()

    def _last_publish(self) -> float:
        return self._publish_times[-1] if self._publish_times else 0.0

    def _publish(self, frame: Frame, interval: float) -> None:
        if not self._sink_ready():
            return
        state = self.controls.snapshot()
        with self._lock:
            self._newest = frame
        budget = self._budget_s if self._budget_s is not None else interval
        started = time.monotonic()
        out = self.anonymizer.process(
            frame,
            state.effect(),
            enabled=state.enabled,
            wait_s=budget * 0.8,
            budget_s=budget * 0.6,
            late_s=budget * LATE_FRAMES,
            detection_range=state.detection_range,
            show_enrolled=state.mode == "all-but-me",
        )
        overloaded = self.anonymizer.behind
        with self._lock:
            self._size = frame.size
        if not state.enabled:
            self._state = PAUSED
        elif out.curtain and not out.behind:
            self._state = CURTAIN
        else:
            self._state = OVERLOADED if overloaded else CURTAIN if out.curtain else ANONYMIZING
        self._send(out.image, curtained=out.curtain is not None, frame=out.frame, repeated=out.repeat)
        if self._state == ANONYMIZING and not self._announced:
            self._announced = True  # the start-up benchmark times `vcam run` to this line
            self._event("anonymizing: first frame published")
        with self._lock:
            if not out.repeat and frame is not self._held_back:
                self._latencies.append(time.monotonic() - frame.t)
            self._stage_s = 0.9 * self._stage_s + 0.1 * (time.monotonic() - started)
            self._faces = count_people(out.faces)
            self._shown = len(out.shown)
            self._detect_s = out.detect_s

    def _publish_curtain(self, last: Frame | None) -> None:
        if last is None:
            w, h = getattr(self.sink, "width", 1280), getattr(self.sink, "height", 720)
            image = np.zeros((h, w, 3), np.uint8)
        else:
            image = last.image
        self._state = NO_CAMERA
        if self._sink_ready():
            self._send(curtain(image, STATUS_NO_CAMERA), curtained=True, frame=last)

    def _sink_ready(self) -> bool:
        """True when there is a sink to send to; reopens a lost one with backoff (when we know how)."""
        if self.sink is not None:
            return True
        now = time.monotonic()
        if self._open_sink is None or now < self._sink_retry_at:
            return False
        try:
            self.sink = self._open_sink()
        except SinkError as exc:
            self._sink_retry_at = now + self._sink_backoff
            self._sink_backoff = min(self._sink_backoff * 2, 5.0)
            self.sink_error = str(exc).splitlines()[0]
            return False
        self._sink_backoff, self.sink_error = 0.5, None
        self.sink_recoveries += 1
        self._event(f"output back: publishing to {getattr(self.sink, 'name', 'the output')} again")
        return True

    def _send(self, image: np.ndarray, *, curtained: bool, frame: Frame | None = None, repeated: bool = False) -> None:
        """Publish; `on_output` sees each published image with the camera frame it was made from (None: none yet)."""
        assert self.sink is not None
        try:
            self.sink.send(image)
        except SinkError as exc:
            self.sink_errors += 1
            if self._open_sink is not None:
                # Lost device (module unloaded, device removed): drop it and reopen with backoff.
                self.sink_error = str(exc).splitlines()[0]
                self._event(f"{self.sink_error}: retrying")
                with contextlib.suppress(Exception):
                    self.sink.close()
                self.sink = None
                self._sink_retry_at = time.monotonic() + self._sink_backoff
            return
        with self._lock:
            self.frames += 1
            self.curtain_frames += int(curtained)
            self.repeated_frames += int(repeated)
            self._publish_times.append(time.monotonic())
        if self._on_output is not None:
            self._on_output(image, frame)

    def stop(self) -> None:
        self._stop.set()
        self._latest.wake()
        if self._capture.is_alive() and threading.current_thread() is not self._capture:
            self._capture.join(timeout=1.0)

    def newest_frame(self) -> Frame | None:
        """The newest camera frame, raw, kept in memory only: enrolment reads the user's face from it."""
        with self._lock:
            return self._newest

    def stats(self) -> Stats:
        with self._lock:
            lat = sorted(self._latencies)
            times = list(self._publish_times)
            fps = (len(times) - 1) / (times[-1] - times[0]) if len(times) > 1 and times[-1] > times[0] else 0.0
            return Stats(
                fps=fps,
                latency_p50_ms=1000 * statistics.median(lat) if lat else 0.0,
                latency_p99_ms=1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else 0.0,
                detect_ms=1000 * self._detect_s,
                faces=self._faces,
                frames=self.frames,
                curtain_frames=self.curtain_frames,
                dropped_frames=self._latest.overwritten,
                camera_ok=self._camera_ok,
                detector_restarts=self.anonymizer.detector_restarts,
                state=self._state,
                sink_errors=self.sink_errors,
                camera_losses=self.camera_losses,
                detector_errors=self.anonymizer.detector_errors,
                sink_recoveries=self.sink_recoveries,
                shown=self._shown,
                repeated_frames=self.repeated_frames,
                behind=self._advice() if self._state == OVERLOADED else "",
                light=TOO_DARK if self.anonymizer.light in (Light.DARK, Light.BLACK) else "",
            )

    def _advice(self) -> str:
        """What to do about being overloaded: a smaller frame where one would keep up (caller holds the lock)."""
        interval = 1.0 / (self._fps or 30.0)
        if self._size is not None and self._size[1] > 720:
            w, h = self._size
            ratio = (1280 * 720) / (w * h)
            if self._stage_s * ratio <= KEEPS_UP * interval:
                return f"{h}p is too heavy for this machine, 720p would keep up"
            return f"{h}p is too heavy for this machine; try 720p and closing other programs"
        return "this machine is too busy to check every frame; close other programs or lower --fps"

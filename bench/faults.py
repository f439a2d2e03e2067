"""Fault injection at the three seams of the live pipeline (source, detector, sink), and a leak checker.

Each injector wraps the real component and misbehaves only while its switch is on,
so the same wrappers serve the fault-injection tests and the soak benchmark.
Nothing here is used by the product.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from vcam.detection.scan import Scanner, ScanSettings
from vcam.evaluation.metrics import FALSE_HIDE_FRAME, detail_correlation, false_hide_share
from vcam.frames import Frame
from vcam.pipeline.sinks import Sink, SinkError
from vcam.pipeline.sources import Source, SourceError


class Switch:
    """A fault that is on or off; `pulse(s)` turns it on for `s` seconds in the background."""

    def __init__(self) -> None:
        self._on = threading.Event()
        self.count = 0

    @property
    def on(self) -> bool:
        return self._on.is_set()

    def set(self, value: bool) -> None:
        if value and not self.on:
            self.count += 1
        (self._on.set if value else self._on.clear)()

    def pulse(self, seconds: float) -> None:
        self.set(True)
        threading.Timer(seconds, self.set, args=(False,)).start()


class FlakyCamera:
    """Opens real sources; while `unplugged`, reads raise and opens fail; while `stalled`, reads block."""

    def __init__(self, opener: Callable[[], Source]) -> None:
        self._opener = opener
        self.unplugged = Switch()
        self.stalled = Switch()
        self.opens = 0

    def open(self) -> Source:
        if self.unplugged.on:
            raise SourceError("camera unplugged (injected)")
        self.opens += 1
        return _FlakySource(self, self._opener())


@dataclass
class _FlakySource:
    camera: FlakyCamera
    inner: Source

    def __post_init__(self) -> None:
        self.name, self.fps = f"flaky {self.inner.name}", self.inner.fps

    @property
    def size(self) -> tuple[int, int]:
        return self.inner.size

    def read(self) -> Frame | None:
        while self.camera.stalled.on:  # a read that hangs, as after system sleep
            time.sleep(0.02)
        if self.camera.unplugged.on:
            raise SourceError("camera unplugged (injected)")
        return self.inner.read()

    def close(self) -> None:
        self.inner.close()


class DetectorFaults:
    """Shared by every scanner the anonymizer creates (it recreates them after a failure)."""

    def __init__(self) -> None:
        self.raising = Switch()
        self.hanging = Switch()

    def factory(self, settings: ScanSettings) -> Scanner:
        return _FaultyScanner(self, Scanner(settings))  # type: ignore[return-value]


@dataclass
class _FaultyScanner:
    faults: DetectorFaults
    inner: Scanner

    @property
    def settings(self) -> ScanSettings:
        return self.inner.settings

    @settings.setter
    def settings(self, value: ScanSettings) -> None:
        self.inner.settings = value

    def warm_up(self) -> None:
        self.inner.warm_up()

    def scan(self, image, t, tracked, budget_s=None, *, thorough=False, tier="all", regions=None):
        if self.faults.raising.on:
            raise RuntimeError("detector failure (injected)")
        while self.faults.hanging.on:
            time.sleep(0.02)
        return self.inner.scan(image, t, tracked, budget_s, thorough=thorough, tier=tier, regions=regions)

    def close(self) -> None:
        self.inner.close()


class FlakySink:
    """Wraps a sink; while `removed`, sends raise SinkError and `reopen` fails, like an unloaded v4l2loopback."""

    def __init__(self, opener: Callable[[], Sink]) -> None:
        self._opener = opener
        self.removed = Switch()
        self.opens = 0

    def open(self) -> Sink:
        if self.removed.on:
            raise SinkError("virtual camera removed (injected)")
        self.opens += 1
        return _FlakySinkInstance(self, self._opener())


@dataclass
class _FlakySinkInstance:
    owner: FlakySink
    inner: Sink
    name: str = "flaky sink"

    def send(self, image: np.ndarray) -> None:
        if self.owner.removed.on:
            raise SinkError("virtual camera removed (injected)")
        self.inner.send(image)

    def close(self) -> None:
        self.inner.close()


CHANGED = 8
"""Grey levels: a changed pixel (a blurred flat wall may change less and is then not counted)."""
CURTAIN_SHARE = 0.9
"""A published frame changed over this share of its pixels is a curtain, not a false hide."""


@dataclass
class LeakChecker:
    """Checks published frames off the hot path: a face whose detail survives (correlation >= 0.5) is a leak.

    It also counts false hides as an outside observer sees them: pixels the published frame changed
    (any channel by more than `CHANGED` levels) away from every reference face grown 2.5x, over 2% of the
    picture (the measure of `vcam eval`). A frame changed almost everywhere is a curtain, counted apart.

    `boxes_for(frame)` gives the reference boxes of a camera frame. Frames published before any camera
    frame arrived (a black curtain) are counted, not scored.
    """

    boxes_for: Callable[[Frame], list[list[float]]]
    threshold: float = 0.5
    checked: int = 0
    faces: int = 0
    leaks: list[tuple[int, float]] = field(default_factory=list)
    skipped: int = 0
    false_hides: int = 0
    curtains: int = 0
    published: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._queue: queue.Queue = queue.Queue(maxsize=64)
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def __call__(self, image: np.ndarray, frame: Frame | None) -> None:
        self.published.append(time.monotonic())
        if frame is None:
            return
        try:
            self._queue.put_nowait((image, frame))
        except queue.Full:
            self.skipped += 1

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            image, frame = item
            boxes = self.boxes_for(frame)
            if image.shape == frame.image.shape:
                changed = cv2.absdiff(image, frame.image).max(axis=2) > CHANGED
                if changed.mean() > CURTAIN_SHARE:
                    self.curtains += 1
                else:
                    self.false_hides += false_hide_share(changed, boxes) > FALSE_HIDE_FRAME
            for box in boxes:
                self.faces += 1
                corr = detail_correlation(frame.image, image, box)
                if corr >= self.threshold:
                    self.leaks.append((frame.index, corr))
            self.checked += 1

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=30)

    def max_gap(self, start: float, end: float) -> float:
        """Longest time without a published frame between two monotonic times."""
        times = [start] + [t for t in self.published if start <= t <= end] + [end]
        return max(b - a for a, b in zip(times, times[1:], strict=False))

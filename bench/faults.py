"""Fault injection at the three seams of the live pipeline (source, detector, sink), and a leak checker.

Each injector wraps the real component and misbehaves only while its switch is on,
so the same wrappers serve the fault-injection tests and the soak benchmark.
Nothing here is used by the product.
"""

from __future__ import annotations

import contextlib
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from vcam.detection.scan import Scanner, ScanSettings
from vcam.evaluation.metrics import FALSE_HIDE_FRAME, detail_correlation, false_hide_share
from vcam.frames import Frame
from vcam.pipeline.sinks import Sink, SinkError
from vcam.pipeline.sources import Source, SourceError


@contextlib.contextmanager
def busy_core() -> Iterator[None]:
    """Another process keeps one core busy while the block runs, as a call app's encoder does on this machine's
    two cores (a child spinning in Python)."""
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        burner.kill()
        burner.wait()


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

    def scan(self, image, t, tracked, budget_s=None, **options):
        if self.faults.raising.on:
            raise RuntimeError("detector failure (injected)")
        while self.faults.hanging.on:
            time.sleep(0.02)
        return self.inner.scan(image, t, tracked, budget_s, **options)

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
SMALL = 4
"""Published frames are compared with their camera frames at 1/4 size (every 4th pixel) for false hides and
curtains: the whole-size comparison took 44 ms per 1080p frame here, on the cores the camera needs."""
CHECKER_NICENESS = 19


def _padded(image: np.ndarray, box: list[float]) -> tuple[np.ndarray, list[float]]:
    """The part of `image` that `detail_correlation` reads for `box` (the box and its context), copied, and
    the box in that part's coordinates: the correlation on the part equals the one on the whole image."""
    x, y, w, h = (float(v) for v in box)
    pad = 0.25 * max(w, h)
    height, width = image.shape[:2]
    x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
    x1, y1 = min(width, int(x + w + pad) + 1), min(height, int(y + h + pad) + 1)
    return image[y0:y1, x0:x1].copy(), [x - x0, y - y0, w, h]


def _small(image: np.ndarray) -> np.ndarray:
    h, w = image.shape[:2]
    return cv2.resize(image, (max(1, w // SMALL), max(1, h // SMALL)), interpolation=cv2.INTER_NEAREST)


@dataclass
class LeakChecker:
    """Checks published frames: a face whose detail survives (correlation >= 0.5) is a leak.

    It also counts, as an outside observer sees them, what the call received: curtains (a frame changed
    almost everywhere), repeats (a camera frame published again: the picture is stale), and false hides
    (pixels changed by more than `CHANGED` levels away from every reference face grown 2.5x, over 2% of the
    picture, the measure of `vcam eval`). A frame that is none of these shows the current scene.

    The publishing thread only copies what the checks read (each face with its context, both pictures at 1/4
    size: under a millisecond at 1080p); a thread of its own, at the lowest priority, scores them, so the
    checker takes no CPU the camera needs. `boxes_for(frame)` gives the reference boxes of a camera frame.
    Frames published before any camera frame arrived (a black curtain) count as blank.
    """

    boxes_for: Callable[[Frame], list[list[float]]]
    threshold: float = 0.5
    checked: int = 0
    faces: int = 0
    leaks: list[tuple[int, float]] = field(default_factory=list)
    skipped: int = 0
    """Kept for the callers' tables: nothing is skipped any more."""
    false_hides: int = 0
    curtains: int = 0
    curtains_after_start: int = 0
    """Curtains after the first frame that showed the scene: start-up (the models loading, the first sweep) left out."""
    repeats: int = 0
    blank: int = 0
    current: int = 0
    """Published frames showing the current scene: a camera frame's first publication, not curtained, nothing
    hidden away from the faces."""
    published: list[float] = field(default_factory=list)
    leaked_boxes: list[tuple[int, list[float], float]] = field(default_factory=list)
    """Each leak's camera frame, reference box and correlation (for a closer look)."""
    ignored_for: Callable[[Frame], list[list[float]]] | None = None
    """Faces that exist but are too blurred or cut to count (video_gt.json's ignore_boxes): never a leak, and
    hiding them is no false hide."""

    def __post_init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._seen: set[int] = set()
        self._thread = threading.Thread(target=self._work, daemon=True, name="leak-checker")
        self._thread.start()

    def __call__(self, image: np.ndarray, frame: Frame | None) -> None:
        self.published.append(time.monotonic())
        if frame is None:
            self.blank += 1
            return
        repeat = frame.index in self._seen
        self._seen.add(frame.index)
        boxes = self.boxes_for(frame)
        faces = [(box, _padded(frame.image, box), _padded(image, box)[0]) for box in boxes]
        small = (_small(image), _small(frame.image)) if image.shape == frame.image.shape else None
        allowed = boxes + (self.ignored_for(frame) if self.ignored_for else [])
        self._queue.put((frame.index, repeat, allowed, faces, small))

    def cpu_s(self) -> float:
        """CPU seconds the checker's own thread used (Linux), to take out of the process's figure."""
        try:
            fields = Path(f"/proc/self/task/{self._thread.native_id}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _work(self) -> None:
        with contextlib.suppress(OSError, AttributeError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), CHECKER_NICENESS)
        while True:
            item = self._queue.get()
            if item is None:
                return
            index, repeat, allowed, faces, small = item
            curtained = hidden_away = False
            if small is not None:
                changed = cv2.absdiff(*small).max(axis=2) > CHANGED
                if changed.mean() > CURTAIN_SHARE:
                    curtained = True
                else:
                    scaled = [[v / SMALL for v in box] for box in allowed]
                    hidden_away = false_hide_share(changed, scaled) > FALSE_HIDE_FRAME
            self.curtains += curtained
            self.false_hides += hidden_away
            self.repeats += repeat and not curtained
            self.current += not (curtained or hidden_away or repeat)
            self.curtains_after_start += curtained and self.current > 0
            for box, (original, shifted), output in faces:
                self.faces += 1
                corr = detail_correlation(original, output, shifted)
                if corr >= self.threshold:
                    self.leaks.append((index, corr))
                    self.leaked_boxes.append((index, box, corr))
            self.checked += 1

    def close(self) -> None:
        """Score everything still queued (this may take a while after a busy run), then stop."""
        self._queue.put(None)
        self._thread.join(timeout=600)

    def max_gap(self, start: float, end: float) -> float:
        """Longest time without a published frame between two monotonic times."""
        times = [start] + [t for t in self.published if start <= t <= end] + [end]
        return max(b - a for a, b in zip(times, times[1:], strict=False))

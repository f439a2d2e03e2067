"""What a worker of `vcam anonymize` runs: one chunk of a video, or one image.

The same functions run in the command's own process (one worker), in a local process pool and on
Ray workers. A worker keeps one Anonymizer for its life, because loading the three models costs
about a second and a batch sends it many tasks; `functools.lru_cache` on the frozen settings is that
cache, so a task with other settings gets a fresh one.
"""

from __future__ import annotations

import dataclasses
import functools
import signal
import time
from pathlib import Path

import cv2

from vcam.detection.track import TrackerSettings
from vcam.frames import Face, Frame, centre_inside, grow_box, iou
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.chunks import Chunk, ChunkResult, FrameResult, frame_checksum
from vcam.pipeline.filemode import FileResult, anonymize_image
from vcam.pipeline.sources import VideoFileSource


def init_process() -> None:
    """A pool worker: Ctrl-C is the parent's to handle (it cancels the batch and stops the workers);
    SIGTERM unwinds, so a half-written image's temporary file is removed. OpenCV gets one thread: the
    pool already puts one worker on each core, and two OpenCV thread pools per core slowed a 2-worker
    run down (bench/batch_throughput.py)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _exit_on_term)
    cv2.setNumThreads(1)


def _exit_on_term(_signum: int, _frame: object) -> None:
    raise SystemExit(143)


@functools.lru_cache(maxsize=1)
def _anonymizer(settings: AnonymizerSettings) -> Anonymizer:
    return Anonymizer(settings)


def detect_chunk(path: Path, chunk: Chunk, settings: AnonymizerSettings) -> ChunkResult:
    """Decide what to hide on every frame of `chunk` (after `chunk.warm` frames of warm-up).

    With `settings.file_sweep_s`, every pass runs on one frame in that many seconds (and on the file's
    last frame, and on every new scene), the fast tier on the frames between, and each sweep's finds are
    also hidden on the frames since the previous sweep (`fill_back`).
    """
    started = time.perf_counter()
    anonymizer = _anonymizer(settings)
    anonymizer.reset()
    every = settings.file_sweep_s
    source = VideoFileSource(path)
    # Sweeps fall on frames numbered from the file's start, not the chunk's, so a frame gets the same
    # passes in any chunk as in one pass; a chunk reads past its end to the next sweep, which its last
    # frames are filled back from (tests/test_batch.py: the cut output equals one pass).
    period = max(1, round(every * source.fps)) if every > 0 else 1
    try:
        index = chunk.start - chunk.warm
        source.seek(index)
        frames: list[FrameResult] = []
        pending: list[tuple[float, FrameResult]] = []
        read = source.read()
        while read is not None and (chunk.stop is None or index < chunk.stop or pending):
            following = source.read()
            t = index / source.fps
            sweep = index % period == 0 or following is None
            out = anonymizer.process(
                Frame(read.image, t, index),
                _NO_EFFECT,
                render=False,
                tier="all" if sweep else "fast",
                keep_s=every if sweep else 0.0,
            )
            decided = FrameResult(out.faces, out.curtain, frame_checksum(read.image), out.shown)
            if sweep:
                fill_back(pending, out.faces, t, settings.tracker)
                frames.extend(result for _, result in pending)
                pending.clear()
            if index >= chunk.start and (chunk.stop is None or index < chunk.stop):
                if sweep:
                    frames.append(decided)
                else:
                    pending.append((t, decided))
            index += 1
            read = following
        frames.extend(result for _, result in pending)
    finally:
        source.close()
        anonymizer.reset()
    return ChunkResult(chunk, frames, time.perf_counter() - started)


def fill_back(pending: list[tuple[float, FrameResult]], found: list[Face], t: float, tracker: TrackerSettings) -> None:
    """Hide what a sweep at `t` found on the earlier frames in `pending` that do not show it yet: a face the
    fast tier cannot see (small, turned) was there before the sweep found it. "Shows it" is the tracker's
    own match rule; the box grows with the time back, as the tracker grows a lost face's. Unverified
    candidates are not carried back, nor a find on a face the frame shows as the enrolled user (that face
    was checked on that frame)."""
    for i, (when, result) in enumerate(pending):
        if result.curtain:
            continue
        added = [
            face.with_box(grow_box(face.box, 1.0 + tracker.growth_per_s * (t - when)))
            for face in found
            if not face.unverified
            and not any(
                iou(face.box, have.box) >= tracker.match_iou or centre_inside(face.box, have.box)
                for have in (*result.faces, *result.shown)
            )
        ]
        if added:
            pending[i] = (when, FrameResult([*result.faces, *added], None, result.checksum, result.shown))


_NO_EFFECT = effects.EffectSettings()
"""Unused with render=False; `process` takes one."""


def image_task(path: Path, out: Path, settings: AnonymizerSettings, effect: effects.EffectSettings) -> FileResult:
    started = time.perf_counter()
    result = anonymize_image(path, out, _anonymizer(settings), effect)
    return dataclasses.replace(result, seconds=time.perf_counter() - started)


@functools.cache
def prepare_ray_worker() -> None:
    """Once per Ray worker process: what `init_process` does for the local pool, minus the signals
    (Ray owns its workers' signal handling and stops them itself)."""
    cv2.setNumThreads(1)

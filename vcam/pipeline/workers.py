"""What a worker of `vcam anonymize` runs: one chunk of a video, or one image.

The same functions run in the command's own process (one worker), in a local process pool and on
Ray workers. A worker keeps one Anonymizer for its life, because loading the three models costs
about a second and a batch sends it many tasks; `functools.lru_cache` on the frozen settings is that
cache, so a task with other settings gets a fresh one.
"""

from __future__ import annotations

import functools
import signal
import time
from pathlib import Path

import cv2

from vcam.frames import Frame
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
    """Decide what to hide on every frame of `chunk` (after `chunk.warm` frames of warm-up)."""
    started = time.perf_counter()
    anonymizer = _anonymizer(settings)
    anonymizer.reset()
    source = VideoFileSource(path)
    try:
        index = chunk.start - chunk.warm
        source.seek(index)
        frames: list[FrameResult] = []
        while chunk.stop is None or index < chunk.stop:
            read = source.read()
            if read is None:
                break
            out = anonymizer.process(Frame(read.image, index / source.fps, index), _NO_EFFECT, render=False)
            if index >= chunk.start:
                frames.append(FrameResult(out.faces, out.curtain, frame_checksum(read.image)))
            index += 1
    finally:
        source.close()
        anonymizer.reset()
    return ChunkResult(chunk, frames, time.perf_counter() - started)


_NO_EFFECT = effects.EffectSettings()
"""Unused with render=False; `process` takes one."""


def image_task(path: Path, out: Path, settings: AnonymizerSettings, effect: effects.EffectSettings) -> FileResult:
    started = time.perf_counter()
    result = anonymize_image(path, out, _anonymizer(settings), effect)
    return FileResult(
        result.source,
        result.output,
        result.frames,
        result.curtain_frames,
        faces=result.faces,
        seconds=time.perf_counter() - started,
    )


@functools.cache
def prepare_ray_worker() -> None:
    """Once per Ray worker process: what `init_process` does for the local pool, minus the signals
    (Ray owns its workers' signal handling and stops them itself)."""
    cv2.setNumThreads(1)

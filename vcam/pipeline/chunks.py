"""Cutting a video into chunks that processes can anonymize side by side, and joining them safely.

A chunk is a range of frames. Its worker starts `warm` frames earlier and runs the anonymizer over
them without keeping the result, so the tracker holds and grows the faces of the frames before the
cut exactly as one sequential pass would have them at that point (the tracker forgets a lost face
after `hold_s`; the warm-up is longer). Workers return what to hide per frame, not pixels: the
parent decodes the file once, hides and encodes, so the output has the input's frame count and
timing by construction, and a seam cannot drop or repeat a frame. Every returned frame carries a
checksum of its pixels; the parent compares it with the frame it decoded, which catches a seek that
landed on another frame (a variable-frame-rate file) before a wrong face list is applied.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from vcam.frames import Face


@dataclass(frozen=True, slots=True)
class ChunkSettings:
    warm_s: float = 1.0
    """Run before a chunk's first frame: twice the tracker's default hold (0.5 s), so a face lost just
    before the cut is still held and grown there as in one pass. Measured: the hamilton crowd clip cut
    in two gives a byte-identical output to one pass (tests/test_batch.py checks the shipped clip)."""
    min_s: float = 4.0
    """Chunks no shorter than this: the warm-up is then at most a quarter of a chunk's work."""
    max_s: float = 30.0
    """Chunks no longer than this, so a long file spreads over all workers and one slow chunk does not
    hold the end of a batch back (30 s of 720p is about 2 min of work on this machine)."""


@dataclass(frozen=True, slots=True)
class Chunk:
    start: int
    """First frame whose result is kept."""
    stop: int | None
    """One past the last kept frame; None: to the end of the file (the last chunk, whatever the
    container claims)."""
    warm: int
    """Frames before `start` run only to warm the tracker."""


@dataclass(frozen=True, slots=True)
class FrameResult:
    faces: list[Face]
    curtain: str | None
    checksum: int
    """Of the decoded pixels (`frame_checksum`)."""
    shown: tuple[Face, ...] = ()
    """Left visible as the enrolled user (`vcam anonymize --show-enrolled`)."""


@dataclass(frozen=True, slots=True)
class ChunkResult:
    chunk: Chunk
    frames: list[FrameResult]
    seconds: float


def plan_chunks(frame_count: int, fps: float, workers: int, settings: ChunkSettings | None = None) -> list[Chunk]:
    """Chunks for a file of `frame_count` frames (0: unknown, one chunk) to keep `workers` busy."""
    s = settings or ChunkSettings()
    if frame_count <= 0 or workers <= 1:
        return [Chunk(0, None, 0)]
    warm = math.ceil(s.warm_s * fps)
    size = max(math.ceil(frame_count / workers), math.ceil(s.min_s * fps), 1)
    size = min(size, max(1, math.ceil(s.max_s * fps)))
    starts = list(range(0, frame_count, size))
    if len(starts) > 1 and frame_count - starts[-1] < size // 2:
        starts.pop()  # fold a short tail into the chunk before it
    return [
        Chunk(start, starts[i + 1] if i + 1 < len(starts) else None, min(warm, start)) for i, start in enumerate(starts)
    ]


def frame_checksum(image: np.ndarray) -> int:
    """CRC-32 of every pixel. One decoder gives identical pixels for one frame, sought or read in
    order (measured: the demo and hamilton clips, every seam), so equality is the test; a thumbnail
    with a tolerance let a seek three frames off through on the mostly still demo clip. 1.3 ms for
    a 720p frame here."""
    return zlib.crc32(np.ascontiguousarray(image))

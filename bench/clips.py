"""A real clip replayed live at a chosen frame size, and its reference boxes at that size (for the benches)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import cv2

from vcam.evaluation.evaluate import frame_boxes
from vcam.frames import Frame
from vcam.pipeline.sources import VideoFileSource


class ScaledLoop:
    """The clip, looping and paced at its fps (or `fps`), resized; Frame.index keeps counting across loops."""

    def __init__(self, path: Path, size: tuple[int, int], fps: float | None = None) -> None:
        self._src = VideoFileSource(path, loop=True, pace=True)
        if fps:
            self._src.fps = fps
        self.fps, self.name, self._size = self._src.fps, str(path), size

    @property
    def size(self) -> tuple[int, int]:
        return self._size

    def read(self) -> Frame | None:
        f = self._src.read()
        if f is None:
            return None
        # Stamped once resized: a camera of this size hands over the frame when its read returns, so the resize
        # (this bench's stand-in for such a camera, 2-3 ms at 720p) is no part of capture-to-publish latency,
        # as it was not in the outside measurement (`vcam run --input` on clips scaled beforehand).
        return Frame(cv2.resize(f.image, self._size), time.monotonic(), f.index)

    def close(self) -> None:
        self._src.close()


def scaled_boxes(path: Path, gt: dict, size: tuple[int, int]) -> Callable[[Frame], list[list[float]]]:
    """video_gt.json boxes of the frame (index modulo the clip's length), scaled to `size`."""
    n, boxes = gt["frames"], frame_boxes(gt)
    source = VideoFileSource(path)
    native = source.size
    source.close()
    sx, sy = size[0] / native[0], size[1] / native[1]

    def boxes_for(frame: Frame) -> list[list[float]]:
        return [[x * sx, y * sy, w * sx, h * sy] for x, y, w, h in boxes.get(frame.index % n, [])]

    return boxes_for

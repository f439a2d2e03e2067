"""Real clips replayed live for the benches: at their own size, fitted into a larger frame, or four to a frame.

Two ways to play a clip:

- `ScaledLoop`: the clip decoded and resized on the fly, looping (the latency and soak benches).
- `Recording` + `Player`: the frames rendered beforehand and kept as JPEG, as a webcam hands them over (MJPG at
  720p and 1080p), then decoded one by one at their time. `fitted` plays one clip at a given frame size
  (scaled with its aspect kept, centred on grey: a 4:3 clip in a 1080p frame is 1440x1080 of it), back and forth
  so the loop has no cut a camera never shows; `mosaic` tiles four clips into one frame (the classroom's
  crowd among them), so many small faces share a large picture. Each frame carries its reference boxes.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from vcam.evaluation.evaluate import frame_boxes
from vcam.frames import Frame
from vcam.pipeline.sources import VideoFileSource

Box = list[float]
BACKGROUND = 96
"""Grey around a fitted clip (and between the tiles of a mosaic)."""
JPEG_QUALITY = 92


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


@dataclass
class Recording:
    """Frames rendered beforehand, as JPEG, each with its reference face boxes in frame pixels."""

    name: str
    fps: float
    size: tuple[int, int]
    jpegs: list[bytes]
    boxes: list[list[Box]]
    ignored: list[list[Box]]
    """Faces too blurred, dark or cut to count either way (video_gt.json's ignore_boxes)."""

    def boxes_for(self, frame: Frame) -> list[Box]:
        return self.boxes[frame.index] if 0 <= frame.index < len(self.boxes) else []

    def ignored_for(self, frame: Frame) -> list[Box]:
        return self.ignored[frame.index] if 0 <= frame.index < len(self.ignored) else []

    def image(self, index: int) -> np.ndarray:
        return cv2.imdecode(np.frombuffer(self.jpegs[index], np.uint8), cv2.IMREAD_COLOR)


def _decode_all(path: Path) -> list[np.ndarray]:
    source = VideoFileSource(path)
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame.image)
    source.close()
    return frames


def back_and_forth(k: int, n: int) -> int:
    """Frame k of a clip of n frames played forward, then backward, and so on (0 1 .. n-1 n-2 .. 1 0 1 ..)."""
    if n <= 1:
        return 0
    period = 2 * n - 2
    k %= period
    return k if k < n else period - k


def _fit(image: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, Callable[[Sequence[Box]], list[Box]]]:
    """`image` scaled into `size` with its aspect kept, centred on grey, and how boxes move with it."""
    w, h = size
    ih, iw = image.shape[:2]
    s = min(w / iw, h / ih)
    nw, nh = round(iw * s), round(ih * s)
    ox, oy = (w - nw) // 2, (h - nh) // 2
    out = np.full((h, w, 3), BACKGROUND, np.uint8)
    interpolation = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    out[oy : oy + nh, ox : ox + nw] = cv2.resize(image, (nw, nh), interpolation=interpolation)
    sx, sy = nw / iw, nh / ih

    def move(boxes: Sequence[Box]) -> list[Box]:
        return [[ox + x * sx, oy + y * sy, bw * sx, bh * sy] for x, y, bw, bh in boxes]

    return out, move


def _encode(image: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    assert ok
    return data.tobytes()


def _ignore_boxes(gt: dict) -> dict[int, list[Box]]:
    out: dict[int, list[Box]] = {}
    for index, box, _src in gt.get("ignore_boxes", []):
        out.setdefault(index, []).append(box)
    return out


def fitted(path: Path, gt: dict, size: tuple[int, int] | None, seconds: float) -> Recording:
    """One clip at `size` (None: its own), `seconds` long, back and forth at its own fps."""
    frames, boxes, ignored = _decode_all(path), frame_boxes(gt), _ignore_boxes(gt)
    n = min(len(frames), gt["frames"])
    fps = float(gt["fps"])
    count = max(n, math.ceil(seconds * fps))
    rendered: dict[int, tuple[bytes, list[Box], list[Box]]] = {}
    rec = Recording(path.name.split("__")[-1].rsplit(".", 1)[0], fps, size or (0, 0), [], [], [])
    for k in range(count):
        i = back_and_forth(k, n)
        if i not in rendered:
            image, b, g = frames[i], boxes.get(i, []), ignored.get(i, [])
            if size is None:
                rec.size = (image.shape[1], image.shape[0])
            elif size != (image.shape[1], image.shape[0]):
                image, move = _fit(image, size)
                b, g = move(b), move(g)
            rendered[i] = (_encode(image), [list(map(float, box)) for box in b], [list(map(float, x)) for x in g])
        jpeg, b, g = rendered[i]
        rec.jpegs.append(jpeg)
        rec.boxes.append(b)
        rec.ignored.append(g)
    return rec


def mosaic(cases: Sequence[tuple[Path, dict]], size: tuple[int, int], seconds: float, fps: float = 30.0) -> Recording:
    """Four clips tiled 2x2 into one `size` frame, each back and forth at its own fps, played at `fps`."""
    assert len(cases) == 4
    w, h = size
    tile = (w // 2, h // 2)
    clips = []
    for path, gt in cases:
        frames = _decode_all(path)
        clips.append((frames[: gt["frames"]], frame_boxes(gt), _ignore_boxes(gt), float(gt["fps"])))
    names = "+".join(p.name.split("__")[-1].rsplit(".", 1)[0].split("-")[0] for p, _ in cases)
    rec = Recording(f"mosaic {names}", fps, size, [], [], [])
    for k in range(math.ceil(seconds * fps)):
        out = np.full((h, w, 3), BACKGROUND, np.uint8)
        boxes: list[Box] = []
        ignored: list[Box] = []
        for q, (frames, clip_boxes, clip_ignored, clip_fps) in enumerate(clips):
            i = back_and_forth(int(k * clip_fps / fps), len(frames))
            image, move = _fit(frames[i], tile)
            b, g = move(clip_boxes.get(i, [])), move(clip_ignored.get(i, []))
            ox, oy = (q % 2) * tile[0], (q // 2) * tile[1]
            out[oy : oy + tile[1], ox : ox + tile[0]] = image
            boxes += [[x + ox, y + oy, bw, bh] for x, y, bw, bh in b]
            ignored += [[x + ox, y + oy, bw, bh] for x, y, bw, bh in g]
        rec.jpegs.append(_encode(out))
        rec.boxes.append(boxes)
        rec.ignored.append(ignored)
    return rec


class Player:
    """A `Source` that plays a `Recording` paced at its fps, decoding each JPEG when its time comes (a webcam's
    MJPG frame); a reader that falls more than a frame behind skips to the frame due, as a camera's queue does.
    Ends after the last frame."""

    def __init__(self, recording: Recording) -> None:
        self.recording = recording
        self.name, self.fps, self.size = recording.name, recording.fps, recording.size
        self._start: float | None = None
        self._next = 0
        self.delivered = 0

    def read(self) -> Frame | None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._next / self.fps
        if due > now:
            time.sleep(due - now)
        else:
            self._next = max(self._next, int((now - self._start) * self.fps))
        if self._next >= len(self.recording.jpegs):
            return None
        image = self.recording.image(self._next)
        frame = Frame(image, time.monotonic(), self._next)
        self._next += 1
        self.delivered += 1
        return frame

    def frames_due(self, until: float) -> int:
        """Camera frames whose time came between the start and `until` (monotonic): what a call should get."""
        if self._start is None:
            return 0
        return min(len(self.recording.jpegs), int((until - self._start) * self.fps) + 1)

    def close(self) -> None:
        pass

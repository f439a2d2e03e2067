"""BlazeFace's pre- and post-processing as MediaPipe defines it, without MediaPipe.

MediaPipe's face detection is a graph of calculators around one TFLite model:
ImageToTensor (letterbox to a square, values in [-1, 1]), the model,
SsdAnchorsCalculator, TensorsToDetectionsCalculator and a weighted
NonMaxSuppressionCalculator. This module does the same steps in NumPy with the
options of MediaPipe's own graph files
(``mediapipe/modules/face_detection/face_detection_{short,full}_range.pbtxt``,
``face_detection.pbtxt`` for the shared defaults), so the runtime that executes
the model can be chosen for privacy: mediapipe 1.x's native library carries a
telemetry uploader, LiteRT's interpreter does not (see `vcam.detection.detect`).

Everything here is pure: arrays in, arrays out. The equivalence with the
mediapipe Tasks path (same faces, IoU >= 0.9, score within 0.02) is tested in
``tests/test_blazeface_equivalence.py``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True, slots=True)
class BlazeFaceSpec:
    """One model's anchor and decoding options (MediaPipe's FaceDetectionOptions)."""

    input_size: int
    strides: tuple[int, ...]
    interpolated_scale_aspect_ratio: float
    num_boxes: int
    num_keypoints: int = 6
    anchor_offset: float = 0.5
    score_clipping: float = 100.0

    @property
    def scale(self) -> float:
        """x/y/w/h_scale of the pbtxt: raw regressions are in input pixels."""
        return float(self.input_size)


SHORT_RANGE = BlazeFaceSpec(input_size=128, strides=(8, 16, 16, 16), interpolated_scale_aspect_ratio=1.0, num_boxes=896)
"""``face_detection_short_range.pbtxt``: 4 layers, strides 8/16/16/16, 896 anchors."""

FULL_RANGE = BlazeFaceSpec(input_size=192, strides=(4,), interpolated_scale_aspect_ratio=0.0, num_boxes=2304)
"""``face_detection_full_range.pbtxt``: 1 layer, stride 4, no interpolated anchor, 2304 anchors."""


def anchors(spec: BlazeFaceSpec) -> np.ndarray:
    """Anchor centres ``(N, 2)`` as SsdAnchorsCalculator makes them with ``fixed_anchor_size: true``.

    Consecutive layers with the same stride share one feature map; each layer adds one anchor per
    aspect ratio (only 1.0 here) plus one interpolated anchor when that ratio is > 0. With a fixed
    anchor size every anchor is 1x1, so only the centres and their count per cell matter.
    """
    centres = []
    layer = 0
    while layer < len(spec.strides):
        per_cell = 0
        last = layer
        while last < len(spec.strides) and spec.strides[last] == spec.strides[layer]:
            per_cell += 1 + (spec.interpolated_scale_aspect_ratio > 0)
            last += 1
        cells = math.ceil(spec.input_size / spec.strides[layer])
        ys, xs = np.mgrid[0:cells, 0:cells]
        grid = np.stack([(xs + spec.anchor_offset) / cells, (ys + spec.anchor_offset) / cells], axis=-1)
        centres.append(np.repeat(grid.reshape(-1, 2), per_cell, axis=0))
        layer = last
    out = np.concatenate(centres).astype(np.float32)
    if len(out) != spec.num_boxes:
        raise ValueError(f"anchor count {len(out)} != num_boxes {spec.num_boxes}")
    return out


@dataclass(frozen=True, slots=True)
class Letterbox:
    """How an image was fitted into the square model input (ImageToTensor, keep_aspect_ratio, BORDER_ZERO)."""

    scale: float
    pad_x: float
    pad_y: float
    size: int

    def to_image(self, xy: np.ndarray) -> np.ndarray:
        """Map normalised model-input coordinates (..., 2) back to image pixels."""
        return (xy * self.size - (self.pad_x, self.pad_y)) / self.scale


def letterbox(image: np.ndarray, size: int, *, bgr: bool = False) -> tuple[np.ndarray, Letterbox]:
    """Fit a uint8 image into ``size``x``size`` keeping its aspect, centred, black border, RGB values in [-1, 1].

    With `bgr`, the channels are swapped after the resize (on the small tensor, not the frame).
    Returns the NHWC float32 tensor and the mapping back to image pixels.
    """
    h, w = image.shape[:2]
    scale = size / max(w, h)
    pad_x, pad_y = (size - w * scale) / 2, (size - h * scale) / 2
    # MediaPipe's OpenCV converter maps the corners of the square region around the image onto the
    # corners of the tensor (cv::getPerspectiveTransform), samples bilinearly, fills the border with
    # source value 0 (black), then scales to [-1, 1].
    matrix = np.array([[scale, 0, pad_x], [0, scale, pad_y]], np.float32)
    tensor = cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    if bgr:
        tensor = cv2.cvtColor(tensor, cv2.COLOR_BGR2RGB)
    tensor = tensor.astype(np.float32) * (2.0 / 255.0) - 1.0
    return tensor[np.newaxis], Letterbox(scale, pad_x, pad_y, size)


@dataclass(frozen=True, slots=True)
class Detection:
    """One decoded face in image pixels: box ``(x, y, w, h)``, score, six keypoints ``(6, 2)``."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


def decode(
    regressors: np.ndarray,
    scores: np.ndarray,
    spec: BlazeFaceSpec,
    anchor_centres: np.ndarray,
    threshold: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TensorsToDetectionsCalculator: raw outputs to boxes ``(K, 4)`` as (xmin, ymin, xmax, ymax), keypoints
    ``(K, 6, 2)`` and scores ``(K,)``, all normalised to the model input, for scores >= `threshold`.

    ``reverse_output_order: true``: each box is (x_centre, y_centre, w, h), offsets from the anchor
    centre in input pixels; scores are clipped to +-100 and passed through a sigmoid.
    """
    raw = regressors.reshape(spec.num_boxes, -1)
    logits = np.clip(scores.reshape(spec.num_boxes).astype(np.float64), -spec.score_clipping, spec.score_clipping)
    prob = 1.0 / (1.0 + np.exp(-logits))
    keep = np.nonzero(prob >= threshold)[0]
    raw, prob, centre = raw[keep], prob[keep], anchor_centres[keep]
    xy = raw[:, 0:2] / spec.scale + centre
    wh = raw[:, 2:4] / spec.scale
    boxes = np.concatenate([xy - wh / 2, xy + wh / 2], axis=1)
    kps = raw[:, 4 : 4 + 2 * spec.num_keypoints].reshape(-1, spec.num_keypoints, 2) / spec.scale + centre[:, None]
    return boxes, kps, prob


def _iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(box[0], others[:, 0])
    iy0 = np.maximum(box[1], others[:, 1])
    ix1 = np.minimum(box[2], others[:, 2])
    iy1 = np.minimum(box[3], others[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, overlap: float
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """NonMaxSuppressionCalculator, ``algorithm: WEIGHTED``, ``overlap_type: INTERSECTION_OVER_UNION``.

    The best remaining detection and every one overlapping it by more than `overlap` become one: box
    corners and keypoints are their score-weighted mean, the score is the best one's. Ties keep the
    original order (MediaPipe sorts with a stable comparison on the score).
    """
    order = np.argsort(-scores, kind="stable")
    out = []
    while len(order):
        best = order[0]
        similar = _iou(boxes[best], boxes[order]) > overlap
        group = order[similar]
        weights = scores[group][:, None]
        total = weights.sum()
        box = (boxes[group] * weights).sum(axis=0) / total
        kps = (keypoints[group] * weights[:, :, None]).sum(axis=0) / total
        out.append((box, kps, float(scores[best])))
        order = order[~similar]
    return out


def postprocess(
    regressors: np.ndarray,
    scores: np.ndarray,
    spec: BlazeFaceSpec,
    anchor_centres: np.ndarray,
    box: Letterbox,
    *,
    threshold: float,
    overlap: float,
) -> list[Detection]:
    """Decode, suppress and project back to image pixels, in MediaPipe's order (NMS before projection)."""
    corners, kps, prob = decode(regressors, scores, spec, anchor_centres, threshold)
    out = []
    for corner, kp, score in weighted_nms(corners, kps, prob, overlap):
        p0, p1 = box.to_image(corner[:2]), box.to_image(corner[2:])
        out.append(
            Detection((float(p0[0]), float(p0[1]), float(p1[0] - p0[0]), float(p1[1] - p0[1])), score, box.to_image(kp))
        )
    return out

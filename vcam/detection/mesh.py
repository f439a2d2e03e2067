"""MediaPipe's face mesh (468 landmarks) on one face, run by LiteRT like BlazeFace.

The model is `face_landmark.tflite` from the mediapipe 0.10.21 wheel (`assets/models`). Its input is
the face's crop turned upright by the eye line, as MediaPipe's graph makes it
(`face_detection_front_detection_to_roi.pbtxt`: the detection's box, rotated so the line from keypoint 0
to keypoint 1 (the eyes) is level, scaled 1.5x and made square on its long side), 192x192 RGB in 0..1.
Its outputs are 468 points (x, y in crop pixels, z at the same scale) and a face-presence logit.
The attention variant (478 points with irises) needs MediaPipe's own custom operators, which LiteRT
does not have; the irises come from MediaPipe's iris model instead (`EyeReader`, below).

Measured here (one LiteRT thread): 1.1 ms per call (median of 50), 1.4 ms with the crop's warp.

`EyeReader` runs MediaPipe's iris model (`iris_landmark.tflite`, same wheel) on both eyes in one call (a
batch of two 64x64 crops, as MediaPipe's iris graph makes them: 2.3x the eye's corner-to-corner span, the
right eye mirrored): the eyelids it draws close with a blink where the face mesh's barely move (on the
head-pose clip's blink: eyelid gap over eye width 0.39 -> 0.19 here, 0.33 -> 0.26 in the mesh), and its iris
centre gives the gaze. 2.0 ms a face for both eyes.
"""

from __future__ import annotations

import threading

import cv2
import numpy as np

from vcam import assets
from vcam.detection.detect import quiet_native_stderr
from vcam.frames import EyeReading, Face, FaceMesh

INPUT = 192
ROI_SCALE = 1.5
"""MediaPipe's crop around a detection (and around the previous frame's landmarks): 1.5x the box."""
OUTER_EYE_CORNERS = (33, 263)
"""The right and left eye's outer corners: MediaPipe turns its crop by the line through them."""
NOSE_TIP = 1
"""The mesh's point on the tip of the nose."""
PRESENT = 0.5
"""MediaPipe's face-presence threshold (`ThresholdingCalculator`, face_landmark_cpu.pbtxt)."""


def roi(face: Face) -> tuple[float, float, float, float]:
    """The model's crop for `face`: centre x, centre y, side, rotation (radians; the eye line's angle)."""
    x, y, w, h = face.box
    angle = 0.0
    if len(face.keypoints) >= 2:
        (x0, y0), (x1, y1) = face.keypoints[0], face.keypoints[1]
        if np.hypot(x1 - x0, y1 - y0) > 1e-3:
            angle = float(np.arctan2(y1 - y0, x1 - x0))
    return x + w / 2, y + h / 2, max(w, h) * ROI_SCALE, angle


def crop_transform(cx: float, cy: float, side: float, angle: float) -> np.ndarray:
    """2x3 affine from frame pixels to the model's 192x192 input, for the turned square crop."""
    c, s = np.cos(angle), np.sin(angle)
    half = side / 2
    ux, uy = c * half, s * half  # half the crop's x axis in frame pixels
    vx, vy = -s * half, c * half  # half its y axis
    src = np.float32([[cx - ux - vx, cy - uy - vy], [cx + ux - vx, cy + uy - vy], [cx - ux + vx, cy - uy + vy]])
    dst = np.float32([[0, 0], [INPUT, 0], [0, INPUT]])
    return cv2.getAffineTransform(src, dst)


class FaceMesher:
    """Runs the face mesh model on one face at a time (thread-safe; one LiteRT thread)."""

    name = "face-mesh"

    def __init__(self, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        model = assets.model_path(assets.FACE_MESH)
        with quiet_native_stderr():
            self._interpreter = Interpreter(model_path=str(model), num_threads=threads)
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        # Two outputs: the landmarks (1, 1, 1, 1404) and the presence logit (1, 1, 1, 1).
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: int(np.prod(d["shape"])), reverse=True)
        self._points, self._presence = (d["index"] for d in outputs)
        self._lock = threading.Lock()
        self._run(np.zeros((INPUT, INPUT, 3), np.float32))  # the first call sets up XNNPACK

    def _run(self, tensor: np.ndarray) -> tuple[np.ndarray, float]:
        with self._lock:
            self._interpreter.set_tensor(self._input, tensor[None])
            self._interpreter.invoke()
            points = self._interpreter.get_tensor(self._points).reshape(-1, 3).copy()
            logit = float(self._interpreter.get_tensor(self._presence).reshape(-1)[0])
        return points, 1.0 / (1.0 + np.exp(-logit))

    def mesh(self, image: np.ndarray, face: Face) -> FaceMesh | None:
        """The face's 468 landmarks in frame pixels and in the upright crop, and the model's presence score; None
        for a face too small to crop."""
        return self._mesh_in(image, *roi(face))

    def refine(self, image: np.ndarray, mesh: FaceMesh) -> FaceMesh | None:
        """The mesh again, on the crop its own landmarks give (MediaPipe's second frame: the box around the
        points x1.5, turned by the outer eye corners). The landmarks then no longer depend on how the
        detector's keypoints turned the first crop: the same tilted face, its first crop turned or not,
        gave embeddings 0.55 apart, as far as two people (tests/test_identity.py)."""
        points = mesh.points[:, :2]
        (x0, y0), (x1, y1) = points.min(axis=0), points.max(axis=0)
        (ax, ay), (bx, by) = points[OUTER_EYE_CORNERS[0]], points[OUTER_EYE_CORNERS[1]]
        angle = float(np.arctan2(by - ay, bx - ax))
        return self._mesh_in(image, (x0 + x1) / 2, (y0 + y1) / 2, max(x1 - x0, y1 - y0) * ROI_SCALE, angle)

    def _mesh_in(self, image: np.ndarray, cx: float, cy: float, side: float, angle: float) -> FaceMesh | None:
        if not np.isfinite([cx, cy, side, angle]).all() or side < 8:
            return None
        to_crop = crop_transform(cx, cy, side, angle)
        crop = cv2.warpAffine(image, to_crop, (INPUT, INPUT), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        rgb = cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(1 / 255)
        points, score = self._run(rgb)
        back = cv2.invertAffineTransform(to_crop)
        xy = points[:, :2] @ back[:, :2].T + back[:, 2]
        z = points[:, 2:3] * np.float32(side / INPUT)
        frame_points = np.hstack([xy, z]).astype(np.float32)
        return FaceMesh(frame_points, float(score), angle, crop_points=points.astype(np.float32))

    def close(self) -> None:
        self._interpreter = None


EYE_INPUT = 64
EYE_ROI = 2.3
"""MediaPipe's eye crop: the square 2.3 times the eye's corner-to-corner span (iris_landmark_cpu.pbtxt)."""
EYES = ((33, 133, False), (362, 263, True))
"""Each eye's corners in the face mesh (outer, inner for the picture's left eye; inner, outer for the right)
and whether its crop is mirrored (the model was trained on one eye)."""
LID_UPPER, LID_LOWER, LID_OUTER, LID_INNER = 12, 4, 0, 8
"""In the model's 71 points, the first 16 are the eyelids' ring: these are its upper and lower middles and
its two corners (MediaPipe maps them onto the mesh's 159, 145, 33 and 133)."""


class EyeReader:
    """MediaPipe's iris model on both eyes of a face mesh: eyelid openings and where the irises sit."""

    def __init__(self, threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        model = assets.model_path(assets.IRIS)
        with quiet_native_stderr():
            self._interpreter = Interpreter(model_path=str(model), num_threads=threads)
            self._interpreter.resize_tensor_input(0, [2, EYE_INPUT, EYE_INPUT, 3])
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        # Two outputs: eyelids and brows (2, 213) and the iris (2, 15); tell them by their size.
        outputs = sorted(self._interpreter.get_output_details(), key=lambda d: int(np.prod(d["shape"])), reverse=True)
        self._lids, self._iris = (d["index"] for d in outputs)
        self._lock = threading.Lock()

    def read(self, image: np.ndarray, mesh: FaceMesh) -> EyeReading | None:
        """Both eyes' eyelid gap over eye width and iris offset from the eye's middle (in eye widths, across
        and down the eye), the picture's left eye first; None for eyes too small to crop."""
        crops = []
        for outer, inner, mirror in EYES:
            a, b = mesh.points[outer, :2], mesh.points[inner, :2]
            span = float(np.hypot(*(b - a)))
            if not np.isfinite(span) or span < 3:
                return None
            centre = (a + b) / 2
            angle = float(np.arctan2(b[1] - a[1], b[0] - a[0]))
            to_crop = crop_transform(float(centre[0]), float(centre[1]), EYE_ROI * span, angle) * (EYE_INPUT / INPUT)
            crop = cv2.warpAffine(image, to_crop, (EYE_INPUT, EYE_INPUT), borderMode=cv2.BORDER_REPLICATE)
            if mirror:
                crop = crop[:, ::-1]
            crops.append(cv2.cvtColor(crop, cv2.COLOR_BGR2RGB).astype(np.float32) * np.float32(1 / 255))
        with self._lock:
            self._interpreter.set_tensor(self._input, np.stack(crops))
            self._interpreter.invoke()
            lids = self._interpreter.get_tensor(self._lids).reshape(2, -1, 3)
            irises = self._interpreter.get_tensor(self._iris).reshape(2, -1, 3)
        openings, gazes = [], []
        for (_, _, mirror), lid, iris in zip(EYES, lids, irises, strict=True):
            width = max(float(np.hypot(*(lid[LID_INNER, :2] - lid[LID_OUTER, :2]))), 1e-3)
            openings.append(float(np.hypot(*(lid[LID_UPPER, :2] - lid[LID_LOWER, :2]))) / width)
            middle = (lid[LID_INNER, :2] + lid[LID_OUTER, :2]) / 2
            dx, dy = (iris[0, :2] - middle) / width
            gazes.append((float(-dx if mirror else dx), float(dy)))
        return EyeReading((openings[0], openings[1]), (gazes[0], gazes[1]))

    def close(self) -> None:
        self._interpreter = None

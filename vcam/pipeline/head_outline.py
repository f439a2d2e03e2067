"""The head's outline from its face mesh: the hidden shape where the mesh is sure, instead of the box's ellipse.

An ellipse fitted to a detector's box cannot be both tight and safe: the box does not know where the face is.
The mesh does; grown from its silhouette to the whole head (ears, hair, chin) and never smaller than the
ellipse inside the detector's box, it hid 63 of 64 image faces >= 24 px as the ellipse did, over 2.27x the
reference boxes' area instead of 2.59x (docs/EVALUATION.md). Where the mesh is not sure, or disagrees with the
detector, or the head is tilted past what it follows, None: the caller keeps the ellipse.
"""

from __future__ import annotations

import cv2
import numpy as np

from vcam.detection.mesh import NOSE_TIP, OUTER_EYE_CORNERS
from vcam.frames import Face, expand_box

FACE_OVAL = (
    10,
    338,
    297,
    332,
    284,
    251,
    389,
    356,
    454,
    323,
    361,
    288,
    397,
    365,
    379,
    378,
    400,
    377,
    152,
    148,
    176,
    149,
    150,
    136,
    172,
    58,
    132,
    93,
    234,
    127,
    162,
    21,
    54,
    103,
    67,
    109,
)
"""The face mesh's silhouette (MediaPipe's FACEMESH_FACE_OVAL), forehead round the chin and back."""
MESH_SURE = 0.9
"""The mesh's presence score above which its outline replaces the ellipse (real faces read 0.99-1.0 here; the
model's own threshold, 0.5, is for drawing an avatar, not for trusting its outline with privacy)."""
HEAD_ACROSS = 1.12
"""The outline grown across the face to take in the ears (they stand 5-10% of the face's width beyond the
mesh's cheek line on each side)."""
HEAD_ABOVE = 1.45
"""The upper half grown to take in the hair: the mesh stops at the upper forehead, and the crown sits about
as far again above the eyes as the mesh's top does."""
HEAD_BELOW = 1.08
"""The lower half grown a little past the chin (the mesh's chin point rides on the jaw line)."""


def mesh_outline(face: Face, scale: float = 1.0) -> np.ndarray | None:
    """The head's outline from the face mesh (Nx2 float32 frame pixels), grown in the head's own axes (turned with
    its eye line) and `scale`d as the effect's margin scales the ellipse; None where the mesh is not confident,
    the head is tilted, or the mesh disagrees with the detector (its keypoints and the box's centre must lie
    inside, its eyes and nose near the detector's), and the caller keeps the ellipse."""
    mesh = face.mesh
    if mesh is None or mesh.score < MESH_SURE:
        return None
    points = mesh.points[:, :2].astype(np.float64)
    oval = points[list(FACE_OVAL)]
    centre = oval.mean(axis=0)
    eye_line = points[OUTER_EYE_CORNERS[1]] - points[OUTER_EYE_CORNERS[0]]
    length = float(np.hypot(*eye_line))
    if not np.isfinite(oval).all() or length < 1e-3:
        return None
    u = eye_line / length
    if abs(np.arctan2(u[1], u[0])) > UPRIGHT:
        return None
    v = np.array([-u[1], u[0]])  # down the face
    d = oval - centre
    across = (d @ u) * HEAD_ACROSS * scale
    down = d @ v
    down = down * np.where(down < 0, HEAD_ABOVE, HEAD_BELOW) * scale
    grown = (centre + across[:, None] * u + down[:, None] * v).astype(np.float32)
    x, y, w, h = face.box
    for point in (*face.keypoints[:4], (x + w / 2, y + h / 2)):
        if cv2.pointPolygonTest(grown, (float(point[0]), float(point[1])), False) < 0:
            return None
    if len(face.keypoints) >= 3:
        # Eyes and nose tip: the first three keypoints of BlazeFace and CenterFace alike (their fourth differs).
        found = (points[[33, 133]].mean(0), points[[362, 263]].mean(0), points[NOSE_TIP])
        apart = max(float(np.hypot(*(np.asarray(k) - f))) for k, f in zip(face.keypoints[:3], found, strict=True))
        if apart > AGREE * w:
            return None
    # Never less than the ellipse inside the detector's own box: on a turned face the mesh's far cheek stops
    # short of the face's visible edge (a 3/4 face of the dlib photos lost 19% of its reference box to the
    # outline alone). The box's corners instead made every head a rectangle.
    bx, by, bw, bh = expand_box(face.box, BOX_KEPT * scale)
    turn = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    ring = np.stack([bx + bw / 2 * (1 + np.cos(turn)), by + bh / 2 * (1 + np.sin(turn))], axis=1).astype(np.float32)
    return cv2.convexHull(np.vstack([grown, ring]))[:, 0, :]


BOX_KEPT = 1.1
"""The outline always takes in the ellipse inside the detector's box grown this much (see `mesh_outline`)."""
UPRIGHT = np.radians(20)
"""Only a head within this tilt gets the mesh's outline: on the demo's heads tilted 30-50 degrees the mesh's
outline left parts of the faces out (86 of 112 face-frames leaked, 38 readable), the ellipse none."""
AGREE = 0.12
"""The mesh's eyes and nose tip must lie within this share of the box's width of the detector's own
keypoints for its outline to be trusted. A squashed mesh on a head tilted 45 degrees (the demo's woman) kept a
presence score of 0.99999 while its outline left her chin out; its eyes were 0.2 box widths off."""

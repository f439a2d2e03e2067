"""The privacy curtain: what is published instead of a frame that could not be checked for faces."""

from __future__ import annotations

import cv2
import numpy as np


def curtain(image: np.ndarray, status: str) -> np.ndarray:
    """Cover the whole frame: 12 coarse blocks across, darkened, with a one-line status.

    Coarse enough that no face in the frame keeps any feature, yet the call
    still shows the scene's colours so it looks intentional, not broken.
    """
    h, w = image.shape[:2]
    blocks = 12
    small = cv2.resize(image, (blocks, max(1, round(blocks * h / w))), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST)
    out = (out.astype(np.uint16) * 2 // 5).astype(np.uint8)
    if status and h >= 24 and w >= 48:
        scale = max(0.4, min(1.2, w / 1200))
        thickness = max(1, round(scale * 2))
        (tw, th), _ = cv2.getTextSize(status, cv2.FONT_HERSHEY_SIMPLEX, scale, thickness)
        org = (max(4, (w - tw) // 2), (h + th) // 2)
        cv2.putText(out, status, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thickness, cv2.LINE_AA)
    return out

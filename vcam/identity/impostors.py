"""The faces of strangers each enrolment is calibrated against, and the calibration itself.

A fixed distance threshold cannot serve everyone: measured on the eval clips (docs/EVALUATION.md,
"Show me"), the nearest stranger lay 0.39 from one signer's enrolment and 0.58 from the woman's. So each
enrolment gets its own threshold, set below the strangers of a bank shipped with vcam
(assets/identity/impostors.json: embeddings only, from redistributable still images, re-made by
assets/make_impostor_bank.py), and the reason is stored with it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache

import numpy as np

from vcam.assets import FACE_EMBEDDING, MODEL_SHA256, assets_dir
from vcam.identity.recognizer import ALIGNMENT, EMBEDDING_SIZE, distances

BANK_FILE = "impostors.json"
MIN_FACE_PX = 40.0
"""Faces in the bank are at least this wide, as the faces the gate checks (IdentitySettings.min_face_px)."""


def bank_id() -> str:
    """The recognizer and chip layout the bank's numbers (and an enrolment's) were made with."""
    return f"{FACE_EMBEDDING}:{MODEL_SHA256[FACE_EMBEDDING][:16]}:{ALIGNMENT}"


@cache
def load_bank() -> np.ndarray:
    """The bank's embeddings, (N, 128). ValueError when it is missing or made by another recognizer."""
    path = assets_dir() / "identity" / BANK_FILE
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(f"the strangers' faces ({path}) cannot be read: {exc}; reinstall vcam") from exc
    if data.get("model") != bank_id():
        raise ValueError(f"{path} was made by another face model; re-make it (assets/make_impostor_bank.py)")
    faces = np.asarray(data["faces"], np.float32)
    if faces.ndim != 2 or faces.shape[1] != EMBEDDING_SIZE or len(faces) == 0:
        raise ValueError(f"{path} is damaged; reinstall vcam")
    return faces


STRANGER_SHARE = 1.0
"""The bank's percentile taken as "the nearest strangers" of an enrolment (176 faces: about its second nearest)."""
ENTRY_MARGIN = 0.20
"""How far below the bank's nearest strangers the mean of a track's first checks must lie. Strangers filmed by
the same camera in the same room come nearer than strangers in other pictures: on the eval clips the nearest
such stranger lay 0.24 below the bank's nearest 1% for one signer (the jacket signer against the hoodie
signer's enrolment: 0.363, bank 0.599; one frame), 0.0-0.17 for the others (`python -m vcam.evaluation.show_me
--distances`, docs/EVALUATION.md, "Show me"). 0.20 with the two-check entry (IdentitySettings.entry_checks)
showed nobody else; 0.25 would have kept the woman beside the man hidden."""
KEEP_MARGIN = 0.05
"""A track already matched stays shown while its re-checks lie this far below the bank's nearest strangers:
the user's own head turned or a hand at the mouth (up to 0.5 on the eval clips) is not a stranger."""
THRESHOLD_RANGE = (0.30, 0.45)
"""The first-match threshold is kept inside this: above 0.45 dlib's own faces of two people are often
nearer; an enrolment whose threshold would fall under 0.30 lies among strangers (a dark or blurred
enrolment) and is refused with that reason."""
KEEP_MAX = 0.6
"""dlib's own same-person distance: a re-check farther than this is someone else whatever the bank says."""


@dataclass(frozen=True, slots=True)
class Calibration:
    """An enrolment's own thresholds, and why they were chosen (stored with it, shown by `vcam enroll`)."""

    threshold: float
    """Largest distance at which a track is first taken as the user."""
    keep: float
    """Largest distance of a re-check that keeps a matched, unbroken track shown."""
    why: str


class CalibrationError(ValueError):
    """The enrolment lies too near the strangers' faces to tell the user from them."""


def calibrate(embeddings: np.ndarray, bank: np.ndarray | None = None) -> Calibration:
    """The thresholds for `embeddings` (an enrolment) against the strangers of `bank` (default: the shipped one)."""
    bank = load_bank() if bank is None else bank
    nearest = distances(bank, np.asarray(embeddings, np.float32))
    strangers = float(np.percentile(nearest, STRANGER_SHARE))
    low, high = THRESHOLD_RANGE
    threshold = min(high, strangers - ENTRY_MARGIN)
    if threshold < low:
        raise CalibrationError(
            f"your enrolment lies near other people's faces (nearest strangers at {strangers:.2f}): "
            "enrol again with more light, facing the camera"
        )
    keep = min(KEEP_MAX, strangers - KEEP_MARGIN)
    why = (
        f"the nearest {STRANGER_SHARE:g}% of {len(bank)} strangers' faces lie at {strangers:.3f}; "
        f"first match at most {threshold:.3f} ({ENTRY_MARGIN:.2f} below, at most {high:.2f}), "
        f"kept while re-checks stay at most {keep:.3f}"
    )
    return Calibration(round(threshold, 4), round(keep, 4), why)

"""The enrolled user's face, as embeddings only: never an image, owner-only, in the user data folder.

One JSON file (`enrolled-face.json`, 0600 in a 0700 folder), written atomically. It records which model
and chip layout made the numbers: embeddings of another are not comparable, so such a file is refused
like a damaged one (the user enrols again). It keeps the enrolment's own thresholds and why they were
chosen (`vcam.identity.impostors.calibrate`). Anything unreadable means "nobody enrolled", which in
"hide everyone but me" hides everyone.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import platformdirs

from vcam.atomic_write import write_atomic
from vcam.identity.impostors import Calibration, bank_id
from vcam.identity.recognizer import EMBEDDING_SIZE

FILE_NAME = "enrolled-face.json"
FORMAT = 2
"""2: the chip laid out from the face mesh, and the enrolment's own thresholds (1: dlib's landmarks, one
threshold for everyone)."""


class StoreError(ValueError):
    """The enrolment file exists but cannot be used; the message says why and what to do."""


def default_path() -> Path:
    return Path(platformdirs.user_data_dir("vcam", appauthor=False)) / FILE_NAME


@dataclass(frozen=True)
class Enrolment:
    embeddings: np.ndarray
    """(N, 128), N >= 1."""
    calibration: Calibration


@dataclass(frozen=True)
class EnrolmentStore:
    path: Path

    @classmethod
    def default(cls) -> EnrolmentStore:
        return cls(default_path())

    def exists(self) -> bool:
        return self.path.is_file()

    def load(self) -> Enrolment | None:
        """The enrolment; None when nobody is enrolled. StoreError if damaged or made by another model."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise StoreError(f"cannot read {self.path}: {exc.strerror}") from exc
        try:
            data = json.loads(raw)
            if data.get("format") != FORMAT or data.get("model") != bank_id():
                raise StoreError(f"{self.path} was made by another face model; enrol again (vcam enroll)")
            embeddings = np.asarray(data["embeddings"], np.float32)
            calibration = Calibration(float(data["threshold"]), float(data["keep"]), str(data["why"]))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            if isinstance(exc, StoreError):
                raise
            raise StoreError(f"{self.path} is damaged; `vcam forget-me` removes it, then enrol again") from exc
        shape_ok = embeddings.ndim == 2 and embeddings.shape[1] == EMBEDDING_SIZE and len(embeddings) > 0
        limits_ok = 0.0 < calibration.threshold <= calibration.keep <= 1.0
        if not shape_ok or not limits_ok or not np.isfinite(embeddings).all():
            raise StoreError(f"{self.path} is damaged; `vcam forget-me` removes it, then enrol again")
        return Enrolment(embeddings, calibration)

    def save(self, embeddings: np.ndarray, calibration: Calibration) -> None:
        """Replace the enrolment. Only numbers are written; the folder is made owner-only."""
        embeddings = np.asarray(embeddings, np.float32)
        if embeddings.ndim != 2 or embeddings.shape[1] != EMBEDDING_SIZE or len(embeddings) == 0:
            raise ValueError(f"expected (N, {EMBEDDING_SIZE}) embeddings, got shape {embeddings.shape}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(self.path.parent, 0o700)
        data = {
            "format": FORMAT,
            "model": bank_id(),
            "threshold": calibration.threshold,
            "keep": calibration.keep,
            "why": calibration.why,
            "embeddings": [[round(float(v), 6) for v in row] for row in embeddings],
        }
        write_atomic(self.path, json.dumps(data).encode(), mode=0o600)

    def forget(self) -> bool:
        """Delete the enrolment; True if there was one."""
        try:
            self.path.unlink()
        except FileNotFoundError:
            return False
        return True

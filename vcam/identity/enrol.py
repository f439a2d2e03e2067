"""Enrolment: a few seconds of the user's face, in several poses, turned into embeddings.

Each sampled frame must show exactly one person, big enough to recognize; other frames are refused
with the reason (the user sees which and why). Only embeddings leave this module, never pixels.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from vcam.detection.scan import Scanner, ScanSettings
from vcam.detection.track import count_people
from vcam.frames import Face, Frame
from vcam.identity.recognizer import EMBEDDING_SIZE, Recognizer, RecognizerUnavailable
from vcam.identity.store import EnrolmentStore


@dataclass(frozen=True, slots=True)
class EnrolSettings:
    every_s: float = 0.2
    """Sample a video (or the camera) this often: consecutive frames of one pose add nothing."""
    min_face_px: float = 60.0
    """A face narrower than this is refused ("come closer"): recognition later runs on faces >= 40 px
    (IdentitySettings.min_face_px), and the enrolment should be sharper than what it is compared with."""
    min_samples: int = 5
    """Fewer usable frames than this and nothing is stored: one pose does not recognize a turned head."""
    max_samples: int = 24
    """Kept embeddings, spread over the poses seen (farthest-point choice); each costs a distance per check."""


@dataclass
class EnrolResult:
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, EMBEDDING_SIZE), np.float32))
    used: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(where, why) for every sampled frame that was not used."""

    def problem(self, settings: EnrolSettings) -> str | None:
        """Why nothing should be stored, or None."""
        if self.used >= settings.min_samples:
            return None
        reasons = sorted({why for _, why in self.refused})
        detail = f" (refused: {'; '.join(reasons)})" if reasons else ""
        return (
            f"only {self.used} usable frame(s) of your face, {settings.min_samples} needed{detail}. "
            "Enrol alone in the picture, face the camera, then turn your head slowly."
        )


class Enroller:
    """Turns frames into an enrolment. Loads BlazeFace/CenterFace and the recognizer on creation."""

    def __init__(self, settings: EnrolSettings | None = None, recognizer: Recognizer | None = None) -> None:
        self.settings = settings or EnrolSettings()
        self._scanner = Scanner(ScanSettings())
        self._recognizer = recognizer or Recognizer()

    def add(self, frame: Frame, where: str, result: EnrolResult) -> None:
        faces = self._scanner.scan(frame.image, frame.t, [], None).faces
        why = refusal(faces, self.settings)
        if why:
            result.refused.append((where, why))
            return
        box = max(faces, key=lambda f: f.score).box
        embedding = self._recognizer.embed(frame.image, [box])
        result.embeddings = np.concatenate([result.embeddings, embedding])
        result.used += 1

    def run(self, frames: Iterable[tuple[Frame, str]]) -> EnrolResult:
        result = EnrolResult()
        for frame, where in frames:
            self.add(frame, where, result)
        result.embeddings = spread(result.embeddings, self.settings.max_samples)
        return result

    def run_live(
        self, newest: Callable[[], Frame | None], seconds: float, stop: Callable[[], bool] = bool
    ) -> EnrolResult:
        """Enrol from a camera for `seconds`: the newest frame every `every_s` (`newest` returns None while
        there is none; `stop` ends early). The user turns their head meanwhile."""
        result = EnrolResult()
        started = time.monotonic()
        last: int | None = None
        while time.monotonic() - started < seconds and not stop():
            frame = newest()
            if frame is not None and frame.index != last:
                last = frame.index
                self.add(frame, f"{time.monotonic() - started:.1f} s", result)
            time.sleep(self.settings.every_s)
        result.embeddings = spread(result.embeddings, self.settings.max_samples)
        return result

    def close(self) -> None:
        self._scanner.close()


@contextmanager
def open_enroller(settings: EnrolSettings) -> Iterator[Enroller]:
    """An Enroller, closed after use; ValueError with the reason in one line when no recognizer can run
    (dlib missing, a model damaged), which the CLI and the tray show as they are."""
    try:
        enroller = Enroller(settings)
    except RecognizerUnavailable as exc:
        raise ValueError(str(exc)) from exc
    try:
        yield enroller
    finally:
        enroller.close()


def save_enrolment(result: EnrolResult, settings: EnrolSettings, store: EnrolmentStore) -> str:
    """Store a good enrolment and say so; ValueError with the reason for a bad one (nothing stored)."""
    problem = result.problem(settings)
    if problem:
        raise ValueError(problem)
    store.save(result.embeddings)
    refused = f", {len(result.refused)} frame(s) refused" if result.refused else ""
    return f"enrolled: {len(result.embeddings)} poses from {result.used} frames{refused} ({store.path})"


def refusal(faces: list[Face], settings: EnrolSettings) -> str | None:
    """Why a frame with these detections cannot enrol anyone, or None."""
    people = count_people(faces)
    if people == 0:
        return "no face"
    if people > 1:
        return f"{people} faces (be alone in the picture)"
    width = max(f.box[2] for f in faces)
    if width < settings.min_face_px:
        return f"face {width:.0f} px wide, {settings.min_face_px:.0f} needed (come closer)"
    return None


def spread(embeddings: np.ndarray, limit: int) -> np.ndarray:
    """At most `limit` rows, chosen farthest-first, so every pose seen stays represented."""
    if len(embeddings) <= limit:
        return embeddings
    chosen = [0]
    nearest = np.linalg.norm(embeddings - embeddings[0], axis=1)
    while len(chosen) < limit:
        pick = int(nearest.argmax())
        chosen.append(pick)
        nearest = np.minimum(nearest, np.linalg.norm(embeddings - embeddings[pick], axis=1))
    return embeddings[sorted(chosen)]

"""Enrolment: a few seconds of the user's face, in several poses, turned into embeddings.

Each sampled frame must show exactly one person, big enough and bright enough to recognize; other
frames are refused with the reason (the user sees which and why). Each used frame's pose (facing,
turned left or right, tilted) is read from the face mesh: live, the user is asked for the pose still
missing; from files, the result names what is missing. Only embeddings leave this module, never pixels.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from vcam.detection.exposure import ExposureSettings
from vcam.detection.mesh import NOSE_TIP, OUTER_EYE_CORNERS
from vcam.detection.scan import Scanner, ScanSettings
from vcam.detection.track import count_people
from vcam.frames import Face, FaceMesh, Frame
from vcam.identity.impostors import Calibration, calibrate
from vcam.identity.recognizer import EMBEDDING_SIZE, Recognizer, RecognizerUnavailable
from vcam.identity.store import EnrolmentStore


@dataclass(frozen=True, slots=True)
class EnrolSettings:
    every_s: float = 0.2
    """Sample a video (or the camera) this often: consecutive frames of one pose add nothing."""
    too_dark_below: float = ExposureSettings().too_dark_below
    """A face whose mean luma is under this is refused ("too dark: add light"): the same limit under which the
    camera says it cannot anonymize reliably."""
    min_face_px: float = 60.0
    """A face narrower than this is refused ("come closer"): recognition later runs on faces >= 40 px
    (IdentitySettings.min_face_px), and the enrolment should be sharper than what it is compared with."""
    min_samples: int = 5
    """Fewer usable frames than this and nothing is stored: one pose does not recognize a turned head."""
    max_samples: int = 24
    """Kept embeddings, spread over the poses seen (farthest-point choice); each costs a distance per check."""


POSES = ("facing the camera", "turned to your left", "turned to your right", "head tilted")
ASK = {
    "facing the camera": "look straight at the camera",
    "turned to your left": "turn your head a little to your left",
    "turned to your right": "turn your head a little to your right",
    "head tilted": "tilt your head a little towards a shoulder",
}
TURNED = 0.15
"""A nose tip this many eye-spans off the middle of the eyes (in the upright crop) is a turned head: about
15 degrees, a turn people make in a call without thinking."""
TILTED = 0.17
"""An eye line this far from level (radians, ~10 degrees) is a tilted head."""


def pose_of(mesh: FaceMesh) -> str:
    """Which of `POSES` the face of `mesh` shows (the user's own left and right)."""
    points = mesh.crop_points if mesh.crop_points is not None else mesh.points
    right, left = points[OUTER_EYE_CORNERS[0], :2], points[OUTER_EYE_CORNERS[1], :2]
    span = max(float(np.linalg.norm(left - right)), 1e-3)
    off = (float(points[NOSE_TIP, 0]) - float(right[0] + left[0]) / 2) / span
    if abs(mesh.angle) >= TILTED:
        return "head tilted"
    if off >= TURNED:  # the nose points to the picture's right: the user's own left
        return "turned to your left"
    if off <= -TURNED:
        return "turned to your right"
    return "facing the camera"


@dataclass
class EnrolResult:
    embeddings: np.ndarray = field(default_factory=lambda: np.zeros((0, EMBEDDING_SIZE), np.float32))
    used: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)
    """(where, why) for every sampled frame that was not used."""
    poses: Counter[str] = field(default_factory=Counter)
    """How many used frames showed each of `POSES`."""

    def missing(self) -> list[str]:
        """The poses no used frame showed, in the order the user is asked for them."""
        return [pose for pose in POSES if not self.poses[pose]]

    def next_ask(self) -> str:
        """What the user should do next: the first pose still missing, or keep moving."""
        missing = self.missing()
        return ASK[missing[0]] if missing else "good: keep turning slowly until the time is up"

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
        why = refusal(faces, self.settings) or too_dark(frame.image, faces, self.settings)
        if why:
            result.refused.append((where, why))
            return
        embedding, (mesh,) = self._recognizer.read(frame.image, [max(faces, key=lambda f: f.score)])
        if mesh is None or not np.isfinite(embedding).all():
            result.refused.append((where, "face not clear enough to read (face the camera, more light)"))
            return
        result.embeddings = np.concatenate([result.embeddings, embedding])
        result.poses[pose_of(mesh)] += 1
        result.used += 1

    def run(self, frames: Iterable[tuple[Frame, str]]) -> EnrolResult:
        result = EnrolResult()
        for frame, where in frames:
            self.add(frame, where, result)
        result.embeddings = spread(result.embeddings, self.settings.max_samples)
        return result

    def run_live(
        self,
        newest: Callable[[], Frame | None],
        seconds: float,
        stop: Callable[[], bool] = bool,
        guide: Callable[[str], None] | None = None,
    ) -> EnrolResult:
        """Enrol from a camera for `seconds`: the newest frame every `every_s` (`newest` returns None while
        there is none; `stop` ends early). `guide` is told what to do whenever that changes: the pose still
        missing, or why the last frames were refused (too dark, too small, not alone)."""
        result = EnrolResult()
        started = time.monotonic()
        last: int | None = None
        said = ""
        while time.monotonic() - started < seconds and not stop():
            frame = newest()
            if frame is not None and frame.index != last:
                last = frame.index
                refused = len(result.refused)
                self.add(frame, f"{time.monotonic() - started:.1f} s", result)
                advice = result.refused[-1][1] if len(result.refused) > refused else result.next_ask()
                if guide is not None and advice != said:
                    guide(advice)
                    said = advice
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


def save_enrolment(result: EnrolResult, settings: EnrolSettings, store: EnrolmentStore) -> tuple[str, Calibration]:
    """Calibrate a good enrolment against the strangers' faces, store it and say so (with its threshold and
    why); ValueError with the reason for a bad one (nothing stored)."""
    problem = result.problem(settings)
    if problem:
        raise ValueError(problem)
    calibration = calibrate(result.embeddings)
    store.save(result.embeddings, calibration)
    refused = f", {len(result.refused)} frame(s) refused" if result.refused else ""
    seen = ", ".join(f"{pose} {result.poses[pose]}" for pose in POSES)
    missing = result.missing()
    advice = f"; missing: {', '.join(missing)} (enrol again and {ASK[missing[0]]})" if missing else ""
    line = (
        f"enrolled: {len(result.embeddings)} poses from {result.used} frames{refused} ({store.path})\n"
        f"frames {seen}{advice}\n"
        f"threshold {calibration.threshold:.3f}: {calibration.why}"
    )
    return line, calibration


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


def too_dark(image: np.ndarray, faces: list[Face], settings: EnrolSettings) -> str | None:
    """ "too dark" when the face's own pixels are darker than the camera can anonymize reliably."""
    x, y, w, h = (int(round(v)) for v in max(faces, key=lambda f: f.score).box)
    crop = image[max(0, y) : y + h, max(0, x) : x + w]
    if crop.size and float(crop.mean()) < settings.too_dark_below:
        return f"too dark (face brightness {crop.mean():.0f} of 255, {settings.too_dark_below:.0f} needed): add light"
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

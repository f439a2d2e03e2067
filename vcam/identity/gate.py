"""Which tracked face may be shown in "hide everyone but me", failing closed.

A track is *confirmed* when its last `entry_checks` checks lie, on average, within the enrolment's own
`threshold` (one lucky frame of a look-alike is not enough), and stays
confirmed while it continues unbroken: detected again within `gap_s`, never jumping more than `max_jump`
box widths (or 1.6x in size) from one detection to the next, never crowded by another face, and every
re-check within the enrolment's looser `keep` (a head turned or tilted past the enrolled poses is still
the user; a re-check beyond `keep` is not). Any break forgets the confirmation at once, and only new
checks within `threshold`, made after the break, confirm it again.

A face is shown only while all of these hold, checked on every frame:
- someone is enrolled and the recognizer works;
- its track was detected on this very frame (not held or extrapolated) and is big enough to recognize;
- the track is confirmed and its newest check was made on a frame at most `fresh_s` older, in this scene;
- it is the only such face (two at once: both hidden);
- no other face crowds it (a tracker could swap two heads that touch).
Everything else stays hidden. A new scene, a camera change or a new enrolment forgets every check.

Checks cost ~150 ms per face here (dlib-bin has no BLAS), so they run per track, not per frame: a
confirmed track every `recheck_s`, one that was confirmed and broke every `doubt_recheck_s`, one clearly
someone else every `other_recheck_s`. Live, they run on their own thread and a slow check simply lets
the match go stale (hidden); in files and images they run in line, on the file's clock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from vcam.frames import Box, Face, Frame, grow_box, intersection
from vcam.identity.impostors import Calibration
from vcam.identity.recognizer import EMBEDDING_SIZE, Recognizer, distances


@dataclass(frozen=True, slots=True)
class IdentitySettings:
    show_enrolled: bool = False
    """Hide everyone but the enrolled user (files: `vcam anonymize --show-enrolled`; live: the mode)."""
    enrolled: tuple[tuple[float, ...], ...] = ()
    """The enrolled embeddings (a tuple, so the settings stay hashable and picklable for workers)."""
    threshold: float = 0.40
    """Largest distance at which a track is first taken as the user. Each enrolment brings its own
    (`vcam.identity.impostors.calibrate`, stored with it); this default serves enrolments made in code."""
    keep: float = 0.55
    """Largest distance of a re-check that keeps a confirmed, unbroken track shown (each enrolment's own too)."""
    entry_checks: int = 2
    """How many checks (their mean) confirm a track. Measured on the eval clips' per-frame distances
    (docs/EVALUATION.md, "Show me"): with one check, the signer in a jacket entered as the hoodie signer on
    a single frame at 0.363 and was kept (17 face-frames shown); the mean of two showed nobody else, for a
    few tenths of a second more before the user is shown."""
    recheck_s: float = 0.5
    """A track that may be shown is checked again this often; one check costs ~150 ms of one core."""
    fresh_s: float = 0.8
    """A match older than this shows nothing: the recheck interval plus the time one check takes, with room."""
    other_recheck_s: float = 1.0
    """A track found to be someone else (`other_from` or farther) is checked again this often; one nearer
    (a head turned or tilted away from the enrolled poses) every `recheck_s`. It stays hidden meanwhile."""
    doubt_recheck_s: float = 0.2
    """A track that matched before and now scores between `threshold` and `other_from` (the user's head
    turned or tilted past the enrolled poses) is checked again this soon: the man tilting his head scored
    0.54, then 0.36 half a second later, hidden all the while. A track that never matched is checked
    every `recheck_s` in that band (a stranger alike must not cost five checks a second)."""
    other_from: float = 0.6
    """Distance from which a face is taken as someone else: other people measured from 0.502 (p5 0.584,
    median 0.710); the man tilting his head scored up to 0.54."""
    min_face_px: float = 40.0
    """Smaller faces are never shown: dlib's chip is 150 px, and a face under 40 px is upscaled 4x or more."""
    max_jump: float = 0.5
    """A box whose centre moved more than this many box widths from the track's previous detection, or whose
    width changed by more than 1.6x, breaks the track: it may be another face."""
    gap_s: float = 0.25
    """A confirmed track not detected for longer than this (a hand over the face, a turn away) breaks: what
    comes back is checked again before it is shown."""
    crowd_grow: float = 1.5
    """Another face whose box, grown by this, touches this one's grown box makes both stay hidden."""


def with_enrolment(
    settings: IdentitySettings, embeddings: np.ndarray, calibration: Calibration | None
) -> IdentitySettings:
    """`settings` for a new enrolment (with its own thresholds, when calibrated)."""
    settings = replace(settings, enrolled=frozen(embeddings))
    if calibration is not None:
        settings = replace(settings, threshold=calibration.threshold, keep=calibration.keep)
    return settings


def frozen(embeddings: np.ndarray) -> tuple[tuple[float, ...], ...]:
    """Embeddings as `IdentitySettings.enrolled` keeps them: hashable, picklable for worker processes."""
    return tuple(tuple(float(v) for v in row) for row in np.asarray(embeddings, np.float32))


@dataclass(frozen=True, slots=True)
class _Check:
    t: float
    distance: float


class IdentityGate:
    """Decides per frame which track (at most one) is the enrolled user. `background`: checks run on a
    thread of their own (live); otherwise in the caller, on the frame's own clock (files)."""

    def __init__(
        self,
        settings: IdentitySettings,
        *,
        background: bool,
        recognizer_factory: Callable[[], Recognizer] = Recognizer,
    ) -> None:
        self.settings = settings
        self._factory = recognizer_factory
        self._background = background
        self._cond = threading.Condition()
        self._enrolled = _as_embeddings(settings.enrolled)
        self._checks: dict[int, _Check] = {}
        self._confirmed: set[int] = set()
        self._recent: dict[int, list[float]] = {}
        """Each track's check distances since it last broke (the newest `entry_checks`)."""
        self._broken: dict[int, float] = {}
        """When each track last broke: a check made before that says nothing about the track now."""
        self._seen: dict[int, tuple[float, Box]] = {}
        """Each track's previous detection (time, box), for continuity."""
        self._matched_once: set[int] = set()
        self._asked: dict[int, float] = {}
        self._epoch = 0
        self._scene: object = None
        self._job: tuple[int, float, np.ndarray, list[Face]] | None = None
        self._recognizer: Recognizer | None = None
        self._closed = False
        self.error: str | None = None
        self.checks = 0
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._work, name="vcam-identity", daemon=True)
            self._thread.start()

    # -- public -------------------------------------------------------------------------
    def set_enrolled(self, embeddings: np.ndarray, calibration: Calibration | None = None) -> None:
        """A new enrolment (or none) with its own thresholds: every earlier check is forgotten."""
        with self._cond:
            self._enrolled = _as_embeddings(embeddings)
            self.settings = with_enrolment(self.settings, embeddings, calibration)
            self._forget()

    @property
    def enrolled(self) -> bool:
        with self._cond:
            return len(self._enrolled) > 0

    def shown(self, frame: Frame, faces: list[Face], scene: object) -> set[int]:
        """The track ids among `faces` to leave visible on `frame` (empty or one). `scene` changes on a cut,
        a camera change or a reset: it forgets every check."""
        with self._cond:
            if scene != self._scene:
                self._scene = scene
                self._forget()
            if len(self._enrolled) == 0:
                return set()
            self._follow(frame.t, faces)
            candidates = [f for f in faces if self._recognizable(f, frame)]
            due = [f for f in candidates if self._due(f, frame.t)]
            if due and self._background and self._job is not None:
                # A job never taken is replaced by this frame's: its tracks are asked again with this frame.
                pending = {f.track_id for f in self._job[3]} - {f.track_id for f in due}
                due += [f for f in candidates if f.track_id in pending]
            for face in due:
                self._asked[face.track_id] = frame.t
            epoch = self._epoch
            if due and self._background:
                self._job = (epoch, frame.t, frame.image.copy(), due)
                self._cond.notify_all()
        if due and not self._background:
            self._check(epoch, frame.t, frame.image, due, frame.still)
        with self._cond:
            matched = [f for f in candidates if self._matches(f, frame.t)]
            if len(matched) != 1:
                return set()
            (face,) = matched
            if any(other is not face and _crowds(other.box, face.box, self.settings) for other in faces):
                return set()
            return {face.track_id}

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=2.0)

    # -- rules --------------------------------------------------------------------------
    def _recognizable(self, face: Face, frame: Frame) -> bool:
        return (
            face.track_id >= 0
            and not face.unverified
            and face.last_seen >= frame.t - 1e-6
            and face.box[2] >= self.settings.min_face_px
        )

    def _due(self, face: Face, t: float) -> bool:
        asked = self._asked.get(face.track_id)
        if asked is None or t < asked:
            return True
        return t - asked >= self._interval(face.track_id)

    def _interval(self, track_id: int) -> float:
        s = self.settings
        check = self._checks.get(track_id)
        if check is None or track_id in self._confirmed:
            return s.recheck_s
        if check.distance >= s.other_from:
            return s.other_recheck_s
        promising = check.distance <= (s.threshold + s.keep) / 2
        return s.doubt_recheck_s if promising or track_id in self._matched_once else s.recheck_s

    def _follow(self, t: float, faces: list[Face]) -> None:
        """Break every track that did not continue unbroken up to `t`: a gap, a jump, a crowd (caller holds
        the lock). Tracks not yet confirmed break too, so that a check still running cannot confirm them."""
        s = self.settings
        present = {f.track_id for f in faces}
        detected = {f.track_id: f for f in faces if f.track_id >= 0 and f.last_seen >= t - 1e-6}
        for track_id, (when, box) in list(self._seen.items()):
            face = detected.get(track_id)
            if face is None:
                if track_id not in present:
                    self._drop(track_id)  # the track ended: its id never comes back
                elif t - when > s.gap_s:
                    self._break(track_id, t)
                    del self._seen[track_id]
                continue
            crowded = any(o is not face and _crowds(o.box, face.box, s) for o in faces)
            if crowded or t - when > s.gap_s or _jumped(box, face.box, s):
                self._break(track_id, t)
        for track_id, face in detected.items():
            self._seen[track_id] = (t, face.box)

    def _per_track(self) -> tuple[dict[int, Any] | set[int], ...]:
        """Everything the gate keeps per track: one list, so that forgetting a track or all of them misses none."""
        return (
            self._seen,
            self._checks,
            self._recent,
            self._broken,
            self._asked,
            self._confirmed,
            self._matched_once,
        )

    def _drop(self, track_id: int) -> None:
        """Forget an ended track (caller holds the lock): nothing of it is kept all day long."""
        for table in self._per_track():
            if isinstance(table, set):
                table.discard(track_id)
            else:
                table.pop(track_id, None)

    def _break(self, track_id: int, t: float) -> None:
        self._confirmed.discard(track_id)
        self._recent.pop(track_id, None)
        self._broken[track_id] = t

    def _matches(self, face: Face, t: float) -> bool:
        check = self._checks.get(face.track_id)
        s = self.settings
        if face.track_id not in self._confirmed or check is None:
            return False
        return check.distance <= s.keep and 0.0 <= t - check.t <= s.fresh_s

    def _forget(self) -> None:
        """Caller holds the lock."""
        self._epoch += 1
        for table in self._per_track():
            table.clear()
        self._job = None

    # -- checking -----------------------------------------------------------------------
    def _check(self, epoch: int, t: float, image: np.ndarray, faces: list[Face], still: bool = False) -> None:
        """Embed `faces` one by one, most likely the user first, and record each distance as soon as it is
        known (a check costs ~150 ms: the user's new track should not wait for a stranger's). A failure
        records nothing, so that track stays hidden and is asked again at its next turn."""
        with self._cond:
            faces = sorted(faces, key=lambda f: self._priority(f.track_id))
        for face in faces:
            track_id = face.track_id
            try:
                if self._recognizer is None:
                    self._recognizer = self._factory()
                embedding = self._recognizer.embed(image, [face])
                with self._cond:
                    enrolled = self._enrolled
                distance = float(distances(embedding, enrolled)[0])
            except Exception as exc:  # noqa: BLE001 - a failing recognizer hides, never crashes or shows
                with self._cond:
                    self.error = f"{type(exc).__name__}: {exc}"
                continue
            with self._cond:
                if epoch != self._epoch:
                    return  # a cut or a new enrolment came in between: this says nothing any more
                self.error = None
                self.checks += 1
                if track_id not in self._seen or t < self._broken.get(track_id, -np.inf):
                    continue  # the track ended, or broke after this frame: it says nothing about it now
                self._checks[track_id] = _Check(t, distance)
                self._judge(track_id, distance, still)

    def _judge(self, track_id: int, distance: float, still: bool = False) -> None:
        """Confirm a track on its recent checks (a photo's one check: there is no second view), or end its
        confirmation on a failed one (caller holds the lock)."""
        s = self.settings
        needed = 1 if still else s.entry_checks
        if distance > s.keep:
            self._confirmed.discard(track_id)  # a failed re-check hides at once
            self._recent.pop(track_id, None)
            return
        recent = self._recent.setdefault(track_id, [])
        recent.append(distance)
        del recent[:-needed]
        if len(recent) == needed and sum(recent) / len(recent) <= s.threshold:
            self._confirmed.add(track_id)
            self._matched_once.add(track_id)

    def _priority(self, track_id: int) -> int:
        """0: shown before (or in doubt after a match), 1: never checked, 2: someone else (caller holds the lock)."""
        if track_id in self._matched_once:
            return 0
        return 1 if track_id not in self._checks else 2

    def _work(self) -> None:
        try:  # load the models now, not on the first face (~1 s here: every face hidden meanwhile)
            self._recognizer = self._factory()
        except Exception as exc:  # noqa: BLE001 - reported; each check tries again
            with self._cond:
                self.error = f"{type(exc).__name__}: {exc}"
        while True:
            with self._cond:
                while self._job is None and not self._closed:
                    self._cond.wait(0.5)
                if self._closed:
                    return
                job, self._job = self._job, None
            assert job is not None
            self._check(*job)


def _as_embeddings(values: object) -> np.ndarray:
    array = np.asarray(values, np.float32)
    if array.size == 0:
        return np.zeros((0, EMBEDDING_SIZE), np.float32)
    return array.reshape(-1, EMBEDDING_SIZE)


def _crowds(other: Box, face: Box, s: IdentitySettings) -> bool:
    return intersection(grow_box(other, s.crowd_grow), grow_box(face, s.crowd_grow)) > 0


def _jumped(before: Box, now: Box, s: IdentitySettings) -> bool:
    (ax, ay), (bx, by) = _centre(before), _centre(now)
    moved = ((ax - bx) ** 2 + (ay - by) ** 2) ** 0.5 > s.max_jump * before[2]
    return moved or not 1 / 1.6 <= now[2] / before[2] <= 1.6


def _centre(box: Box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2

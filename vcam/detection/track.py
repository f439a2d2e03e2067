"""Carries faces across frames so a face the detector loses for a moment stays hidden.

A track that is not re-detected keeps moving with its last velocity and its
box grows with the time since it was last seen (a head turn or a hand over the
face makes BlazeFace lose a face long before the face leaves). After
`hold_s` without a detection it is released.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from vcam.frames import Box, Face, centre_inside, grow_box, intersection, iou, union_box

SIZE_CHANGE = 2.0
UNSURE_SIZE_CHANGE = 1.5
UNSURE_BELOW = 0.7
"""A detection continues a track only if its width is within `SIZE_CHANGE` of the track's last box, or within
`UNSURE_SIZE_CHANGE` when it scores under `UNSURE_BELOW` (the effects' sure-face score)."""

Moved = Callable[[Box, float], bool]
"""`moved(box, since)`: whether the picture changed around `box` since the frame captured at `since`."""


@dataclass(frozen=True, slots=True)
class TrackerSettings:
    hold_s: float = 0.5
    growth_per_s: float = 1.0
    """Relative growth of a lost face's box per second unseen (1.0 = twice the size after 1 s)."""
    max_speed_frac: float = 2.0
    """Cap on extrapolated speed, in face widths per second, so a noisy velocity cannot fling a box away."""
    match_iou: float = 0.1
    unswept_grow: float = 1.0
    """Live two-tier mode: a face the sweep has not outlined yet is hidden with its box grown by this much.
    BlazeFace's boxes for tilted heads are small (a man tilting into the picture: 54 px for a 79 px face,
    his eyes readable until CenterFace's sweep came 7 frames later)."""
    unverified_hold_s: float = 0.1
    """How long an unverified candidate (kept unchecked for want of time) is held when not found again: about
    one live scan. A real face is found again and hidden again; a torso, held the full `hold_s`, made the
    brother clip's frames with false hides 33 of 65 live."""
    outline_s: float = 0.0
    """Live, a sweep's outline of a face (CenterFace's box: the whole head, where BlazeFace's runs brows to mouth)
    is carried with the track this long after the sweep saw it, even when the next sweep of its part missed it
    (CenterFace finds a 35 px face at 0.25-0.5 one sweep and not the next). Without it a small tilted head kept
    only BlazeFace's box, 0.75 of the head's, and its hair showed (tests/test_publish_rule.py, 1080p back row).
    0 (files): only while the sweep holds the face."""
    max_growth: float = 2.0
    """Live, the most a face's box may grow for the motion since it was last detected (twice its size: a face
    walking toward the camera for a second). A face that would need more is counted `overgrown`, and the
    publish rule holds the frame back until a detection finds it again."""


@dataclass(slots=True)
class _Track:
    track_id: int
    face: Face
    vx: float = 0.0
    vy: float = 0.0
    hits: int = 1
    kept_until: float = float("-inf")
    """Held at least until this time whatever the fast tier sees: a sweep's find lasts until the next
    sweep could have found it again."""
    sweep_box: Box | None = None
    """The sweep's box for this face, and the track's box when the sweep saw it (`sweep_anchor`): until
    `kept_until`, the hidden box also covers the sweep's outline carried along with the track."""
    sweep_anchor: Box | None = None
    sweep_t: float = float("-inf")
    """When the sweep saw it: its outline is carried `TrackerSettings.outline_s` after that even once the hold ended."""


@dataclass
class Tracker:
    """Matches each frame's detections to tracks (greedy IoU, centre distance as fallback)."""

    settings: TrackerSettings = field(default_factory=TrackerSettings)
    _tracks: list[_Track] = field(default_factory=list)
    _next_id: int = 0

    def update(
        self,
        detections: list[Face],
        t: float,
        *,
        keep_s: float = 0.0,
        looked_at: Callable[[Box], bool] | None = None,
    ) -> None:
        """Feed the detections made on the frame captured at `t`; `keep_s` holds what they found at least
        that long (the sweep tier's finds, until the next sweep of their part of the picture). `looked_at`
        tells which boxes such a sweep covered: a held find there that it did not find again is held no
        longer (the usual `hold_s` since it was last seen still applies)."""
        detections = sorted(
            (d for d in detections if _plausible(d.box)), key=lambda f: f.box[2] * f.box[3], reverse=True
        )
        matches = self._match(detections, t)
        unmatched = [i for i in range(len(self._tracks)) if i not in matches.values()]
        for k, det in enumerate(detections):
            best = matches.get(k)
            if best is None:
                track = _Track(self._next_id, _seen(det, t, self._next_id), kept_until=t + keep_s)
                if keep_s > 0:
                    track.sweep_box = track.sweep_anchor = det.box
                    track.sweep_t = t
                self._tracks.append(track)
                self._next_id += 1
                continue
            track = self._tracks[best]
            if keep_s > 0:
                track.kept_until = max(track.kept_until, t + keep_s)
                track.sweep_box, track.sweep_anchor, track.sweep_t = det.box, track.face.box, t
            if t < track.face.last_seen:
                # A sweep of an older frame found a face the fast tier has seen since: the newer look stands,
                # but a check by either vouches for the track.
                track.face = replace(track.face, unverified=track.face.unverified and det.unverified)
                continue
            dt = t - track.face.last_seen
            if dt > 1e-3:
                (ox, oy), (nx, ny) = _centre(track.face.box), _centre(det.box)
                a = 0.5
                track.vx = (1 - a) * track.vx + a * (nx - ox) / dt
                track.vy = (1 - a) * track.vy + a * (ny - oy) / dt
            # A track once checked stays checked: a head turning away loses score, not its standing.
            track.face = replace(_seen(det, t, track.track_id), unverified=track.face.unverified and det.unverified)
            track.hits += 1
        if looked_at is not None:
            for i in unmatched:
                track = self._tracks[i]
                if track.kept_until > t and looked_at(track.face.box):
                    track.kept_until = t
        self._tracks = [tr for tr in self._tracks if self._alive(tr, t)]

    def _match(self, detections: list[Face], t: float) -> dict[int, int]:
        """Detection index -> track index, best pairs first (IoU with the track's predicted or last box; a centre
        inside the predicted box counts as the least match). Largest detection first let a torso found under a
        face take the face's track whenever the face's box had grown toward it (brother, 1080p live), and the
        face then started a track of its own: the torso inherited the face's checked standing."""
        pairs = []
        for k, det in enumerate(detections):
            for i, track in enumerate(self._tracks):
                if not self._plausible_move(track, det.box, det.score, t):
                    continue
                predicted = self._predict(track, t)[0]
                score = max(iou(det.box, predicted), iou(det.box, track.face.box))
                if score < self.settings.match_iou and centre_inside(det.box, predicted):
                    score = self.settings.match_iou
                if score >= self.settings.match_iou:
                    pairs.append((score, -k, k, i))
        matches: dict[int, int] = {}
        taken: set[int] = set()
        # Largest detection first (several boxes of one close-up face: the whole one keeps the track), each
        # taking its best plausible track.
        for k in range(len(detections)):
            best = max((p for p in pairs if p[2] == k and p[3] not in taken), default=None)
            if best is not None:
                matches[k] = best[3]
                taken.add(best[3])
        return matches

    def _plausible_move(self, track: _Track, box: Box, score: float, t: float) -> bool:
        """Whether the face of `track` can have become `box` by `t`: its centre moved at most `max_speed_frac`
        widths a second since it was seen (plus half a width: detectors place one face's box differently), and
        its size changed at most twofold (an unsure detection's at most `UNSURE_SIZE_CHANGE`). A torso 1.7 face
        heights under the face took the face's track while the face went unseen for a few frames, its box grown
        toward the torso; the short-range model's unsure head-and-shoulders box (0.45-0.5, 1.8-2.8x the face)
        took it step by step (brother, 1080p live, one core busy)."""
        x, y, w, h = track.face.box
        (cx, cy), (nx, ny) = _centre(track.face.box), _centre(box)
        dt = abs(t - track.face.last_seen)
        reach = (0.5 + self.settings.max_speed_frac * dt) * max(w, h)
        ratio = box[2] / max(w, 1e-6)
        limit = UNSURE_SIZE_CHANGE if score < UNSURE_BELOW else SIZE_CHANGE
        return math.hypot(nx - cx, ny - cy) <= reach and 1 / limit <= ratio <= limit

    def _hold(self, track: _Track) -> float:
        return self.settings.unverified_hold_s if track.face.unverified else self.settings.hold_s

    def _alive(self, track: _Track, t: float) -> bool:
        return t - track.face.last_seen <= self._hold(track) or (t <= track.kept_until and not track.face.unverified)

    def release_unverified(self, cleared: list[Box], t: float) -> None:
        """Drop unverified tracks whose predicted box a second look found empty (`cleared`, at time `t`)."""
        self._tracks = [
            tr
            for tr in self._tracks
            if not (tr.face.unverified and any(iou(self._predict(tr, t)[0], box) >= 0.3 for box in cleared))
        ]

    def faces_at(self, t: float, moved: Moved | None = None) -> list[Face]:
        """Every face to hide at time `t`: detected ones as seen, lost ones extrapolated and grown."""
        return self.covers(t, moved)[0]

    def covers(self, t: float, moved: Moved | None = None) -> tuple[list[Face], int]:
        """Every face to hide at time `t`, and how many of them are overgrown.

        Without `moved` (files), a face not detected at `t` moves with its velocity and grows with the time
        since it was seen, unless a sweep holds it. With `moved(box, since)` (live: did the picture change
        around `box` since the frame captured at `since`), growth follows what was measured: a face whose
        surroundings did not change is where it was seen, however long ago; one whose surroundings changed moves
        and grows, whatever holds it, up to `max_growth` (past it, it is counted overgrown).
        """
        out, overgrown = [], 0
        for track in self._tracks:
            if not self._alive(track, t):
                continue
            if moved is not None and not moved(track.face.box, track.face.last_seen):
                box = track.face.box
            else:
                box, growth = self._predict(track, t, measured=moved is not None)
                overgrown += growth > self.settings.max_growth
            outlined = t <= track.kept_until or t - track.sweep_t <= self.settings.outline_s
            if track.sweep_box is not None and track.sweep_anchor is not None and outlined:
                box = union_box(box, _carried(track.sweep_box, track.sweep_anchor, box))
            elif track.sweep_box is None and self.settings.unswept_grow != 1.0:
                box = grow_box(box, self.settings.unswept_grow)
            out.append(track.face.with_box(box))
        return out, overgrown

    def still(self, t: float, moved: Moved, fresh_s: float, precise: Callable[[Face], bool]) -> frozenset[int]:
        """Tracks last detected `precise`ly, at most `fresh_s` before `t`, whose surroundings did not move since:
        where they were seen they still are, and a zoomed look at them can wait."""
        return frozenset(
            tr.track_id
            for tr in self._tracks
            if 0.0 <= t - tr.face.last_seen <= fresh_s
            and precise(tr.face)
            and not moved(tr.face.box, tr.face.last_seen)
        )

    def reset(self) -> None:
        self._tracks.clear()

    def doubt(self) -> None:
        """A new scene (a cut, another camera): what was tracked stays hidden, as unverified candidates, held
        `unverified_hold_s` unless found again, and vouching for nothing found in the new scene. Checked, the
        wide shot's faces explained hamilton's close-up profile away as the head and shoulders of one of them
        (`Scanner._around_a_known_face`), and it was published unhidden (bench/live_leaks.py, 720p idle)."""
        for track in self._tracks:
            track.face = replace(track.face, unverified=True)

    def _predict(self, track: _Track, t: float, *, measured: bool = False) -> tuple[Box, float]:
        """The track's box at `t`, and the growth it needed (capped at `max_growth` in the box)."""
        dt = max(0.0, t - track.face.last_seen)
        if dt == 0.0:
            return track.face.box, 1.0
        x, y, w, h = track.face.box
        vmax = self.settings.max_speed_frac * w
        vx = max(-vmax, min(vmax, track.vx))
        vy = max(-vmax, min(vmax, track.vy))
        # A lost face grows (it may be turning or coming closer); an unverified candidate is not a face
        # known to be there, and grew over the user's chest in the live webcam clips. Nor does a face a sweep
        # holds: its part of the picture is swept again before the hold ends (and soon after it changes),
        # and grown for the hold's 1.2 s it covered the bird clip's wall (live: 30 of 127 frames with
        # false hides, 4 without the growth). Live, growth follows measured motion (`covers`), held or not: a
        # held face that walks toward the camera outgrew its box.
        held = t <= track.kept_until and not measured
        grow = 1.0 if track.face.unverified or held else 1.0 + self.settings.growth_per_s * dt
        cx, cy = x + w / 2 + vx * dt, y + h / 2 + vy * dt
        scale = min(grow, self.settings.max_growth) if measured else grow
        nw, nh = w * scale, h * scale
        return (cx - nw / 2, cy - nh / 2, nw, nh), grow


def count_people(faces: list[Face]) -> int:
    """How many people the hidden faces are: boxes that overlap (a face and its held twin, a crop's and the
    whole frame's look at one head) count once. For the status line, which counted boxes."""
    groups: list[list[Box]] = []
    for face in faces:
        touching = [g for g in groups if any(_same_head(face.box, b) for b in g)]
        merged = [face.box] + [b for g in touching for b in g]
        groups = [g for g in groups if g not in touching] + [merged]
    return len(groups)


def _same_head(a: Box, b: Box) -> bool:
    return intersection(a, b) > 0.3 * min(a[2] * a[3], b[2] * b[3])


def _plausible(box: Box) -> bool:
    """Finite, positive size, near the frame: a detector (or a test) handing over anything else is ignored."""
    return all(math.isfinite(v) for v in box) and box[2] > 0 and box[3] > 0 and max(map(abs, box)) < 1e6


def _carried(box: Box, anchor: Box, now: Box) -> Box:
    """`box`, moved as `anchor`'s centre moved to `now`'s. Not scaled: the two boxes may come from detectors
    that draw faces at different sizes (a fast-tier BlazeFace box is 0.7x a sweep's CenterFace box of the same
    tilted head), and scaling by their ratio shrank the outline onto the smaller one."""
    (ax, ay), (nx, ny) = _centre(anchor), _centre(now)
    return (box[0] + nx - ax, box[1] + ny - ay, box[2], box[3])


def _centre(box: Box) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


def _seen(face: Face, t: float, track_id: int) -> Face:
    return replace(face, last_seen=t, track_id=track_id)

"""Where the picture moved since an earlier frame: small grey copies of the last two seconds of frames.

The live stage reads it for three decisions: a face whose surroundings did not move since it was last
detected is still where it was (its hidden area need not grow, its zoomed crop can wait); a detection of an
earlier frame still vouches for this one when nothing moved outside the hidden areas since; and every
region's growth is bounded by what was measured, not guessed.

Every 8th pixel of every 8th row, in grey: 0.17 ms for a 1080p frame on this machine (a 1/8 area
average took 1.5 ms), 32 KB a frame. A pixel counts as changed when it differs by more than the noise of
the camera allows (`MotionSettings`).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from vcam.frames import Box, merge_regions

Region = tuple[int, int, int, int]


@dataclass(frozen=True, slots=True)
class MotionSettings:
    step: int = 8
    """Every `step`-th pixel of every `step`-th row is kept (a 30 px face is 4x4 of them)."""
    keep_s: float = 2.0
    """How far back frames are kept: longer than any hold of a face (the sweep's 1.2 s)."""
    min_level: float = 15.0
    """A pixel changed by at least this much (0-255) is a change however clean the picture. A face moving by
    a few pixels changes its edges by 40-120 levels."""
    noise_k: float = 5.0
    """... and by at least this many times the median change between consecutive frames (the camera's noise:
    a still scene's median is 0.67 sigma of the difference, so 5x is 3.4 sigma)."""
    max_level: float = 40.0
    """The noise estimate never raises the level above this (a panning camera is not noise)."""
    floor_k: float = 4.0
    """Per pixel, a change must also exceed this many times that pixel's usual change between frames (a running
    mean over about 20 frames): compressed texture (eat's window, 1080p) flickered past the frame-wide level in
    the same places every frame, and each flicker was a change to look at."""
    floor_rate: float = 0.05
    """How fast a pixel's usual change follows what it sees (per frame): a face moving into a quiet part of the
    picture changes it at once, long before its usual change has risen."""
    moved_share: float = 0.03
    """A box moved when more than this share of its pixels (and at least one) changed."""


class MotionHistory:
    """Small grey copies of recent frames, keyed by capture time. Not thread-safe: callers hold a lock."""

    def __init__(self, settings: MotionSettings | None = None) -> None:
        self.settings = settings or MotionSettings()
        self._frames: deque[tuple[float, np.ndarray]] = deque()
        self._noise: deque[float] = deque(maxlen=60)
        self.level = self.settings.min_level
        self._floor: np.ndarray | None = None
        self.levels: np.ndarray | None = None
        """Per pixel (at 1/`step`), the change that counts: the frame-wide level, or more where the pixel always
        flickers (`MotionSettings.floor_k`)."""

    def observe(self, image: np.ndarray, t: float) -> None:
        """Keep the frame captured at `t` (newest last; an older `t` than the newest is ignored)."""
        if self._frames and t <= self._frames[-1][0]:
            return
        step = self.settings.step
        small = cv2.cvtColor(np.ascontiguousarray(image[::step, ::step]), cv2.COLOR_BGR2GRAY)
        if self._frames and self._frames[-1][1].shape == small.shape:
            diff = cv2.absdiff(small, self._frames[-1][1])
            self._noise.append(float(np.median(diff)))
            # The lowest median of the last two seconds: motion raises a frame's median, noise is the floor.
            s = self.settings
            self.level = min(s.max_level, max(s.min_level, s.noise_k * min(self._noise)))
            if self._floor is None or self._floor.shape != diff.shape:
                self._floor = diff.astype(np.float32)
            else:
                cv2.accumulateWeighted(diff, self._floor, s.floor_rate)
            self.levels = np.clip(s.floor_k * self._floor, self.level, s.max_level)
        elif self._frames:
            self._frames.clear()  # another camera or size: nothing before says anything now
            self._floor = self.levels = None
        self._frames.append((t, small))
        while self._frames and t - self._frames[0][0] > self.settings.keep_s:
            self._frames.popleft()

    def clear(self) -> None:
        self._frames.clear()
        self._noise.clear()
        self._floor = self.levels = None

    def current_levels(self) -> float | np.ndarray:
        """The change that counts, per pixel where known (else frame-wide), for the newest frame."""
        return self._level()

    def _level(self, y0: int = 0, y1: int | None = None, x0: int = 0, x1: int | None = None) -> np.ndarray | float:
        return self.level if self.levels is None else self.levels[y0:y1, x0:x1]

    def small_at(self, t: float) -> np.ndarray | None:
        """The small grey copy of the frame captured at `t`, if it is kept."""
        return self._at(t)

    def _at(self, t: float) -> np.ndarray | None:
        for when, small in reversed(self._frames):
            if when == t:
                return small
            if when < t:
                break
        return None

    def changed(self, since: float) -> np.ndarray | None:
        """Boolean mask (at 1/`step` scale) of the pixels that changed between the frame captured at `since` and
        the newest; None when that frame is not kept (too old, never seen): then anything may have moved."""
        then = self._at(since)
        if then is None or not self._frames:
            return None
        return cv2.absdiff(self._frames[-1][1], then) > self._level()

    def _region(self, box: Box, grow: float, shape: tuple[int, ...]) -> tuple[int, int, int, int] | None:
        x, y, w, h = box
        step = self.settings.step
        cx, cy = x + w / 2, y + h / 2
        half_w, half_h = w * grow / 2, h * grow / 2
        x0, y0 = max(0, int((cx - half_w) // step)), max(0, int((cy - half_h) // step))
        x1, y1 = min(shape[1], int(np.ceil((cx + half_w) / step))), min(shape[0], int(np.ceil((cy + half_h) / step)))
        return (x0, y0, x1, y1) if x1 > x0 and y1 > y0 else None

    def moved(self, box: Box, since: float, grow: float = 1.5) -> bool:
        """Whether the picture changed around `box` (grown by `grow`, so a face's moving edge shows) since the
        frame captured at `since`. True when that frame is not kept: unknown counts as moved."""
        then = self._at(since)
        if then is None or not self._frames:
            return True
        region = self._region(box, grow, then.shape)
        if region is None:
            return False
        x0, y0, x1, y1 = region
        diff = cv2.absdiff(self._frames[-1][1][y0:y1, x0:x1], then[y0:y1, x0:x1]) > self._level(y0, y1, x0, x1)
        count = int(diff.sum())
        return count > 0 and count > self.settings.moved_share * diff.size

    def moved_outside(self, covers: list[Box], since: float, grow: float = 1.3) -> bool:
        """Whether anything changed since the frame captured at `since` outside the `covers` (each grown by
        `grow`). A changed pixel alone is noise; two side by side (16 px at 1/8) are a change."""
        mask = self.changed(since)
        if mask is None:
            return True
        mask = mask.copy()
        for box in covers:
            region = self._region(box, grow, mask.shape)
            if region is not None:
                x0, y0, x1, y1 = region
                mask[y0:y1, x0:x1] = False
        if not mask.any():
            return False
        pairs = (mask[:, 1:] & mask[:, :-1]).any() or (mask[1:, :] & mask[:-1, :]).any()
        return bool(pairs)


@dataclass(frozen=True, slots=True)
class ChangeCheckSettings:
    margin: float = 1.0
    """A changed patch is looked at with this much of its own size around it on every side (three times its
    width in all): the change may be a mouth or the edge of a head, and the detector needs the whole face ..."""
    min_margin_px: int = 48
    """... at least this many pixels (a 24 px face and its surroundings) ..."""
    max_margin_px: int = 96
    """... and at most this many: the faces this check is for are small (the whole-frame pass sees the large
    ones), and a signer's moving arms grown by their own size made the whole frame one region."""
    replaced_share: float = 0.15
    """A person's reach (`Anonymizer._unchecked`) excuses the changes in it only while the picture around them is
    not replaced: when this share of a reach changes from one frame to the next, it is not a body moving but a
    cut in part of the picture (a window of a mosaic, a screen behind), and what changed there is checked before
    a reach excuses it again. Measured live (share of a reach changed between consecutive frames, every tracked
    face's reach): the signers at most 0.12 at 720p and 0.13 at 1080p with a core busy; the stage clip, whose
    camera pans and cuts, up to 0.31 (p99 0.19); hamilton's cut in one window of the 1080p mosaic 0.19-0.24, the
    reach half outside the window. Too low costs checks of a body's changes, never privacy."""


class CheckedPicture:
    """What every part of the picture looked like (at 1/`step`) when it was last checked for small faces, and
    when. A face cannot appear where the picture has not changed since such a check; where it has changed
    outside the faces already hidden, a face may be, and the fast tier looks there before the frame leaves.
    Not thread-safe: the anonymizer calls it under its lock."""

    def __init__(self, step: int, settings: ChangeCheckSettings | None = None) -> None:
        self.step = step
        self.settings = settings or ChangeCheckSettings()
        self._ref: np.ndarray | None = None
        self._when: np.ndarray | None = None
        self._since: np.ndarray | None = None
        """Per pixel, when it was first seen changed since its last check (inf: not changed)."""
        self._previous: tuple[float, np.ndarray] | None = None
        """The newest frame seen (capture time, small copy): what changed at once, from one frame to the next."""
        self._replaced: np.ndarray | None = None
        """Per pixel, when it last changed in a replacement of a reach (-inf: not since its last check): no reach
        excuses it until a check of a frame captured at or after that time."""

    def reset(self) -> None:
        """A new scene or camera: nothing was checked."""
        self._ref = self._when = self._since = self._previous = self._replaced = None

    def mark(self, regions: list[Region] | None, small: np.ndarray, t: float, frame: tuple[int, int]) -> None:
        """Record a check for small faces of `regions` (None: the whole frame) of the `frame`-sized (w, h) frame
        captured at `t`, whose small grey copy is `small`. A part checked on a newer frame keeps that check."""
        if self._ref is None or self._ref.shape != small.shape:
            if regions is not None:
                return  # the first check must be of the whole frame (a new scene's sweep)
            self._ref, self._when = small.copy(), np.full(small.shape, t)
            self._since = np.full(small.shape, np.inf)
            self._replaced = np.full(small.shape, -np.inf)
            return
        assert self._when is not None and self._since is not None and self._replaced is not None
        mask = self._mask(regions, small.shape, frame)
        # A check of an older frame than a replacement did not see it (a sweep finishing after the cut).
        self._replaced[mask & (self._replaced <= t)] = -np.inf
        mask &= self._when <= t
        self._ref[mask] = small[mask]
        self._when[mask] = t
        self._since[mask] = np.inf

    def _mask(self, regions: list[Region] | None, shape: tuple[int, ...], frame: tuple[int, int]) -> np.ndarray:
        if regions is None:
            return np.ones(shape[:2], bool)
        mask = np.zeros(shape[:2], bool)
        sx, sy = shape[1] / frame[0], shape[0] / frame[1]
        for x0, y0, x1, y1 in regions:
            # Only small pixels wholly inside the region count as checked.
            mask[int(np.ceil(y0 * sy)) : int(y1 * sy), int(np.ceil(x0 * sx)) : int(x1 * sx)] = True
        return mask

    def _note_replaced(
        self, small: np.ndarray, level: float | np.ndarray, t: float, reaches: list[Box], sx: float, sy: float
    ) -> None:
        """Remember what changed in each reach replaced since the previous frame (`replaced_share`)."""
        previous = self._previous
        if previous is not None and t <= previous[0]:
            return  # this frame was seen already
        self._previous = (t, small)
        if previous is None or previous[1].shape != small.shape or self._replaced is None:
            return
        abrupt = cv2.absdiff(small, previous[1]) > level
        for box in reaches:
            cells = _cells(box, sx, sy)
            if abrupt[cells].size and abrupt[cells].mean() >= self.settings.replaced_share:
                self._replaced[cells][abrupt[cells]] = t

    def unchecked(
        self,
        small: np.ndarray,
        level: float | np.ndarray,
        covers: list[Box],
        frame: tuple[int, int],
        t: float,
        reaches: Sequence[Box] = (),
        watched: Sequence[Box] = (),
    ) -> tuple[list[Region], float] | None:
        """Regions of the `frame`-sized frame (w, h) whose picture (`small`, captured at `t`) changed by more
        than `level` since they were last checked, outside the `covers` (the hidden areas) and the `reaches`
        (people's bodies; not what changed when a reach was replaced at once: `ChangeCheckSettings.replaced_share`),
        each grown by the settings' margin: where a face may be that no check has seen; and how long the oldest of
        those changes has gone unchecked. None: nothing was ever checked (everything is unchecked). `watched` are
        the reaches of people who lend none now (a held face that moved): a replacement there is remembered too,
        for when they lend it again (the crop around a cut-away singer's box found an audience face there)."""
        if self._ref is None or self._ref.shape != small.shape or self._since is None:
            return None
        changed = cv2.absdiff(small, self._ref) > level
        self._since[changed & np.isinf(self._since)] = t
        self._since[~changed] = np.inf  # changed back (noise, a blink): nothing there to look at
        height, width = small.shape
        sx, sy = width / frame[0], height / frame[1]
        self._note_replaced(small, level, t, [*reaches, *watched], sx, sy)
        for box in covers:
            changed[_cells(box, sx, sy)] = False
        replaced = changed & (self._replaced > -np.inf) if self._replaced is not None else None
        for box in reaches:
            changed[_cells(box, sx, sy)] = False
        if replaced is not None:
            changed |= replaced
        # A changed pixel alone is noise; one with a changed neighbour is a change (16 px at 1080p's 1/8).
        paired = np.zeros_like(changed)
        paired[:, 1:] |= changed[:, 1:] & changed[:, :-1]
        paired[:, :-1] |= changed[:, 1:] & changed[:, :-1]
        paired[1:, :] |= changed[1:, :] & changed[:-1, :]
        paired[:-1, :] |= changed[1:, :] & changed[:-1, :]
        if not paired.any():
            return [], 0.0
        age = max(0.0, t - float(self._since[paired].min()))
        count, _labels, stats, _ = cv2.connectedComponentsWithStats(paired.astype(np.uint8), connectivity=8)
        s = self.settings
        regions = []
        for x, y, w, h, _area in stats[1:count]:
            fx, fy, fw, fh = x / sx, y / sy, w / sx, h / sy
            mx = min(s.max_margin_px, max(s.min_margin_px, s.margin * fw))
            my = min(s.max_margin_px, max(s.min_margin_px, s.margin * fh))
            regions.append(
                (
                    max(0, int(fx - mx)),
                    max(0, int(fy - my)),
                    min(frame[0], int(np.ceil(fx + fw + mx))),
                    min(frame[1], int(np.ceil(fy + fh + my))),
                )
            )
        return merge_regions(regions), age


def _cells(box: Box, sx: float, sy: float) -> tuple[slice, slice]:
    """The small copy's rows and columns under `box` (frame pixels; `sx`, `sy`: the copy's scale)."""
    x, y, w, h = box
    rows = slice(max(0, int(y * sy)), max(0, int(np.ceil((y + h) * sy))))
    return rows, slice(max(0, int(x * sx)), max(0, int(np.ceil((x + w) * sx))))

"""Where the live sweep must look next, and whether every part of the picture was looked at recently enough.

The sweep (CenterFace and the tiles) is the live camera's largest cost: ~120 ms of CPU for a whole 720p
frame on this machine, three times a second. A face cannot appear where the picture did not change, so
the frame is cut into a grid of cells, each with the thumbnail it had when it was last swept:

- a cell whose picture moved since (mean change of its part of the 32x18 thumbnail above `motion`) is
  due `every_s` after its last sweep (at once, in a part of the picture that was still for that long);
- a still cell is due `still_every_s` after its last sweep (slow drifts, noise);
- a frame may be published only if no moved cell's change is older than `limit_s` unswept and no still
  cell's sweep is older than `still_limit_s` (`stale`). That is the two-tier rule's sweep half, in one place.

A still webcam scene with one user then sweeps the user's part of the picture, not the wall behind.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vcam.detection.detect import Region
from vcam.frames import merge_regions, regions_area


@dataclass(frozen=True, slots=True)
class SweepPlanSettings:
    cells: tuple[int, int] = (4, 3)
    """Columns and rows of the grid: 320x240 px cells at 720p, blocks of 8x6 of the 32x18 thumbnail."""
    every_s: float = 0.4
    """A moved cell is swept this long after its last sweep. The whole-frame sweep needed 0.3 s (at 0.5 s the
    hamilton crowd clip leaked 20 readable face-frames live, at 0.3 s 7); with the short-range fast tier and
    sweeps by cell, hamilton live (bench/live_leaks.py --videos hamilton, six alternating runs) leaked
    0/3/5 readable face-frames of ~1080 at 0.3 s and 1/0/2 at 0.4 s, and the eat clip at 720p took 84% of
    a core at 0.3 s, 70% at 0.4 s (3.7 -> 2.6 sweeps a second)."""
    gap_s: float = 0.15
    """Sweeps start at least this long apart (a sweep takes ~50-100 ms here), and when one is due, moved cells
    swept at least this long ago come along."""
    limit_s: float = 0.6
    """A change may go unswept this long before frames are curtained (the old whole-frame limit)."""
    still_every_s: float = 0.9
    """A cell that did not change is swept again after this long anyway."""
    still_limit_s: float = 1.2
    """... and frames are curtained once a still cell's sweep is older than this."""
    motion: float = 4.0
    """Mean change (0-255) of a cell's thumbnail block that counts as moved. On the eval clips at 0.3 s
    apart, 26-36% of the cells of the signing clips move by more, 0-10% of the still scenes' cells."""
    margin: float = 0.25
    """A region swept grows by this share of a cell on every side, so a face on a cell's border is seen."""
    whole_share: float = 0.6
    """When the regions to sweep cover more than this share of the frame, the whole frame is swept as one."""


class SweepPlan:
    """Per-cell sweep state for one scene. Not thread-safe: the anonymizer calls it under its lock."""

    def __init__(self, settings: SweepPlanSettings | None = None) -> None:
        self.settings = settings or SweepPlanSettings()
        self.reset()

    def reset(self) -> None:
        """A new scene or camera: nothing swept before says anything now."""
        cols, rows = self.settings.cells
        self._last = np.full((rows, cols), -np.inf)
        self._ref: list[np.ndarray | None] = [None] * (rows * cols)
        self._moved_since = np.full((rows, cols), np.inf)
        self._latest = -np.inf
        """Frame time of the newest sweep recorded."""

    @property
    def started(self) -> bool:
        """True once every cell has been swept at least once."""
        return bool(np.isfinite(self._last).all())

    def observe(self, thumb: np.ndarray, t: float) -> None:
        """Take the newest frame's thumbnail: which cells moved since their last sweep, and since when."""
        moved = self._block_change(thumb) > self.settings.motion
        self._moved_since = np.where(moved, np.minimum(self._moved_since, t), np.inf)

    def due(self, t: float, *, postpone: bool = False) -> np.ndarray:
        """Boolean (rows, cols) mask of the cells the sweep should look at for a frame at `t`. `postpone` (the
        stage is behind): a moved cell waits until `limit_s - gap_s` after its last sweep instead of `every_s`,
        a still one until `still_limit_s - gap_s`, so a sweep still ends before frames would be held for it."""
        s = self.settings
        every = s.limit_s - s.gap_s if postpone else s.every_s
        still_every = s.still_limit_s - s.gap_s if postpone else s.still_every_s
        age = t - self._last
        moved = np.isfinite(self._moved_since)
        unswept = ~np.isfinite(self._last)
        due = unswept | (moved & (age >= every)) | (age >= still_every)
        if not due.any() or (not unswept.any() and t - self._latest < s.gap_s):
            # Sweeps no closer together than `gap_s`: cells moving at different moments otherwise each got
            # a sweep of their own, out of step (a signer: 4.5 sweeps a second of half the frame each).
            return np.zeros_like(due)
        # Cells that would be due before the next sweep come along: one sweep of a larger region costs less
        # than several of small ones (each sweep also runs its tiles and second looks), and the cells'
        # schedules fall in step. (Still cells brought along at half their interval made most sweeps whole.)
        return due | (moved & (age >= s.gap_s)) | (age >= still_every - every)

    def stale(self, t: float) -> bool:
        """True when a frame at `t` must not be published: a cell never swept, a change unswept longer than
        `limit_s`, or a sweep older than `still_limit_s`."""
        s = self.settings
        if not self.started:
            return True
        unswept_change = t - np.maximum(self._moved_since, self._last)
        changed_late = np.isfinite(self._moved_since) & (unswept_change > s.limit_s)
        return bool(changed_late.any() or (t - self._last > s.still_limit_s).any())

    def swept(self, cells: np.ndarray | None, thumb: np.ndarray, t: float) -> None:
        """Record a completed sweep of `cells` (None: all) on the frame captured at `t`, thumbnail `thumb`."""
        cols = self.settings.cells[0]
        newer = (t >= self._last) if cells is None else cells & (t >= self._last)
        self._latest = max(self._latest, t)
        self._last[newer] = t
        for r, c in zip(*np.nonzero(newer), strict=True):
            self._ref[r * cols + c] = self._block(thumb, r, c).copy()
        # A change first seen after the swept frame (the sweep ran on an older one) keeps its age: the next
        # `observe` compares against the new reference, and the limit counts from when it was first seen.
        self._moved_since[newer & (self._moved_since <= t)] = np.inf

    def covers(self, cells: np.ndarray | None, box: tuple[float, float, float, float], width: int, height: int) -> bool:
        """Whether the centre of `box` (in a `width` x `height` frame) lies in one of `cells` (None: all)."""
        if cells is None:
            return True
        cols, rows = self.settings.cells
        x, y, w, h = box
        c = min(cols - 1, max(0, int((x + w / 2) * cols / width)))
        r = min(rows - 1, max(0, int((y + h / 2) * rows / height)))
        return bool(cells[r, c])

    def regions(self, cells: np.ndarray, width: int, height: int) -> list[Region] | None:
        """Pixel rectangles ``(x0, y0, x1, y1)`` covering `cells`, each grown by `margin` of a cell; None
        means the whole frame (nearly everything is due anyway)."""
        if cells.all():
            return None
        cols, rows = self.settings.cells
        cw, ch = width / cols, height / rows
        m = self.settings.margin
        count, _labels, stats, _ = cv2.connectedComponentsWithStats(cells.astype(np.uint8), connectivity=4)
        rects = []
        for i in range(1, count):
            c0, r0, nc, nr = stats[i, :4]
            rects.append(
                (
                    max(0, int((c0 - m) * cw)),
                    max(0, int((r0 - m) * ch)),
                    min(width, int(np.ceil((c0 + nc + m) * cw))),
                    min(height, int(np.ceil((r0 + nr + m) * ch))),
                )
            )
        rects = merge_regions(rects)
        if regions_area(rects) > self.settings.whole_share * width * height:
            return None
        return rects

    def _block_change(self, thumb: np.ndarray) -> np.ndarray:
        cols, rows = self.settings.cells
        change = np.full((rows, cols), np.inf)
        for r in range(rows):
            for c in range(cols):
                ref = self._ref[r * cols + c]
                if ref is not None:
                    change[r, c] = float(np.abs(self._block(thumb, r, c) - ref).mean())
        return change

    def _block(self, thumb: np.ndarray, r: int, c: int) -> np.ndarray:
        cols, rows = self.settings.cells
        h, w = thumb.shape[:2]
        return thumb[r * h // rows : (r + 1) * h // rows, c * w // cols : (c + 1) * w // cols]

"""Load shedding: whether the live stage is behind, and so sheds the work that can wait.

One small state fed by every publish-rule decision: behind when enough recent frames were held back for want
of time (`Decision.behind`), recovered when none were for a whole window. The live loop shows it to the user
("overloaded"); the sweep reads it to postpone itself and leave out its tiles. What is shed never weakens the
publish rule: a sweep that comes later only makes frames wait for it (`SweepPlan.stale`), and the rule's
own clauses are untouched.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SheddingSettings:
    window: int = 60
    """Decisions over which being behind is judged (two seconds at 30 fps) ..."""
    behind_share: float = 0.05
    """... the share of them held back for want of time from which the stage is behind (three at 30 fps: one
    late sweep after a scene change is not a machine that cannot keep up) ..."""
    recover_share: float = 0.0
    """... and at most this share for it to recover (none in the window: two quiet seconds)."""


class LoadShedding:
    """Not thread-safe: the anonymizer records and reads it under its lock."""

    def __init__(self, settings: SheddingSettings | None = None) -> None:
        self.settings = settings or SheddingSettings()
        self._held: deque[bool] = deque(maxlen=self.settings.window)
        self.behind = False
        self.episodes = 0
        """How many times the stage fell behind since it started."""

    def record(self, behind: bool) -> None:
        """One live frame's decision: held back for want of time, or not."""
        self._held.append(behind)
        share = sum(self._held) / self.settings.window
        if not self.behind and share >= self.settings.behind_share:
            self.behind = True
            self.episodes += 1
        elif self.behind and share <= self.settings.recover_share:
            self.behind = False

    def reset(self) -> None:
        self._held.clear()
        self.behind = False

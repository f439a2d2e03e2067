"""The publish rule: the one place that decides whether a live frame may leave, and what leaves instead.

`decide` is the whole rule; `Anonymizer.process` gathers its `Evidence` for every live frame and does what
it says. Falling behind is a normal state here, never a reason to let an unchecked frame out: a frame that
cannot be shown to be covered is replaced by the last frame that could, for a short while, then by the
privacy curtain. docs/ARCHITECTURE.md points here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

STATUS_STARTING = "Privacy curtain: starting face detection"
STATUS_ERROR = "Privacy curtain: face detection failed, restarting"
STATUS_SLOW = "Privacy curtain: face detection is behind"
STATUS_NEW_SCENE = "Privacy curtain: new scene, checking for faces"
STATUS_TOO_DARK = "Privacy curtain: too dark to anonymize reliably, add light"


class Verdict(Enum):
    PUBLISH = "publish"
    """The frame leaves, its faces hidden."""
    REPEAT = "repeat"
    """The last frame that passed leaves again (the call sees a still picture for a moment)."""
    CURTAIN = "curtain"
    """The privacy curtain leaves, with the reason as its status line."""


@dataclass(frozen=True, slots=True)
class PublishRuleSettings:
    reuse_s: float = 0.1
    """A whole-frame check of an earlier frame stands for this one when it is at most this old and nothing
    moved outside the hidden areas since: three frames at 30 fps. Measured with the fast tier slowed to twice
    the frame budget (tests/test_publish_rule.py): a still scene keeps publishing every frame."""
    unchecked_s: float = 0.0
    """A change outside the hidden areas (and outside the reach of the people tracked where their faces were
    found: a held face that moved lends none, `Anonymizer._placed`) may go unchecked for small faces for less
    than this long; 0: it must be checked on its own frame. At 0.1 s (three frames)
    a 35 px face walking in behind a 1080p classroom was published unhidden on the frame it appeared
    (tests/test_publish_rule.py); checking every frame's change cost the fast tier 3-10 ms where it moved."""
    repeat_s: float = 0.5
    """The last frame that passed may stand in for this long (by capture time), then the curtain. Long enough
    to bridge a sweep that runs late under load (bench/live_leaks.py --load busy), short enough that the call
    notices a stalled camera as one."""


@dataclass(frozen=True, slots=True)
class Evidence:
    """What the stage knows about one frame when it must decide, all of it about this scene."""

    t: float
    """The frame's capture time."""
    checked_t: float | None
    """Capture time of the newest frame the fast tier checked (BlazeFace on the whole frame, zoomed crops
    around the tracked faces); None when it checked none of this scene yet."""
    moved_since_check: bool
    """The picture changed outside the hidden areas between that frame and this one."""
    swept: bool
    """Every part of the picture was swept (CenterFace at the small-face zoom, tiles) recently enough for what
    it shows (`SweepPlan.stale`: a change at most `limit_s` unswept, a still part at most `still_limit_s`)."""
    sweep_started: bool
    """Every part of this scene was swept at least once."""
    overgrown: int
    """Tracked faces whose hidden area would have to grow past its bound to cover the motion measured since
    they were last detected (`TrackerSettings.max_growth`): their area no longer covers them for sure."""
    unchecked_change_s: float | None
    """How long ago the picture first changed, somewhere outside the hidden areas, since it was last checked
    for small faces (`vcam.pipeline.motion.CheckedPicture`): a face may have appeared there that nothing looked
    at (0: on this very frame). None: no such change."""
    last_safe_t: float | None
    """Capture time of the last frame that passed this rule (None: none since anonymizing (re)started)."""
    error: str | None = None
    """The detector's last failure, while it has not recovered."""
    new_scene: bool = False
    """The newest checks were made on another scene (a cut, another camera)."""
    too_dark: bool = False
    """The frame is too dark and noisy for any detection on it to be trusted (`vcam.detection.exposure`)."""


@dataclass(frozen=True, slots=True)
class Decision:
    verdict: Verdict
    reason: str = ""
    """Why the frame did not pass (a curtain's status line): empty when it passed."""

    @property
    def behind(self) -> bool:
        """Not passed for want of time (not a start, a new scene or a failure): the stage is overloaded."""
        return self.verdict is not Verdict.PUBLISH and self.reason == STATUS_SLOW


def decide(e: Evidence, s: PublishRuleSettings) -> Decision:
    """Whether this live frame may leave. It may only if every region where a face may be is covered:

    1. Faces the fast tier can see (anywhere in the picture): it checked this very frame, or it checked one at
       most `reuse_s` older and nothing moved outside the hidden areas since (a face cannot appear where the
       picture did not change).
    2. Small faces, turned faces: every part of the picture that changed since it was last checked for small
       faces, outside the hidden areas and the reach of a person whose face is where it was found (their own
       arms are left to the sweep; not what a cut in part of the picture replaced there), was checked on this
       frame (CenterFace on the changed parts, at a zoom where the smallest face promised is big enough for it:
       `ScanSettings.centerface_zoom`); and every part was swept (CenterFace, both BlazeFace models, tiles)
       recently enough for what it shows.
    3. Faces already found: each is hidden over the box of a detection made on this frame, or over one at most
       the tracker's hold old, moved and grown by the motion measured since (bounded), and none needed more.
    4. The frame is not too dark and noisy for any detection on it to be trusted (`Light.BLACK`).

    When it may not, the last frame that passed leaves again if it was captured at most `repeat_s` before this
    one; otherwise the privacy curtain, whose status says why.
    """
    reason = _why_not(e, s)
    if reason is None:
        return Decision(Verdict.PUBLISH)
    if e.last_safe_t is not None and 0.0 <= e.t - e.last_safe_t <= s.repeat_s:
        return Decision(Verdict.REPEAT, reason)
    return Decision(Verdict.CURTAIN, reason)


def _why_not(e: Evidence, s: PublishRuleSettings) -> str | None:
    """The first clause this frame fails, as a status line; None when it passes them all."""
    if e.too_dark:
        return STATUS_TOO_DARK
    if e.new_scene:
        return STATUS_NEW_SCENE
    if e.checked_t is None:
        return STATUS_ERROR if e.error is not None else STATUS_STARTING
    if not e.sweep_started:
        return STATUS_NEW_SCENE if e.last_safe_t is not None else STATUS_STARTING
    age = e.t - e.checked_t
    if age < 0.0 or (age > 0.0 and (e.error is not None or age > s.reuse_s or e.moved_since_check)):
        # An earlier check stands only while the detector works: a failing one may have missed what it last saw.
        return STATUS_ERROR if e.error is not None else STATUS_SLOW
    unchecked = e.unchecked_change_s is not None and e.unchecked_change_s >= s.unchecked_s
    if not e.swept or e.overgrown or unchecked:
        return STATUS_SLOW
    return None

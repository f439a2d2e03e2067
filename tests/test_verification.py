"""The second look at uncertain candidates (ScanSettings.verify): a verified non-face is not hidden, a
candidate that cannot be checked in time is, and a face already tracked is not re-examined."""

from __future__ import annotations

import threading
from dataclasses import replace

import numpy as np

from vcam.detection.scan import Scanner, ScanSettings
from vcam.frames import Face

USER = Face((600, 100, 100, 100), 0.95)
TORSO = Face((580, 260, 140, 140), 0.55)


class Fixed:
    """A detector that reports fixed faces (and counts its calls)."""

    def __init__(self, name: str, faces: list[Face]) -> None:
        self.name, self.faces, self.calls = name, faces, 0

    def detect(self, image, t, *, region=None):
        self.calls += 1
        if region is None:
            return list(self.faces)
        x0, y0, x1, y1 = region
        return [f for f in self.faces if x0 <= f.box[0] + f.box[2] / 2 <= x1 and y0 <= f.box[1] + f.box[3] / 2 <= y1]

    def close(self) -> None:
        pass


def scanner(checker_finds: list[Face]) -> tuple[Scanner, dict[str, Fixed]]:
    detectors = {
        "blazeface-far": Fixed("blazeface-far", [USER, TORSO]),
        "blazeface-near": Fixed("blazeface-near", []),
        "centerface": Fixed("centerface", []),
        "centerface-verify": Fixed("centerface-verify", checker_finds),
    }
    settings = ScanSettings(verify=True, tiles=False, crops=False, centerface=False, detection_range="far")
    return Scanner(settings, factory=lambda name, s: detectors[name]), detectors


IMAGE = np.zeros((720, 1280, 3), np.uint8)


def test_a_candidate_the_second_look_finds_no_face_in_is_not_hidden():
    scan, dets = scanner(checker_finds=[USER])
    boxes = [f.box for f in scan.scan(IMAGE, 0.0, []).faces]
    assert boxes == [USER.box]
    assert dets["centerface-verify"].calls == 1, "only the uncertain candidate is looked at again"


def test_a_candidate_the_second_look_confirms_is_hidden():
    scan, _ = scanner(checker_finds=[Face((600, 280, 100, 100), 0.6)])
    assert TORSO.box in [f.box for f in scan.scan(IMAGE, 0.0, []).faces]


def test_a_candidate_that_cannot_be_checked_in_time_is_hidden():
    scan, dets = scanner(checker_finds=[])
    scan.scan(IMAGE, 0.0, [])  # learn the cost of each detector
    dets["centerface-verify"].calls = 0
    result = scan.scan(IMAGE, 10.0, [], budget_s=0.0)
    assert TORSO.box in [f.box for f in result.faces] and dets["centerface-verify"].calls == 0


def test_a_candidate_on_a_tracked_face_is_not_re_examined():
    scan, dets = scanner(checker_finds=[])
    assert TORSO.box in [f.box for f in scan.scan(IMAGE, 0.0, [TORSO]).faces]
    assert dets["centerface-verify"].calls == 0


def test_an_unchecked_candidate_is_marked_and_looked_at_again_once_there_is_time():
    scan, dets = scanner(checker_finds=[])
    scan.scan(IMAGE, 0.0, [])  # learn the cost of each detector
    busy = scan.scan(IMAGE, 10.0, [], budget_s=0.0)
    (held,) = [f for f in busy.faces if f.box == TORSO.box]
    assert held.unverified and not [f for f in busy.faces if f.box == USER.box][0].unverified
    dets["centerface-verify"].calls = 0
    dets["blazeface-far"].faces = [USER]  # the detector does not find the torso again ...
    later = scan.scan(IMAGE, 10.04, [USER, held], budget_s=1.0)
    assert dets["centerface-verify"].calls == 1, "... but the unverified track still gets its second look"
    assert later.cleared == [TORSO.box]


def test_an_unverified_track_does_not_excuse_the_same_candidate_from_its_look():
    scan, dets = scanner(checker_finds=[])
    result = scan.scan(IMAGE, 0.0, [replace(TORSO, unverified=True)])
    assert TORSO.box not in [f.box for f in result.faces]
    assert TORSO.box in result.cleared


def test_a_confirmed_unverified_track_is_not_cleared():
    scan, _ = scanner(checker_finds=[Face((600, 280, 100, 100), 0.6)])
    result = scan.scan(IMAGE, 0.0, [USER, replace(TORSO, unverified=True)])
    assert result.cleared == [] and TORSO.box in [f.box for f in result.faces]


def test_a_place_a_look_found_empty_stays_clear_for_its_memory_and_is_looked_at_again_after():
    scan, dets = scanner(checker_finds=[])
    memory = scan.settings.verify_memory_s
    assert TORSO.box not in [f.box for f in scan.scan(IMAGE, 0.0, []).faces]
    dets["centerface-verify"].calls = 0
    assert TORSO.box not in [f.box for f in scan.scan(IMAGE, memory / 2, [], budget_s=0.0).faces], (
        "re-found within the memory, with no time for a look: still known to be no face"
    )
    assert dets["centerface-verify"].calls == 0
    assert TORSO.box in [f.box for f in scan.scan(IMAGE, memory * 1.5, [], budget_s=0.0).faces], (
        "after the memory, an unchecked find is hidden again (fail closed)"
    )


def test_a_new_scene_forgets_where_looks_found_no_face():
    scan, _ = scanner(checker_finds=[])
    scan.scan(IMAGE, 0.0, [])
    assert TORSO.box in [f.box for f in scan.scan(IMAGE, 0.1, [], budget_s=0.0, thorough=True).faces]


def test_a_tracked_face_the_whole_frame_found_clearly_gets_no_crop_and_an_unclear_one_does():
    detectors = {
        "blazeface-far": Fixed("blazeface-far", [USER]),
        "blazeface-near": Fixed("blazeface-near", []),
        "centerface-verify": Fixed("centerface-verify", []),
    }
    settings = ScanSettings(tiles=False, crops=True, centerface=False, detection_range="far")
    scan = Scanner(settings, factory=lambda name, s: detectors[name])
    scan.scan(IMAGE, 0.0, [USER], tier="fast")
    assert detectors["blazeface-near"].calls == 0, "found at 0.95 in place: no crop"
    detectors["blazeface-far"].faces = [replace(USER, score=0.6)]
    scan.scan(IMAGE, 0.03, [USER], tier="fast")
    assert detectors["blazeface-near"].calls == 1, "found unsure: the crop looks again"
    detectors["blazeface-far"].faces = []
    scan.scan(IMAGE, 0.06, [USER], tier="fast")
    assert detectors["blazeface-near"].calls == 2, "not found: the crop looks again"


class Meeting(Fixed):
    """A whole-frame detector that only returns once a crop has started beside it (a barrier of two): run one
    after the other, the two calls would time out."""

    def __init__(self, name: str, faces: list[Face], barrier: threading.Barrier) -> None:
        super().__init__(name, faces)
        self.barrier, self.met = barrier, 0

    def detect(self, image, t, *, region=None):
        if region is None or self.name == "blazeface-near":
            try:
                self.barrier.wait(timeout=1.0)
                self.met += 1
            except threading.BrokenBarrierError:
                self.barrier.reset()
        return super().detect(image, t, region=region)


def test_the_crop_of_a_track_unclear_on_the_last_frame_runs_beside_the_whole_frame_pass():
    barrier = threading.Barrier(2)
    user = replace(USER, track_id=7)
    crop_find = Face((610, 110, 80, 80), 0.93)
    whole = Meeting("blazeface-far", [], barrier)
    crops = Meeting("blazeface-near", [crop_find], barrier)
    detectors = {"blazeface-far": whole, "blazeface-near": crops, "centerface-verify": Fixed("v", [])}
    settings = ScanSettings(tiles=False, crops=True, centerface=False, detection_range="far")
    scan = Scanner(settings, factory=lambda name, s: detectors[name])
    try:
        first = scan.scan(IMAGE, 0.0, [user], 10.0, tier="fast")  # nothing known yet: whole frame, then the crop
        assert (whole.met, crops.met, crops.calls) == (0, 0, 1)
        second = scan.scan(IMAGE, 0.03, [user], 10.0, tier="fast")  # unclear last frame: the crop starts at once
        assert (whole.met, crops.met, crops.calls) == (1, 1, 2), "the two calls ran at the same time"
        for result in (first, second):
            assert crop_find.box in [f.box for f in result.faces]
            assert [p.kind for p in result.passes] == ["frame", "crop"]
        whole.faces = [replace(user, score=0.95)]
        scan.scan(IMAGE, 0.06, [user], 10.0, tier="fast")  # still unclear at the start: beside, and now seen clearly
        assert crops.calls == 3
        scan.scan(IMAGE, 0.09, [user], 10.0, tier="fast")  # seen clearly last frame: no crop at all
        assert crops.calls == 3 and whole.met == 2
        whole.faces = []
        scan.scan(IMAGE, 0.12, [user], 10.0, tier="fast")  # unclear again: the crop after the whole frame
        scan.scan(IMAGE, 0.15, [user], tier="fast")  # files (no budget): after it too, never beside
        assert crops.calls == 5 and whole.met == 2
    finally:
        scan.close()


def test_a_look_that_finds_a_face_inside_an_oversized_candidate_hides_that_face_not_the_candidate():
    """A head-and-shoulders box around the user: the look finds the user's face in it, and that is hidden."""
    shoulders = Face((560, 100, 200, 200), 0.48)
    inner = Face((620, 110, 70, 80), 0.9)
    detectors = {
        "blazeface-far": Fixed("blazeface-far", [shoulders]),
        "blazeface-near": Fixed("blazeface-near", []),
        "centerface-verify": Fixed("centerface-verify", [inner]),
    }
    settings = ScanSettings(tiles=False, crops=False, centerface=False, detection_range="far")
    scan = Scanner(settings, factory=lambda name, s: detectors[name])
    anchor = Face((600, -20, 100, 100), 0.95)  # a confident face above: the candidate gets its look
    boxes = [f.box for f in scan.scan(IMAGE, 0.0, [anchor], tier="all").faces]
    assert shoulders.box not in boxes and inner.box in boxes, boxes


def live_scanner(near_finds: list[Face]) -> tuple[Scanner, dict[str, Fixed]]:
    detectors = {
        "blazeface-far": Fixed("blazeface-far", []),
        "blazeface-near": Fixed("blazeface-near", near_finds),
        "centerface": Fixed("centerface", []),
        "centerface-verify": Fixed("centerface-verify", []),
    }
    settings = ScanSettings(tiles=False, crops=False, centerface=False, fast_near=True)
    return Scanner(settings, factory=lambda name, s: detectors[name]), detectors


def test_the_live_fast_tier_runs_the_short_range_model_and_the_sweep_the_full_range_one():
    scan, dets = live_scanner([])
    scan.scan(IMAGE, 0.0, [], tier="fast")
    assert (dets["blazeface-near"].calls, dets["blazeface-far"].calls) == (1, 0)
    scan.scan(IMAGE, 0.0, [], tier="sweep")
    assert (dets["blazeface-near"].calls, dets["blazeface-far"].calls) == (1, 1)
    files, fdets = scanner(checker_finds=[])
    files.settings = replace(files.settings, detection_range="auto", fast_near=None)
    files.scan(IMAGE, 0.0, [], tier="fast")
    assert fdets["blazeface-far"].calls == 1, "files keep the full-range model in the fast tier"


def test_an_uncertain_short_range_find_with_nothing_to_check_it_against_is_hidden_unverified_live():
    guess = Face((560, 100, 200, 200), 0.48)
    scan, _ = live_scanner([guess])
    (face,) = scan.scan(IMAGE, 0.0, [], tier="fast").faces
    assert face.box == guess.box and face.unverified, "hidden, but not vouched for"
    sure, _ = live_scanner([replace(guess, score=0.9)])
    assert [f.unverified for f in sure.scan(IMAGE, 0.0, [], tier="fast").faces] == [False]

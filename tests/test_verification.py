"""The second look at uncertain candidates (ScanSettings.verify): a verified non-face is not hidden, a
candidate that cannot be checked in time is, and a face already tracked is not re-examined."""

from __future__ import annotations

import numpy as np

from vcam.frames import Face
from vcam.scan import Scanner, ScanSettings

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
    result = scan.scan(IMAGE, 0.0, [], budget_s=0.0)
    assert TORSO.box in [f.box for f in result.faces] and dets["centerface-verify"].calls == 0


def test_a_candidate_on_a_tracked_face_is_not_re_examined():
    scan, dets = scanner(checker_finds=[])
    assert TORSO.box in [f.box for f in scan.scan(IMAGE, 0.0, [TORSO]).faces]
    assert dets["centerface-verify"].calls == 0

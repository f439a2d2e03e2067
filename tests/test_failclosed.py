"""Fail closed: no raw frame leaves while the detector is not ready, raising, or too slow."""

from __future__ import annotations

import threading
import time

import numpy as np
from conftest import STILL

from vcam.evaluation.evaluate import frame_boxes, video_cases
from vcam.evaluation.metrics import detail_correlation
from vcam.frames import Face, Frame
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import STATUS_ERROR, STATUS_SLOW, STATUS_STARTING, Anonymizer, AnonymizerSettings
from vcam.pipeline.sources import read_image


class FakeScanner:
    """Stands in for the scanner at the detector seam: finds nothing, or misbehaves on purpose."""

    def __init__(self, *, raise_scan=False, sleep_scan=0.0, ready_event=None, faces=()):
        self.raise_scan, self.sleep_scan, self.ready_event, self.faces = raise_scan, sleep_scan, ready_event, faces
        from vcam.detection.scan import ScanSettings

        self.settings = ScanSettings()

    def warm_up(self):
        if self.ready_event is not None:
            self.ready_event.wait(10)

    def scan(self, image, t, tracked, budget_s=None, *, changes=None, **_options):
        if self.raise_scan:
            raise RuntimeError("boom")
        time.sleep(self.sleep_scan)
        from vcam.detection.scan import ScanResult

        return ScanResult([Face(f, 0.9, (), t) for f in self.faces], [], self.sleep_scan, checked=changes or [])

    def close(self):
        pass


def face_image(sample_path):
    return read_image(sample_path / STILL)


def assert_curtained(out, raw, status):
    assert out.curtain == status
    assert not np.array_equal(out.image, raw)
    # Not even a face region survives: the curtain replaces the whole frame.
    assert np.abs(out.image.astype(int) - raw.astype(int)).mean() > 20


def test_not_ready_gives_curtain(sample_path):
    raw = face_image(sample_path)
    gate = threading.Event()
    with Anonymizer(scanner_factory=lambda s: FakeScanner(ready_event=gate)) as anon:
        out = anon.process(Frame(raw, time.monotonic(), 0), effects.EffectSettings(), wait_s=0.05)
        assert_curtained(out, raw, STATUS_STARTING)
        gate.set()
        assert anon.wait_ready(5)
        out = anon.process(Frame(raw, time.monotonic(), 1), effects.EffectSettings(), wait_s=2)
        assert out.curtain is None


def test_raising_detector_gives_curtain(sample_path):
    raw = face_image(sample_path)
    with Anonymizer(scanner_factory=lambda s: FakeScanner(raise_scan=True)) as anon:
        anon.wait_ready(5)
        for i in range(5):
            out = anon.process(Frame(raw, time.monotonic(), i), effects.EffectSettings(), wait_s=0.5)
            assert_curtained(out, raw, STATUS_ERROR)
        assert anon.detector_errors >= 1


def test_persistent_detector_error_does_not_rebuild_models_every_frame(sample_path):
    """mediapipe keeps memory per detector ever created: a persistent error must back off, not rebuild per frame."""
    raw = face_image(sample_path)
    built = []
    with Anonymizer(scanner_factory=lambda s: built.append(1) or FakeScanner(raise_scan=True)) as anon:
        anon.wait_ready(5)
        t_end = time.monotonic() + 2.0
        i = 0
        while time.monotonic() < t_end:
            out = anon.process(Frame(raw, time.monotonic(), i), effects.EffectSettings(), wait_s=0.03)
            assert out.curtain in (STATUS_ERROR, STATUS_STARTING)
            assert_curtained(out, raw, out.curtain)
            time.sleep(1 / 30)
            i += 1
        assert anon.detector_errors >= 3 and len(built) <= 3, (anon.detector_errors, len(built))


def test_slow_detector_gives_curtain(sample_path):
    raw = face_image(sample_path)
    settings = AnonymizerSettings(stale_after_s=0.1, hang_after_s=5)
    with Anonymizer(settings, scanner_factory=lambda s: FakeScanner(sleep_scan=0.6)) as anon:
        anon.wait_ready(5)
        t0 = time.monotonic()
        out = anon.process(Frame(raw, t0, 0), effects.EffectSettings(), wait_s=0.05)
        assert_curtained(out, raw, STATUS_STARTING)
        time.sleep(0.7)  # frame 0 is done now; frame 1 comes 0.7 s later than that result
        out = anon.process(Frame(raw, time.monotonic(), 1), effects.EffectSettings(), wait_s=0.05)
        assert_curtained(out, raw, STATUS_SLOW)


def test_new_scene_never_reuses_the_old_scenes_detections(eval_path):
    """A cut (hamilton frame 211: a singer, then five faces in the audience) must not be published with the
    previous scene's boxes while this frame's detection is still running."""
    import cv2

    from vcam.pipeline.anonymizer import STATUS_NEW_SCENE

    cap = cv2.VideoCapture(str(eval_path / "videos" / "facerec__short_hamilton_clip.mp4"))
    frames = [cap.read()[1] for _ in range(213)]
    before, cut, after = frames[209], frames[211], frames[212]
    settings = AnonymizerSettings(stale_after_s=1.0)
    with Anonymizer(settings, scanner_factory=lambda s: FakeScanner(sleep_scan=0.2)) as anon:
        anon.wait_ready(5)
        t = time.monotonic()
        assert anon.process(Frame(before, t, 0), effects.EffectSettings(), wait_s=1.0).curtain is None
        # Same scene, detection not done yet: the fresh result of frame 0 may stand in (tracked faces).
        out = anon.process(Frame(frames[210], t + 0.03, 1), effects.EffectSettings(), wait_s=0.01)
        assert out.curtain is None
        out = anon.process(Frame(cut, t + 0.06, 2), effects.EffectSettings(), wait_s=0.01)
        assert out.curtain == STATUS_NEW_SCENE
        gt = dict(video_cases(eval_path, only=["hamilton"]))[eval_path / "videos" / "facerec__short_hamilton_clip.mp4"]
        boxes = frame_boxes(gt)[211]
        assert len(boxes) == 5 and all(detail_correlation(cut, out.image, box) < 0.5 for box in boxes)
        time.sleep(0.5)  # the cut frame has been scanned now: the next frame of the new scene may use it
        assert anon.process(Frame(after, t + 0.09, 3), effects.EffectSettings(), wait_s=0.01).curtain is None


def test_hung_detector_is_replaced(sample_path):
    raw = face_image(sample_path)
    made = []

    def factory(s):
        made.append(1)
        return FakeScanner(sleep_scan=30 if len(made) == 1 else 0.0)

    settings = AnonymizerSettings(hang_after_s=0.3)
    with Anonymizer(settings, scanner_factory=factory) as anon:
        anon.wait_ready(5)
        out = anon.process(Frame(raw, time.monotonic(), 0), effects.EffectSettings(), wait_s=0.5)
        assert out.curtain is not None
        assert anon.detector_restarts == 1
        anon.wait_ready(5)
        out = anon.process(Frame(raw, time.monotonic(), 1), effects.EffectSettings(), wait_s=2)
        assert out.curtain is None


def test_off_is_explicit(sample_path):
    raw = face_image(sample_path)
    with Anonymizer(scanner_factory=lambda s: FakeScanner(raise_scan=True)) as anon:
        out = anon.process(Frame(raw, 0.0, 0), effects.EffectSettings(), enabled=False)
        assert out.image is raw and out.curtain is None

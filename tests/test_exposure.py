"""Dim and dark rooms (vcam.detection.exposure): the light is judged from the frame, a dark and noisy frame is
lifted for the detectors only, and live the camera says when it is too dark and curtains when darker still.
The rooms are bench/conditions.py's models of a camera short of light, applied to the demo clip's real faces."""

from __future__ import annotations

import numpy as np
import pytest
from conditions import CONDITIONS, Condition, degrade
from test_batch import DEMO, demo_boxes

from vcam.detection.exposure import TOO_DARK, ExposureSettings, Light, light_of
from vcam.detection.scan import Scanner, ScanSettings
from vcam.frames import Frame, centre_inside, grow_box
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import LiveControls
from vcam.pipeline.live import LivePipeline
from vcam.pipeline.publish_rule import STATUS_TOO_DARK
from vcam.pipeline.sinks import NullSink
from vcam.pipeline.sources import VideoFileSource

BLACK_ROOM = Condition(light=1 / 300, noise=2.5)
"""A room with the light off but for a screen: mean luma 10-11, the gain's noise and little else."""


@pytest.fixture(scope="module")
def demo_frames() -> list[np.ndarray]:
    source = VideoFileSource(DEMO)
    frames = []
    while (frame := source.read()) is not None:
        frames.append(frame.image)
    return frames


def room(image: np.ndarray, condition: Condition, seed: int = 0) -> np.ndarray:
    return degrade(image, condition, np.random.default_rng(seed), 0.0, 0)


def found(faces, boxes) -> int:
    """Reference boxes with a detection's centre inside them."""
    return sum(any(centre_inside(f.box, b) for f in faces) for b in boxes)


def test_the_light_is_judged_by_brightness_and_noise(demo_frames):
    s = ExposureSettings()
    frame = demo_frames[10]
    assert light_of(frame, s)[0] is Light.GOOD
    assert light_of(room(frame, CONDITIONS["dim"]), s)[0] is Light.DIM
    assert light_of(room(frame, CONDITIONS["dark"]), s)[0] is Light.DARK
    assert light_of(room(frame, BLACK_ROOM), s)[0] is Light.BLACK
    # A dark picture without a camera's gain noise is how the scene looks (a stage, a film), not a camera short
    # of light: it is neither lifted nor judged too dark.
    clean_dark = (frame.astype(np.float32) * 0.15).astype(np.uint8)
    assert light_of(clean_dark, s)[0] is Light.GOOD


def test_the_lift_finds_faces_in_a_dark_room_that_the_plain_frame_hides(demo_frames):
    boxes = demo_boxes()
    lifted, plain = Scanner(ScanSettings()), Scanner(ScanSettings(exposure=None))
    counts = {"lifted": 0, "plain": 0}
    total = 0
    for i in range(0, 56, 5):
        dark = room(demo_frames[i], CONDITIONS["dark"], seed=i)
        total += len(boxes[i])
        counts["lifted"] += found(lifted.scan(dark, 0.0, [], None, thorough=True).faces, boxes[i])
        counts["plain"] += found(plain.scan(dark, 0.0, [], None, thorough=True).faces, boxes[i])
    # Measured: 24 of 24 lifted, 13 of 24 plain.
    assert counts["lifted"] >= 0.9 * total and counts["plain"] <= 0.75 * total, counts


def test_the_published_picture_is_not_lifted(demo_frames):
    """Only the detectors see the lifted copy: away from the faces the output is the dim frame itself."""
    dim = room(demo_frames[20], CONDITIONS["dim"])
    with Anonymizer(AnonymizerSettings()) as anon:
        assert anon.wait_ready(60)
        out = anon.process(Frame(dim, 0.0, 0), effects.EffectSettings())
    assert out.curtain is None and len(out.faces) >= 2
    away = np.ones(dim.shape[:2], bool)
    for face in out.faces:
        x, y, w, h = (int(v) for v in grow_box(face.box, 2.5))
        away[max(0, y) : y + h, max(0, x) : x + w] = False
    assert away.mean() > 0.3 and np.array_equal(out.image[away], dim[away])


def _play(path, frames: list[np.ndarray], fps: float = 12.0):
    import cv2

    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"FFV1"), fps, frames[0].shape[1::-1])
    for image in frames:
        writer.write(image)
    writer.release()
    source = VideoFileSource(path, pace=True)
    with Anonymizer(AnonymizerSettings(two_tiers=True)) as anon:
        pipeline = LivePipeline(lambda: source, NullSink(), anon, LiveControls(), fps=fps)
        statuses: list[str | None] = []
        original = anon.process

        def recorded(*args, **kwargs):
            out = original(*args, **kwargs)
            statuses.append(out.curtain)
            return out

        anon.process = recorded  # type: ignore[method-assign]
        pipeline.run()
        return pipeline.stats(), statuses, anon.light


def test_live_a_dark_room_is_reported_and_a_black_one_curtained(demo_frames, tmp_path):
    stats, statuses, light = _play(
        tmp_path / "dark.mkv", [room(f, CONDITIONS["dark"], i) for i, f in enumerate(demo_frames)]
    )
    assert light is Light.DARK and stats.light == TOO_DARK and "DARK: too dark" in stats.line()
    assert stats.curtain_frames <= 0.5 * stats.frames, stats.line()  # still anonymized, not curtained

    stats, statuses, light = _play(tmp_path / "black.mkv", [room(f, BLACK_ROOM, i) for i, f in enumerate(demo_frames)])
    assert light is Light.BLACK and stats.light == TOO_DARK
    # Every frame the curtain (or, for a moment, the last frame that passed): none goes out as it is.
    assert stats.frames == 56 and stats.curtain_frames + stats.repeated_frames == 56, stats.line()
    assert statuses.count(STATUS_TOO_DARK) >= 50

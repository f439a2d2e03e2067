"""The live loop with a real video source and a recording pyvirtualcam backend (the one test double, at that seam)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from vcam.evaluation.evaluate import frame_boxes, video_cases
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import Anonymizer
from vcam.pipeline.controls import LiveControls
from vcam.pipeline.live import LivePipeline
from vcam.pipeline.sinks import SinkError, VirtualCameraSink
from vcam.pipeline.sources import VideoFileSource


def test_live_file_source_to_virtual_camera(sample_path, recording_backend):
    path, gt = next(c for c in video_cases(sample_path) if "female-and-male" in c[0].name)
    boxes = frame_boxes(gt)
    source = VideoFileSource(path, pace=True)
    width, height = source.size
    sink = VirtualCameraSink(width, height, source.fps, backend="recording")
    controls = LiveControls()
    events: list[tuple[str, int]] = []
    with Anonymizer() as anon:
        assert anon.wait_ready(60)
        pipeline = LivePipeline(
            lambda: source,
            sink,
            anon,
            controls,
            fps=source.fps,
            on_event=lambda message: events.append((message, len(recording_backend.frames))),
        )
        pipeline.run()
    sink.close()
    frames, times = recording_backend.frames, recording_backend.times
    # The start-up line (bench/startup.py times it) comes once, right after the first anonymized frame.
    (announced,) = [n for message, n in events if message == "anonymizing: first frame published"]
    assert 1 <= announced <= pipeline.stats().curtain_frames + 1, "only curtains may come before it"
    assert len(frames) >= 0.9 * gt["frames"]
    rate = (len(times) - 1) / (times[-1] - times[0])
    assert abs(rate - source.fps) < 0.2 * source.fps
    # Every published frame either is the curtain or hides every reference face present in the source.
    raw = VideoFileSource(path)
    originals = []
    while (f := raw.read()) is not None:
        originals.append(f.image)
    for out in frames:
        for i, orig in enumerate(originals):
            for box in boxes.get(i, []):
                x, y, w, h = (int(v) for v in box)
                same = np.array_equal(out[y : y + h, x : x + w], orig[y : y + h, x : x + w])
                assert not same, f"raw face from source frame {i} published"
    assert pipeline.stats().frames == len(frames)


def test_no_virtual_device_gives_clear_message():
    with pytest.raises(SinkError) as err:
        VirtualCameraSink(640, 480, 30)
    text = str(err.value)
    assert "modprobe v4l2loopback" in text and 'card_label="Face Anonymizer Camera"' in text


def test_removed_virtual_device_is_noticed(tmp_path, recording_backend):
    """pyvirtualcam only prints when a write fails; the sink must notice a vanished device and say what to do."""
    device = tmp_path / "video9"
    device.write_bytes(b"")
    recording_backend.device_path = str(device)
    sink = VirtualCameraSink(64, 48, 30, backend="recording")
    frame = np.zeros((48, 64, 3), np.uint8)
    sink.send(frame)
    device.unlink()
    with pytest.raises(SinkError, match="disappeared.*modprobe v4l2loopback"):
        sink.send(frame)
    sink.close()


def test_effects_edge_boxes_only_touch_inside():
    img = np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)
    from vcam.frames import Face

    for style in effects.STYLES:
        for box in [(-30, -30, 60, 60), (140, 100, 50, 50), (0, 0, 0, 0), (500, 500, 10, 10), (-1e9, 5, 1e10, 3)]:
            s = effects.EffectSettings(style=style)
            out = effects.apply(img, [Face(box, 1.0)], s)
            touched = effects.affected_mask([Face(box, 1.0)], img.shape, s.margin)
            assert np.array_equal(out[~touched], img[~touched])


def test_a_paced_file_decodes_each_frame_at_its_time_as_a_camera_does(sample_path):
    """Decoded ahead, the next frame's decoding ran while the anonymizer worked on the previous one
    (720p MJPG: ~5 ms on the core the fast tier's crops need; `vcam run --input`, p50 12.2 -> 9.4 ms)."""
    path, _ = next(iter(video_cases(sample_path)))
    source = VideoFileSource(path, pace=True)
    cap, starts = source._cap, []

    class Timed:
        def read(self):
            starts.append(time.monotonic())
            return cap.read()

        def __getattr__(self, name):
            return getattr(cap, name)

    source._cap = Timed()
    frames = [source.read() for _ in range(6)]
    source.close()
    interval = 1.0 / source.fps
    for frame, started in zip(frames[1:], starts, strict=False):
        # Frame k's decoding starts when its turn comes, not right after frame k-1 was handed over.
        assert started >= frame.t - 0.5 * interval, (started, frame.t)
    gaps = np.diff([f.t for f in frames])
    assert np.median(gaps) == pytest.approx(interval, rel=0.2), "still played at the file's rate"


def test_the_demo_clip_is_anonymized_from_its_first_frame(recording_backend):
    """A recording waits for the models before its clock starts: no frame of the demo is curtained for loading
    (a camera's are: its frames are the present). The stage starts cold here, as `vcam run --demo` does."""
    from vcam import assets
    from vcam.app import config
    from vcam.app.cli import anonymizer_settings

    demo = assets.assets_dir() / assets.DEMO_CLIP
    source = VideoFileSource(demo, pace=True)
    frames = source.frame_count
    sink = VirtualCameraSink(*source.size, source.fps, backend="recording")
    with Anonymizer(anonymizer_settings(config.Config(), live=True)) as anon:
        pipeline = LivePipeline(lambda: source, sink, anon, LiveControls(), fps=source.fps)
        pipeline.run()
    sink.close()
    stats = pipeline.stats()
    assert stats.frames == frames == len(recording_backend.frames) == 56
    assert stats.curtain_frames == 0, stats.line()
    # ... and every frame, the first included, hides both reference faces (blurred: little of their detail left).
    from test_batch import demo_boxes

    raw, reference = VideoFileSource(demo), demo_boxes()
    for i, out in enumerate(recording_backend.frames):
        frame, boxes = raw.read(), reference[i]
        assert frame is not None and len(boxes) == 2
        for x, y, w, h in (map(int, box) for box in boxes):
            a = cv2.Laplacian(cv2.cvtColor(frame.image[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY), cv2.CV_64F)
            b = cv2.Laplacian(cv2.cvtColor(out[y : y + h, x : x + w], cv2.COLOR_BGR2GRAY), cv2.CV_64F)
            assert b.std() < 0.5 * a.std(), f"frame {i}: a face keeps its detail"

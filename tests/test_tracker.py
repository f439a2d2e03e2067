"""A lost face stays hidden for hold-ms, growing, then is released."""

from vcam.frames import Face
from vcam.track import Tracker, TrackerSettings


def test_hold_then_release():
    tracker = Tracker(TrackerSettings(hold_s=0.5))
    box = (100.0, 100.0, 50.0, 50.0)
    for i in range(5):
        tracker.update([Face((box[0] + 2 * i, box[1], 50, 50), 0.9)], i / 30)
    t_lost = 4 / 30
    tracker.update([], t_lost + 0.1)
    held = tracker.faces_at(t_lost + 0.3)
    assert len(held) == 1
    assert held[0].box[2] > 50  # grows while unseen
    assert held[0].box[0] + held[0].box[2] / 2 > box[0] + 25  # kept moving right
    tracker.update([], t_lost + 0.45)
    assert len(tracker.faces_at(t_lost + 0.45)) == 1
    tracker.update([], t_lost + 0.55)
    assert tracker.faces_at(t_lost + 0.55) == []


def test_redetected_face_keeps_its_track():
    tracker = Tracker()
    tracker.update([Face((10, 10, 40, 40), 0.9)], 0.0)
    tracker.update([Face((14, 10, 40, 40), 0.9)], 0.033)
    faces = tracker.faces_at(0.033)
    assert len(faces) == 1 and faces[0].track_id == 0

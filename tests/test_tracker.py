"""A lost face stays hidden for hold-ms, growing, then is released."""

from dataclasses import replace

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


def test_the_status_line_counts_people_not_boxes():
    from vcam.track import count_people

    head = Face((100, 100, 80, 80), 0.9)
    twin = Face((110, 95, 70, 85), 0.5)  # the same head seen by another pass, or held by the tracker
    other = Face((400, 120, 60, 60), 0.8)
    assert count_people([head, twin, other]) == 2
    assert count_people([]) == 0


def test_a_second_look_that_finds_nothing_releases_an_unverified_track_only():
    tracker = Tracker()
    checked = Face((100, 100, 80, 80), 0.9)
    unchecked = replace(Face((400, 300, 120, 120), 0.5), unverified=True)
    tracker.update([checked, unchecked], 0.0)
    tracker.release_unverified([checked.box, unchecked.box], 0.05)
    assert [f.score for f in tracker.faces_at(0.05)] == [checked.score]


def test_a_track_once_checked_stays_checked():
    tracker = Tracker()
    tracker.update([Face((100, 100, 80, 80), 0.9)], 0.0)
    tracker.update([replace(Face((104, 100, 80, 80), 0.5), unverified=True)], 0.04)
    assert [f.unverified for f in tracker.faces_at(0.04)] == [False]
    fresh = Tracker()
    fresh.update([replace(Face((104, 100, 80, 80), 0.5), unverified=True)], 0.0)
    fresh.update([Face((104, 100, 80, 80), 0.9)], 0.04)
    assert [f.unverified for f in fresh.faces_at(0.04)] == [False]

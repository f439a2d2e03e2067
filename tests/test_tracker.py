"""A lost face stays hidden for hold-ms, growing, then is released."""

from dataclasses import replace

from vcam.detection.track import Tracker, TrackerSettings
from vcam.frames import Face


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
    from vcam.detection.track import count_people

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


def test_a_sweep_find_is_held_until_the_next_sweep_could_find_it_again():
    tracker = Tracker(TrackerSettings(hold_s=0.5))
    tracker.update([Face((100, 100, 80, 80), 0.9)], 0.0, keep_s=0.8)
    tracker.update([], 0.7)
    assert len(tracker.faces_at(0.7)) == 1, "past hold_s, within keep_s: still hidden"
    tracker.update([], 0.85)
    assert tracker.faces_at(0.85) == []
    unsure = Tracker(TrackerSettings(hold_s=0.5))
    unsure.update([replace(Face((100, 100, 80, 80), 0.5), unverified=True)], 0.0, keep_s=0.8)
    assert unsure.faces_at(0.3) == [], "an unverified candidate keeps its short hold"


def test_a_sweep_of_the_place_that_does_not_find_a_held_face_ends_its_hold():
    tracker = Tracker(TrackerSettings(hold_s=0.5))
    tracker.update([Face((100, 100, 80, 80), 0.9)], 0.0, keep_s=1.2)
    elsewhere = Face((500, 100, 80, 80), 0.9)
    tracker.update([elsewhere], 0.3, keep_s=1.2, looked_at=lambda box: box[0] > 400)  # a sweep of another part
    tracker.update([], 0.7)
    assert len(tracker.faces_at(0.7)) == 2, "a sweep elsewhere says nothing about it: still held"
    tracker.update([elsewhere], 0.8, keep_s=1.2, looked_at=lambda box: True)  # its place swept, not found
    tracker.update([elsewhere], 0.85)
    assert [f.box for f in tracker.faces_at(0.85)] == [elsewhere.box], "past hold_s and no longer held"


def test_a_held_face_neither_grows_nor_keeps_growing_once_the_hold_ends():
    tracker = Tracker(TrackerSettings(hold_s=0.5, growth_per_s=1.0))
    tracker.update([Face((100, 100, 80, 80), 0.9)], 0.0, keep_s=0.3)
    assert [f.box for f in tracker.faces_at(0.25)] == [(100, 100, 80, 80)], "held by the sweep: as found"
    (x, y, w, h) = tracker.faces_at(0.4)[0].box
    assert w > 80 and h > 80, "lost and no longer held: it grows, as any lost face"


def test_the_sweeps_outline_moves_with_the_fast_tiers_box_until_the_next_sweep():
    tracker = Tracker(TrackerSettings(hold_s=0.5))
    tracker.update([Face((100, 100, 50, 50), 0.9)], 0.0)  # the fast tier: a tight box
    tracker.update([Face((90, 80, 70, 80), 0.9)], 0.0, keep_s=0.8)  # the sweep: the whole head
    tracker.update([Face((120, 100, 50, 50), 0.9)], 0.1)  # the fast tier, 20 px to the right
    (box,) = [f.box for f in tracker.faces_at(0.1)]
    assert box == (110, 80, 70, 80), "the sweep's outline, carried 20 px right"
    tracker.update([Face((120, 100, 50, 50), 0.9)], 0.9)
    assert [f.box for f in tracker.faces_at(0.9)] == [(120, 100, 50, 50)], "stale outline dropped"


def test_a_face_no_sweep_has_outlined_gets_the_generous_margin():
    tracker = Tracker(TrackerSettings(unswept_grow=1.5))
    tracker.update([Face((100, 100, 40, 40), 0.9)], 0.0)
    assert [f.box for f in tracker.faces_at(0.0)] == [(90, 90, 60, 60)]
    tracker.update([Face((100, 100, 40, 40), 0.9)], 0.05, keep_s=0.8)
    assert [f.box for f in tracker.faces_at(0.05)] == [(100, 100, 40, 40)]

"""The publish rule (vcam.pipeline.publish_rule): each clause on hand-made evidence, then each of the hard cases
of a live camera on real faces and the real models: a detector slowed to twice the frame budget, a face moving
fast across the frame, a face entering from the edge, small faces at the back of a 1080p frame, a busy core.
None may publish a readable face; and the rule must still let the scene through, or it proves nothing."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

import cv2
import numpy as np
import pytest
from conftest import DATA, sample_boxes
from faults import LeakChecker, busy_core

from vcam.detection.scan import Scanner, ScanSettings
from vcam.frames import Frame, centre_inside, intersection, iou
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import LiveControls
from vcam.pipeline.live import LivePipeline
from vcam.pipeline.publish_rule import (
    STATUS_ERROR,
    STATUS_NEW_SCENE,
    STATUS_SLOW,
    STATUS_STARTING,
    Evidence,
    PublishRuleSettings,
    Verdict,
    decide,
)
from vcam.pipeline.sinks import NullSink
from vcam.pipeline.sources import read_image

RULE = PublishRuleSettings()
PASSING = Evidence(
    t=10.0,
    checked_t=10.0,
    moved_since_check=False,
    swept=True,
    sweep_started=True,
    overgrown=0,
    unchecked_change_s=None,
    last_safe_t=9.9,
)


# -- the rule on hand-made evidence ---------------------------------------------------------------------------
def test_a_frame_checked_swept_and_covered_passes():
    assert decide(PASSING, RULE).verdict is Verdict.PUBLISH


def test_an_earlier_check_stands_only_young_unmoved_and_while_the_detector_works():
    late = replace(PASSING, checked_t=PASSING.t - 0.05)
    assert decide(late, RULE).verdict is Verdict.PUBLISH
    for failing in (
        replace(late, moved_since_check=True),
        replace(late, checked_t=PASSING.t - RULE.reuse_s - 0.01),
        replace(late, error="RuntimeError: boom"),
    ):
        decision = decide(failing, RULE)
        assert decision.verdict is Verdict.REPEAT, failing
    assert decide(replace(late, error="boom"), RULE).reason == STATUS_ERROR
    assert decide(replace(late, moved_since_check=True), RULE).behind


@pytest.mark.parametrize(
    "change",
    [
        {"swept": False},
        {"overgrown": 1},
        {"unchecked_change_s": RULE.unchecked_s},
    ],
    ids=["a sweep too old", "a face that outgrew its bound", "a change not checked in time"],
)
def test_each_clause_holds_the_frame_back_then_curtains(change):
    held = replace(PASSING, **change)
    decision = decide(held, RULE)
    assert decision.verdict is Verdict.REPEAT and decision.reason == STATUS_SLOW and decision.behind
    too_long = replace(held, last_safe_t=held.t - RULE.repeat_s - 0.01)
    assert decide(too_long, RULE).verdict is Verdict.CURTAIN
    assert decide(replace(held, last_safe_t=None), RULE).verdict is Verdict.CURTAIN


def test_a_change_may_go_unchecked_only_as_long_as_the_settings_allow():
    lenient = replace(RULE, unchecked_s=0.1)
    assert decide(replace(PASSING, unchecked_change_s=0.05), lenient).verdict is Verdict.PUBLISH
    assert decide(replace(PASSING, unchecked_change_s=0.0), RULE).verdict is Verdict.REPEAT, "strict: this frame"


def test_start_and_new_scene_are_not_load():
    start = replace(PASSING, checked_t=None, last_safe_t=None)
    assert decide(start, RULE).verdict is Verdict.CURTAIN and decide(start, RULE).reason == STATUS_STARTING
    assert not decide(start, RULE).behind
    cut = replace(PASSING, new_scene=True)
    decision = decide(cut, RULE)
    assert decision.verdict is Verdict.REPEAT and decision.reason == STATUS_NEW_SCENE and not decision.behind


# -- live scenes on real faces ----------------------------------------------------------------------------------
FPS = 30.0
VISIBLE = 0.55


def _sprite(scale: float) -> tuple[np.ndarray, np.ndarray, list[float]]:
    """The man of the shipped still, his head and shoulders cut out with a soft edge: (image, alpha, his box
    in the cut-out), scaled by `scale`."""
    name = "images/intel-sv__female-and-male_025.png"
    image = read_image(DATA / name)
    x, y, w, h = max(sample_boxes(name), key=lambda b: b[0])
    x0, y0, x1, y1 = int(x - 0.6 * w), int(y - 0.5 * h), int(x + 1.6 * w), int(min(image.shape[0], y + 2.0 * h))
    cut = cv2.resize(image[y0:y1, x0:x1], None, fx=scale, fy=scale, interpolation=cv2.INTER_LINEAR)
    alpha = np.zeros(cut.shape[:2], np.float32)
    cv2.ellipse(
        alpha,
        (cut.shape[1] // 2, cut.shape[0] // 2),
        (cut.shape[1] // 2 - 2, cut.shape[0] // 2 - 2),
        0,
        0,
        360,
        1.0,
        -1,
    )
    alpha = cv2.GaussianBlur(alpha, (0, 0), 3)[..., None]
    return cut, alpha, [(x - x0) * scale, (y - y0) * scale, w * scale, h * scale]


def _room(size: tuple[int, int]) -> np.ndarray:
    """A room with no face in it, drawn: a lit wall, a window, a door, a shelf of books, some texture."""
    w, h = size
    rng = np.random.default_rng(3)
    room = np.zeros((h, w, 3), np.float32)
    room[:] = np.linspace(150, 205, w, dtype=np.float32)[None, :, None] * np.array([0.92, 0.97, 1.0], np.float32)
    sx, sy = w / 1280, h / 720

    def rect(x0, y0, x1, y1, colour):
        cv2.rectangle(room, (int(x0 * sx), int(y0 * sy)), (int(x1 * sx), int(y1 * sy)), colour, -1)

    rect(900, 60, 1200, 380, (235, 225, 210))  # window
    rect(905, 215, 1195, 225, (120, 110, 100))
    rect(60, 120, 260, 690, (70, 90, 120))  # door
    rect(420, 520, 820, 540, (60, 70, 90))  # shelf
    for i in range(14):
        rect(430 + i * 27, 440 + (i % 3) * 12, 452 + i * 27, 520, tuple(float(v) for v in rng.integers(40, 200, 3)))
    rect(0, 640, 1280, 720, (90, 100, 110))  # floor
    room += cv2.GaussianBlur(rng.normal(0, 6, (h, w)).astype(np.float32), (0, 0), 2)[..., None]
    return np.clip(room, 0, 255).astype(np.uint8)


@dataclass
class Scene:
    """A camera that films a room in which real faces move: `place(k)` gives, for frame k, where each sprite's
    top-left corner is (None: not in the picture). Paced at `FPS`; a reader that falls behind skips frames."""

    size: tuple[int, int]
    sprites: list[tuple[np.ndarray, np.ndarray, list[float]]]
    place: Callable[[int], list[tuple[float, float] | None]]
    frames: int
    backdrop: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.fps, self.name = FPS, "scene"
        room = (self.backdrop if self.backdrop is not None else _room(self.size)).astype(np.int16)
        rng = np.random.default_rng(1)
        # A sensor's noise, drawn once for a few frames and cycled: the camera's own work stays a camera's.
        self._noisy = [
            np.clip(room + rng.normal(0, 2.0, room.shape[:2]).astype(np.int16)[..., None], 0, 255).astype(np.uint8)
            for _ in range(4)
        ]
        self._start: float | None = None
        self._next = 0

    def boxes(self, frame: Frame) -> list[list[float]]:
        out = []
        for (_cut, _alpha, (bx, by, bw, bh)), at in zip(self.sprites, self.place(frame.index), strict=True):
            if at is None:
                continue
            x0, y0 = max(0.0, at[0] + bx), max(0.0, at[1] + by)
            x1, y1 = min(self.size[0], at[0] + bx + bw), min(self.size[1], at[1] + by + bh)
            # A face counts once more than half of it is in the picture. On the frame a 35 px face is half in,
            # at the edge, no detector here finds it (CenterFace from 62%, at any zoom; BlazeFace later).
            if x1 - x0 > VISIBLE * bw and y1 - y0 > VISIBLE * bh:
                out.append([x0, y0, x1 - x0, y1 - y0])
        return out

    def render(self, k: int) -> np.ndarray:
        image = self._noisy[k % len(self._noisy)].copy()  # the room with a sensor's noise
        for (cut, alpha, _box), at in zip(self.sprites, self.place(k), strict=True):
            if at is None:
                continue
            x, y = int(round(at[0])), int(round(at[1]))
            h, w = cut.shape[:2]
            sx0, sy0 = max(0, -x), max(0, -y)
            dx0, dy0 = max(0, x), max(0, y)
            dx1, dy1 = min(self.size[0], x + w), min(self.size[1], y + h)
            if dx1 <= dx0 or dy1 <= dy0:
                continue
            a = alpha[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0]
            patch = cut[sy0 : sy0 + dy1 - dy0, sx0 : sx0 + dx1 - dx0].astype(np.float32)
            under = image[dy0:dy1, dx0:dx1].astype(np.float32)
            image[dy0:dy1, dx0:dx1] = np.clip(a * patch + (1 - a) * under, 0, 255).astype(np.uint8)
        return image

    def read(self) -> Frame | None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
        due = self._start + self._next / self.fps
        if due > now:
            time.sleep(due - now)
        else:
            self._next = max(self._next, int((now - self._start) * self.fps))
        if self._next >= self.frames:
            return None
        frame = Frame(self.render(self._next), time.monotonic(), self._next)
        self._next += 1
        return frame

    def close(self) -> None:
        pass


def play_live(scene: Scene, settings: AnonymizerSettings | None = None, scanner_factory=None) -> LeakChecker:
    """The scene through the live pipeline, every published frame judged against its own camera frame."""
    checker = LeakChecker(scene.boxes)
    with Anonymizer(settings or AnonymizerSettings(two_tiers=True), scanner_factory=scanner_factory) as anon:
        assert anon.wait_ready(60)
        pipe = LivePipeline(lambda: scene, NullSink(), anon, LiveControls(), fps=FPS, on_output=checker)
        pipe.run()
    checker.close()
    return checker


def assert_private_and_live(checker: LeakChecker, scene: Scene, at_least: float) -> None:
    assert checker.faces > 0, "faces were in the picture"
    assert checker.leaks == [], f"readable faces published (frame, correlation): {checker.leaks[:8]}"
    assert checker.current >= at_least * scene.frames, (
        f"only {checker.current} of {scene.frames} frames showed the scene: a rule that holds everything back "
        "proves nothing"
    )


class SlowFastTier:
    """The real scanner, its fast tier slowed to twice the frame budget (the sweep as it is)."""

    def __init__(self, settings: ScanSettings) -> None:
        self.inner = Scanner(settings)
        self.settings = settings

    def warm_up(self) -> None:
        self.inner.warm_up()

    def scan(self, image, t, tracked, budget_s=None, **kw):
        if kw.get("tier") == "fast":
            time.sleep(2 / FPS)
        return self.inner.scan(image, t, tracked, budget_s, **kw)

    def close(self) -> None:
        self.inner.close()


def test_a_detector_slowed_to_twice_the_frame_budget_publishes_no_readable_face():
    """A man sways a little in front of the camera while every fast-tier check takes two frame intervals."""
    sprite = _sprite(1.4)

    def place(k: int):
        return [(560 + 60 * np.sin(k / 12), 240 + 20 * np.sin(k / 7))]

    scene = Scene((1280, 720), [sprite], place, frames=int(5 * FPS))
    checker = play_live(scene, scanner_factory=SlowFastTier)
    assert_private_and_live(checker, scene, at_least=0.2)


def test_a_face_moving_fast_across_the_frame_publishes_no_readable_face():
    """He crosses the whole 720p frame in 1.5 s (a frame width a second and more: 30 px a frame), and back."""
    sprite = _sprite(1.4)
    width = 1280 - sprite[0].shape[1]

    def place(k: int):
        phase = (k / FPS) / 1.5 % 2
        x = width * (phase if phase <= 1 else 2 - phase)
        return [(x, 250)]

    scene = Scene((1280, 720), [sprite], place, frames=int(6 * FPS))
    checker = play_live(scene)
    assert_private_and_live(checker, scene, at_least=0.3)


def test_a_face_entering_from_the_edge_publishes_no_readable_face():
    """An empty room for 1.5 s, then he steps in from the left edge and stays."""
    sprite = _sprite(1.2)
    w = sprite[0].shape[1]

    def place(k: int):
        t = k / FPS - 1.5
        if t < 0:
            return [None]
        return [(min(300.0, -w + 400 * t), 230)]

    scene = Scene((1280, 720), [sprite], place, frames=int(5 * FPS))
    checker = play_live(scene)
    assert_private_and_live(checker, scene, at_least=0.3)


def _back_row(busy: bool) -> tuple[Scene, float]:
    """A 1080p room: the shipped classroom (faces 12-20 px at 480x270) at twice its size in the back, its four
    people 24-40 px, and after 1.5 s a fifth, small face walks in behind them from the right."""
    name = "images/intel-sv__classroom_025.png"
    classroom = cv2.resize(read_image(DATA / name), (960, 540))
    backdrop = _room((1920, 1080))
    ox, oy = 480, 120
    backdrop[oy : oy + 540, ox : ox + 960] = classroom
    people = [[ox + x * 2, oy + y * 2, w * 2, h * 2] for x, y, w, h in sample_boxes(name)]
    walker = _sprite(0.45)  # his face about 35 px

    def place(k: int):
        t = k / FPS - 1.5
        return [None if t < 0 else (1920 - 120 * t, 330.0)]

    scene = Scene((1920, 1080), [walker], place, frames=int(6 * FPS), backdrop=backdrop)
    boxes = scene.boxes
    scene.boxes = lambda frame: people + boxes(frame)  # type: ignore[method-assign]
    return scene, 0.15 if busy else 0.3


def test_small_faces_at_the_back_of_a_1080p_frame_are_hidden_from_the_first_frame():
    scene, at_least = _back_row(busy=False)
    assert_private_and_live(play_live(scene), scene, at_least)


class NoCropsFastTier(SlowFastTier):
    """The real scanner, its fast tier never given time for a zoomed crop (what a busy core does to it now and
    then): at 1080p its whole-frame pass cannot see a 35 px face, so a walker is found only where his changes
    are checked, or by the sweep."""

    def scan(self, image, t, tracked, budget_s=None, **kw):
        if kw.get("tier") == "fast":
            tracked = []
        return self.inner.scan(image, t, tracked, budget_s, **kw)


def test_a_walker_the_fast_tier_has_no_time_to_crop_is_never_published_readable():
    """The walker of the 1080p back row, with no crop ever around his held box: once he walks out of it, only
    the changes beside it find him. A held face that moved lent its body's reach to those changes, and he
    was published readable for up to 0.7 s (a busy core under two more busy processes: 4 runs of 10)."""
    scene, _ = _back_row(busy=False)
    assert_private_and_live(play_live(scene, scanner_factory=NoCropsFastTier), scene, at_least=0.15)


def test_a_busy_core_publishes_no_readable_face():
    """The same 1080p room while another process keeps one of the cores busy (a call app's encoder)."""
    with busy_core():
        scene, at_least = _back_row(busy=True)
        checker = play_live(scene)
    assert_private_and_live(checker, scene, at_least)


def test_an_overloaded_camera_says_so_in_its_stats_its_status_and_the_tray(tmp_path, monkeypatch):
    """A 1080p camera whose fast tier takes two frame intervals: frames are held back for want of time, and the
    user is told so, with what would help, where they look (`--stats`, `vcam ctl status`, the tray)."""
    from vcam.app.icons import icon_image
    from vcam.app.service import CameraService, SourceSpec
    from vcam.pipeline import anonymizer
    from vcam.pipeline.live import ANONYMIZING, CURTAIN, OVERLOADED

    sprite = _sprite(2.0)
    scene = Scene((1920, 1080), [sprite], lambda k: [(300 + 40 * k % 1200, 300)], frames=int(3 * FPS))
    clip = tmp_path / "busy.avi"
    writer = cv2.VideoWriter(str(clip), cv2.VideoWriter_fourcc(*"MJPG"), FPS, scene.size)
    for k in range(scene.frames):
        writer.write(scene.render(k))
    writer.release()
    monkeypatch.setattr(anonymizer, "Scanner", SlowFastTier)
    service = CameraService(
        LiveControls(),
        SourceSpec(file=clip, fps=FPS, width=1920, height=1080),
        NullSink(),
        AnonymizerSettings(two_tiers=True),
        fps=FPS,
        config_file=tmp_path / "config.toml",
    )
    service.start()
    try:
        assert service.anonymizer.wait_ready(60)
        deadline = time.monotonic() + 20
        while service.state() != OVERLOADED and time.monotonic() < deadline:
            time.sleep(0.1)
        stats = service.stats()
        status = service.handle({"cmd": "status"})
    finally:
        service.stop()
    assert service.state(stats) == OVERLOADED, stats
    assert "1080p is too heavy for this machine" in stats.behind and "720p" in stats.behind
    assert f"BEHIND: {stats.behind}" in stats.line(), "--stats says it"
    assert status["state"] == OVERLOADED and status["line"].startswith("Behind: 1080p"), "vcam ctl status says it"
    assert stats.repeated_frames > 0, "held-back frames are repeats first, not curtains"
    icons = {state: icon_image(state).tobytes() for state in (OVERLOADED, ANONYMIZING, CURTAIN)}
    assert len(set(icons.values())) == 3, "the tray shows it at a glance"


class RecordingScanner(SlowFastTier):
    """The real scanner, keeping what each scan was given and found: (capture time, tier, tracked, found)."""

    def __init__(self, settings: ScanSettings) -> None:
        super().__init__(settings)
        self.calls: list[tuple[float, str, list, list]] = []
        SCANNERS.append(self)

    def scan(self, image, t, tracked, budget_s=None, **kw):
        result = self.inner.scan(image, t, tracked, budget_s, **kw)
        self.calls.append((t, kw.get("tier", "all"), list(tracked), list(result.faces)))
        return result


SCANNERS: list[RecordingScanner] = []


def test_a_cut_to_a_close_up_is_not_excused_by_the_last_shots_faces(eval_path):
    """Hamilton's cut at frame 20 (720p): from a wide shot to a 400x570 px profile at the frame's edge, where the
    wide shot's faces had been. Checked, those faces vouched for what the new scene's scans found near them: the
    profile, an unsure find around one of them, was explained away as its head and shoulders
    (`Scanner._around_a_known_face`) and published unhidden (bench/live_leaks.py, 720p idle: correlation 0.76,
    one run in two). After a cut every earlier track is an unverified candidate, still hidden; each scan of the
    new scene must find the profile, and no published frame may show it."""
    from vcam.evaluation.evaluate import frame_boxes, video_cases
    from vcam.evaluation.metrics import detail_correlation
    from vcam.pipeline import effects

    path = eval_path / "videos" / "facerec__short_hamilton_clip.mp4"
    boxes = frame_boxes(dict(video_cases(eval_path, only=["hamilton"]))[path])
    size = (1280, 720)
    frames = [cv2.resize(image, size) for image in _clip_frames(path, set(range(27))).values()]
    scale, cut = size[0] / 640, 20

    def close_up(k: int) -> list[float]:
        """The close-up's reference box on frame k (the largest)."""
        return [v * scale for v in max(boxes[k], key=lambda b: b[2])]

    assert close_up(cut)[2] > 300
    SCANNERS.clear()
    captured: dict[int, float] = {}
    with Anonymizer(AnonymizerSettings(two_tiers=True), scanner_factory=RecordingScanner) as anon:
        assert anon.wait_ready(60)
        index = 0

        def show(k: int) -> bool:
            """Frame k, checked by the fast tier before the rule decides; whether it was published."""
            nonlocal index
            captured[k] = time.monotonic()
            out = anon.process(
                Frame(frames[k], captured[k], index), effects.EffectSettings(), wait_s=5.0, budget_s=0.6 / FPS
            )
            index += 1
            time.sleep(1 / FPS)
            if out.curtain is not None or out.repeat:
                return False
            for box in boxes.get(k, []):
                scaled = [v * scale for v in box]
                corr = detail_correlation(frames[k], out.image, scaled)
                assert corr < 0.5, f"frame {k}: the face at {[round(v) for v in scaled]} published readable"
            return True

        deadline = time.monotonic() + 30
        while not show(10):  # the wide shot, still, until the camera publishes it and tracks its faces
            assert time.monotonic() < deadline, "the wide shot was never published"
        shown = [k for k in range(11, len(frames)) if show(k)]
    assert any(k >= cut for k in shown), f"nothing of the new scene was published: {shown}"
    after = [c for s in SCANNERS for c in s.calls if c[0] >= captured[cut]]
    assert after, "the new scene was scanned"
    for _, tier, tracked, _ in after:
        vouching = [f.box for f in tracked if f.last_seen < captured[cut] and not f.unverified]
        assert not vouching, f"a {tier} scan of the new scene was given the wide shot's faces as checked: {vouching}"
    frame_of = {t: k for k, t in captured.items()}
    fast = [(frame_of[t], found) for t, tier, _, found in after if tier == "fast"]
    missed = [k for k, found in fast if not any(iou(f.box, close_up(k)) > 0.3 for f in found)]
    assert not missed, f"fast-tier scans of the new scene that did not find the close-up, frames {missed} of {fast}"


def _clip_frames(path, wanted: set[int]) -> dict[int, np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = {}
    for k in range(max(wanted) + 1):
        ok, image = cap.read()
        assert ok, f"{path.name} has frame {k}"
        if k in wanted:
            out[k] = image
    cap.release()
    return out


def _unchecked_after(
    frames: list[np.ndarray],
    face: tuple,
    lent: list[bool] | None = None,
    late_check: int | None = None,
    level: float = 15.0,
) -> list[tuple[int, int, int, int]]:
    """Checked on the first frame, then shown the rest with `face` hidden, lending its reach on each frame where
    `lent` says so (always by default; else it is only watched, as a held face that moved): the regions still to
    check on the last. `late_check`: the whole of that earlier frame is checked just before the last is shown
    (a sweep that finishes late)."""
    from vcam.pipeline.anonymizer import reach
    from vcam.pipeline.motion import CheckedPicture, MotionHistory

    history = MotionHistory()  # its small grey copies, as the live stage keeps them
    for k, image in enumerate(frames):
        history.observe(image, k / FPS)
    small = [history.small_at(k / FPS) for k in range(len(frames))]
    h, w = frames[0].shape[:2]
    checked = CheckedPicture(history.settings.step)
    checked.mark(None, small[0], 0.0, (w, h))
    regions: list = []
    for k in range(1, len(frames)):
        if k == len(frames) - 1 and late_check is not None:
            checked.mark(None, small[late_check], late_check / FPS, (w, h))
        lends = lent is None or lent[k - 1]
        body = [reach(face)]
        found = checked.unchecked(small[k], level, [face], (w, h), k / FPS, body if lends else [], body)
        assert found is not None
        regions = found[0]
    return regions


def _box(region: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """A region (x0, y0, x1, y1) as a box (x, y, w, h)."""
    return region[0], region[1], region[2] - region[0], region[3] - region[1]


def test_a_reach_excuses_a_body_moving_not_a_picture_replaced_around_it(eval_path):
    """Clause 2's reach: changes around a tracked person are their own body, left to the sweep. Not when the
    picture around them is replaced: hamilton's cut from the singer to five faces, played in the top-right
    window of a 1080p mosaic (bench/live_leaks.py --sizes mosaic: a face beside the singer's held box published
    untouched for 5 to 7 frames), puts new faces inside the reach the singer's track still lends. They must be
    checked. A signer's moving arms (brother, 720p) stay excused."""
    from vcam.evaluation.evaluate import frame_boxes, video_cases
    from vcam.pipeline.anonymizer import reach

    path = eval_path / "videos" / "facerec__short_hamilton_clip.mp4"
    boxes = frame_boxes(dict(video_cases(eval_path, only=["hamilton"]))[path])
    frames = _clip_frames(path, {209, 210, 212, 213})
    canvas = np.full((1080, 1920, 3), 90, np.uint8)

    def window(image: np.ndarray) -> np.ndarray:
        out = canvas.copy()
        out[:540, 960:] = cv2.resize(image, (960, 540))
        return out

    singer = (1334.0, 49.0, 180.0, 184.0)  # his track's box on frame 210, as the live camera held it
    new = [(960 + 1.5 * x, 1.5 * y, 1.5 * w, 1.5 * h) for x, y, w, h in boxes[213]]
    beside = [b for b in new if centre_inside(b, reach(singer)) and not intersection(b, singer)]
    assert len(beside) >= 2, "new faces inside the singer's reach, outside his hidden box"
    shown = [window(frames[k]) for k in (209, 210, 212, 213)]
    # His track lends its reach throughout; or, as live, not on the cut (held, the picture moved around it)
    # and again on the next frame, when the crop around his box finds an audience face there.
    # Or a sweep of the frame before the cut finishes after it: it saw none of the new faces.
    for lent, late in (([True, True, True], None), ([True, False, True], None), ([True, True, True], 1)):
        regions = _unchecked_after(shown, singer, lent, late)
        missed = [b for b in beside if not any(centre_inside(b, _box(r)) for r in regions)]
        assert not missed, (
            f"lent {lent}, late check {late}: new faces in a replaced reach left unchecked: {missed} ({regions})"
        )

    path = eval_path / "videos" / "intel-sv__brother.mkv"
    face = next(b for k, b, _ in dict(video_cases(eval_path, only=["brother"]))[path]["boxes"] if k == 30)
    frames = _clip_frames(path, {29, 30, 31})
    size = (1280, 720)
    scale = size[0] / frames[29].shape[1]
    signer = tuple(v * scale for v in face)
    regions = _unchecked_after([cv2.resize(frames[k], size) for k in (29, 30, 31)], signer)
    assert not [r for r in regions if centre_inside(_box(r), reach(signer))], (
        f"a signer's own moving body was to be checked: {regions}"
    )

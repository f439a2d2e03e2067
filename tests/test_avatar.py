"""The avatar style: the face mesh on real faces, the expression it reads, and a drawn face that hides
everything of the person but the expression's numbers."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np
import pytest
from test_batch import decoded, demo_boxes

from vcam import assets
from vcam.detection.detect import BlazeFaceDetector, BlazeFaceOptions
from vcam.detection.expression import OneEuro, read
from vcam.detection.mesh import FaceMesher
from vcam.frames import NEUTRAL, Expression, Face
from vcam.pipeline import avatar, effects

DEMO = assets.assets_dir() / assets.DEMO_CLIP
AVATAR = effects.EffectSettings(style="avatar")


@pytest.fixture(scope="module")
def frames() -> list[np.ndarray]:
    return decoded(DEMO)[0]


@pytest.fixture(scope="module")
def detector():
    d = BlazeFaceDetector(BlazeFaceOptions("far"))
    yield d
    d.close()


@pytest.fixture(scope="module")
def mesher():
    m = FaceMesher()
    yield m
    m.close()


def test_the_mesh_lands_on_real_faces_and_not_on_a_blank_picture(frames, detector, mesher, sample_path):
    """On the signer of the shipped clip and on the demo's two tilted heads the model finds a face (presence
    >= 0.5) and its eyes sit beside BlazeFace's eye keypoints (a sixth of the face on an upright face, a
    quarter on the tilted ones, where BlazeFace's keypoints are rougher); on a grey picture it finds none."""
    cap = cv2.VideoCapture(str(sample_path / "videos" / "intel-sv__eat.mkv"))
    for _ in range(20):
        ok, signer = cap.read()
    assert ok
    cases = [(signer, f, 1 / 6) for f in detector.detect(signer, 0.0)]
    cases += [(frames[10], f, 1 / 4) for f in detector.detect(frames[10], 0.0)]
    assert len(cases) == 3
    for image, face, near in cases:
        mesh = mesher.mesh(image, face)
        assert mesh is not None and mesh.score >= 0.5, mesh and mesh.score
        eyes = [(mesh.points[33, :2] + mesh.points[133, :2]) / 2, (mesh.points[362, :2] + mesh.points[263, :2]) / 2]
        for found, keypoint in zip(eyes, face.keypoints[:2], strict=True):
            assert np.hypot(*(found - keypoint)) < near * face.box[2], (found, keypoint)
        blank = mesher.mesh(np.full_like(image, 128), face)
        assert blank is not None and blank.score < 0.5


def test_the_expression_tells_a_smile_from_a_resting_face(frames, detector, mesher, eval_path):
    """The head-pose clip's man smiles with his teeth showing; the demo's people rest their faces."""
    cap = cv2.VideoCapture(str(eval_path / "videos" / "intel-sv__head-pose-face-detection-male.mp4"))
    ok, smiling = cap.read()
    assert ok
    face = max(detector.detect(smiling, 0.0), key=lambda f: f.box[2])
    smile = read(mesher.mesh(smiling, face))
    resting = [read(mesher.mesh(frames[10], f)) for f in detector.detect(frames[10], 0.0)]
    assert smile.smile > 0.5 and smile.mouth_open > 0.3, smile
    for e in resting:
        assert e.smile < 0.3 and e.mouth_open < 0.2, e
        assert min(e.eyes_open) > 0.6, e


def test_the_iris_model_sees_a_blink_the_mesh_barely_does(detector, mesher, eval_path):
    """The head-pose clip's man blinks at frame 60 (dlib's 68-point eye aspect ratio falls to 0.17 from 0.28):
    the iris model's eyelids close to under 0.6 of their open level there, so the avatar can show it."""
    from vcam.detection.mesh import EyeReader

    reader = EyeReader()
    cap = cv2.VideoCapture(str(eval_path / "videos" / "intel-sv__head-pose-face-detection-male.mp4"))
    openings = {}
    for index in range(61):
        ok, image = cap.read()
        assert ok
        if index in (30, 32, 34, 36, 60):
            face = max(detector.detect(image, 0.0), key=lambda f: f.box[2])
            openings[index] = np.mean(reader.read(image, mesher.mesh(image, face)).openings)
    reader.close()
    level = np.median([openings[i] for i in (30, 32, 34, 36)])
    assert openings[60] < 0.6 * level, openings


def test_the_avatar_covers_what_solid_covers_and_nothing_of_the_face_shows_through(frames, detector):
    """Drawn over two different pictures with the same faces, the avatar's pixels are identical wherever the
    head shape is fully opaque: nothing of what lies under it reaches the output. It changes exactly the pixels
    solid changes."""
    image = frames[10]
    faces = detector.detect(image, 0.0)
    other = np.random.default_rng(0).integers(0, 256, image.shape, dtype=np.uint8)
    a = effects.apply(image, faces, AVATAR)
    b = effects.apply(other, faces, AVATAR)
    solid = effects.hidden_mask(faces, image.shape, effects.EffectSettings(style="solid"))
    assert (effects.hidden_mask(faces, image.shape, AVATAR) == solid).all()
    core = effects.hidden_mask(faces, image.shape, effects.EffectSettings(style="solid", margin=1.3))
    assert core.sum() > 2000 and (a[core] == b[core]).all()
    assert ((a != image).any(axis=2) <= solid).all(), "the avatar wrote outside solid's area"


def test_the_avatar_moves_with_the_expression_and_only_with_it():
    """The same head with the mouth open, eyes shut or a smile draws differently; the drawing depends on the
    expression alone (two calls, same numbers: the same pixels)."""
    shape, centre, axes = (200, 200, 3), (100.0, 100.0), (80.0, 90.0)
    rest = avatar.draw(shape, centre, axes, 0.0, NEUTRAL)
    assert (rest == avatar.draw(shape, centre, axes, 0.0, Expression())).all()
    mouth = (slice(130, 175), slice(60, 140))
    eyes = (slice(75, 110), slice(40, 160))
    opened = avatar.draw(shape, centre, axes, 0.0, Expression(mouth_open=1.0))
    shut = avatar.draw(shape, centre, axes, 0.0, Expression(eyes_open=(0.0, 0.0)))
    smiling = avatar.draw(shape, centre, axes, 0.0, Expression(smile=1.0))
    assert np.abs(opened[mouth].astype(int) - rest[mouth]).mean() > 10
    assert np.abs(shut[eyes].astype(int) - rest[eyes]).mean() > 10
    assert np.abs(smiling[mouth].astype(int) - rest[mouth]).mean() > 5
    whites = np.all(rest[eyes] == avatar.EYE_WHITE_BGR, axis=2).sum()
    assert whites > 100 and np.all(shut[eyes] == avatar.EYE_WHITE_BGR, axis=2).sum() == 0
    # Intensity 100: a neutral face whatever the expression.
    assert (avatar.draw(shape, centre, axes, 0.0, Expression(mouth_open=1.0, smile=1.0), intensity=100) == rest).all()


def test_a_face_without_a_mesh_gets_the_neutral_avatar_and_is_as_covered():
    image = np.full((240, 320, 3), 200, np.uint8)
    face = Face((100.0, 60.0, 90.0, 90.0), 0.95, ((125.0, 95.0), (165.0, 95.0)))
    out = effects.apply(image, [face], AVATAR)
    changed = (out != image).any(axis=2)
    solid = effects.hidden_mask([face], image.shape, effects.EffectSettings(style="solid"))
    assert (changed <= solid).all() and changed.sum() >= 0.95 * solid.sum()  # all but the faintest soft edge
    core = effects.hidden_mask([face], image.shape, effects.EffectSettings(style="solid", margin=1.3))
    assert changed[core].all()


def test_the_smoothing_follows_a_blink_and_calms_jitter():
    """30 fps: a three-frame blink (1 -> 0 -> 1) still closes the smoothed eye below half; at rest, noise of
    0.05 comes out at less than half that."""
    f, t = OneEuro(), 0.0
    for _ in range(30):
        t += 1 / 30
        f(1.0, t)
    blink = []
    for value in (0.0, 0.0, 0.0, 1.0, 1.0):
        t += 1 / 30
        blink.append(f(value, t))
    assert min(blink) < 0.5, blink
    rng = np.random.default_rng(1)
    g, noisy, calm = OneEuro(), [], []
    for i in range(300):
        x = 0.5 + rng.normal(0, 0.05)
        noisy.append(x)
        calm.append(g(x, i / 30))
    assert np.std(calm[30:]) < 0.5 * np.std(noisy[30:])


def test_the_demo_anonymized_as_avatars_shows_no_face(tmp_path):
    """`vcam anonymize --style avatar` on the demo: in every frame the middle of each reference face is the
    avatar's drawing (its few colours), never the person's skin and features."""
    out = tmp_path / "demo.mp4"
    done = subprocess.run(
        [sys.executable, "-m", "vcam", "anonymize", str(DEMO), "-o", str(out), "--style", "avatar"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    palette = np.array(
        [
            avatar.HAIR_BGR,
            avatar.SKIN_BGR,
            avatar.INK_BGR,
            avatar.EYE_WHITE_BGR,
            avatar.IRIS_BGR,
            avatar.MOUTH_BGR,
            avatar.TONGUE_BGR,
            avatar.CHEEK_BGR,
        ],
        np.int32,
    )
    reference = demo_boxes()
    cap = cv2.VideoCapture(str(out))
    index = 0
    while True:
        ok, image = cap.read()
        if not ok:
            break
        for x, y, w, h in reference.get(index, []):
            core = image[int(y + 0.2 * h) : int(y + 0.8 * h), int(x + 0.2 * w) : int(x + 0.8 * w)].astype(np.int32)
            nearest = np.abs(core[:, :, None, :] - palette[None, None]).max(axis=3).min(axis=2)
            drawn = (nearest <= 24).mean()  # video compression and the drawing's smooth edges blur the colours
            assert drawn > 0.85, f"frame {index}: only {drawn:.0%} of a face's middle is the avatar's drawing"
        index += 1
    assert index == 56

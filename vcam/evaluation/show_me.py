"""Measures "hide everyone but me" on the eval clips: is the enrolled user visible, is anyone else?

    python -m vcam.evaluation.show_me --eval-dir ../shared/eval [--distances]

Enrols the man of `intel-sv__head-pose-face-detection-male.mp4` as `vcam enroll --from` does, then runs
every clip of video_gt.json as `vcam anonymize --show-enrolled` decides and draws it (one pass, the file
tiers), and judges each reference face-frame: the enrolled man is *visible* when his box is untouched
in the output (mean change under one grey level); anyone else is a *false accept* when a face the gate
showed lies on their box, *untouched* when their box is left as it was for any reason (shown, or
missed by the detectors), and *readable* when its detail still correlates >= 0.5 with the original.
The man sits on the right in the female-and-male clip (video_gt.json's notes); that is how his boxes
are told from the woman's.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from vcam.evaluation.evaluate import frame_boxes, video_cases
from vcam.evaluation.metrics import detail_correlation
from vcam.frames import Box, intersection
from vcam.identity.enrol import EnrolSettings, open_enroller
from vcam.identity.gate import IdentitySettings, frozen
from vcam.identity.recognizer import Recognizer, distances
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import FILE_SWEEP_S, AnonymizerSettings
from vcam.pipeline.chunks import Chunk
from vcam.pipeline.sources import VideoFileSource, sample_frames
from vcam.pipeline.workers import detect_chunk

ENROL_CLIP = "videos/intel-sv__head-pose-face-detection-male.mp4"
UNTOUCHED = 1.0
"""Mean absolute change (grey levels, 0-255) under which a face box counts as left as it was."""


@dataclass
class ClipScore:
    name: str
    user_frames: int = 0
    user_visible: int = 0
    other_frames: int = 0
    false_accepts: int = 0
    others_untouched: int = 0
    others_readable: int = 0
    seconds: float = 0.0

    def judge(
        self,
        original: np.ndarray,
        output: np.ndarray,
        boxes: list[list[float]],
        width: int,
        shown: Sequence[Box] = (),
    ) -> None:
        """Score one output frame against its reference boxes (`width`: the frame's, to tell him apart;
        `shown`: the boxes the gate left visible on it)."""
        change = np.abs(output.astype(np.int16) - original.astype(np.int16))
        for box in boxes:
            x, y, w, h = (int(round(v)) for v in box)
            untouched = float(change[max(0, y) : y + h, max(0, x) : x + w].mean()) < UNTOUCHED
            if is_user(self.name, box, width):
                self.user_frames += 1
                self.user_visible += untouched
            else:
                self.other_frames += 1
                self.false_accepts += any(intersection(tuple(box), s) > 0 for s in shown)
                self.others_untouched += untouched
                self.others_readable += detail_correlation(original, output, box) >= 0.5


COUNTS = [f.name for f in fields(ClipScore) if f.name != "name"]


@dataclass
class ShowMeReport:
    enrolled_poses: int
    clips: list[ClipScore] = field(default_factory=list)


def is_user(clip: str, box: list[float], width: int) -> bool:
    """The enrolled man's reference boxes: every face of his own clip, the right one in the two-person clip."""
    if clip.endswith("head-pose-face-detection-male.mp4"):
        return True
    return clip.endswith("female-and-male.mp4") and box[0] + box[2] / 2 > width / 2


def enrol(eval_dir: Path) -> np.ndarray:
    settings = EnrolSettings()
    with open_enroller(settings) as enroller:
        result = enroller.run(sample_frames([eval_dir / ENROL_CLIP], settings.every_s))
    problem = result.problem(settings)
    if problem:
        raise RuntimeError(f"enrolment from {ENROL_CLIP} failed: {problem}")
    return result.embeddings


def score_clip(path: Path, gt: dict, settings: AnonymizerSettings, effect: effects.EffectSettings) -> ClipScore:
    started = time.perf_counter()
    decided = detect_chunk(path, Chunk(0, None, 0), settings).frames
    boxes = frame_boxes(gt)
    score = ClipScore(path.name)
    source = VideoFileSource(path)
    try:
        index = 0
        while (read := source.read()) is not None and index < len(decided):
            out = effects.apply(read.image, decided[index].faces, effect)
            shown = [face.box for face in decided[index].shown]
            score.judge(read.image, out, boxes.get(index, []), gt["width"], shown)
            index += 1
    finally:
        source.close()
    score.seconds = time.perf_counter() - started
    return score


def run(eval_dir: Path, only: list[str] | None = None, identity: IdentitySettings | None = None) -> ShowMeReport:
    embeddings = enrol(eval_dir)
    identity = replace(
        identity or IdentitySettings(),
        show_enrolled=True,
        enrolled=frozen(embeddings),
    )
    settings = AnonymizerSettings(file_sweep_s=FILE_SWEEP_S, hang_after_s=600.0, identity=identity)
    report = ShowMeReport(len(embeddings))
    for path, gt in video_cases(eval_dir, only=only):
        report.clips.append(score_clip(path, gt, settings, effects.EffectSettings()))
    return report


def table(report: ShowMeReport) -> str:
    rows = [
        f"Enrolled: {report.enrolled_poses} poses from {ENROL_CLIP}\n",
        "| clip | his face-frames | visible | others' face-frames | shown by the gate (false accepts) "
        "| untouched | readable | s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    total = ClipScore("all")
    for c in report.clips:
        rows.append(
            f"| {c.name} | {c.user_frames} | {c.user_visible} | {c.other_frames} | {c.false_accepts} "
            f"| {c.others_untouched} | {c.others_readable} | {c.seconds:.1f} |"
        )
        for name in COUNTS:
            setattr(total, name, getattr(total, name) + getattr(c, name))
    share = f" ({100 * total.user_visible / total.user_frames:.1f}%)" if total.user_frames else ""
    rows.append(
        f"| **all** | {total.user_frames} | {total.user_visible}{share} | {total.other_frames} "
        f"| {total.false_accepts} | {total.others_untouched} | {total.others_readable} | {total.seconds:.1f} |"
    )
    return "\n".join(rows)


def distance_table(eval_dir: Path, min_px: float = 40.0) -> str:
    """How far each reference face of every clip lies from the enrolment (the man's own clip enrolled as
    `vcam enroll --from` does): the evidence behind IdentitySettings.threshold and other_from."""
    embeddings = enrol(eval_dir)
    recognizer = Recognizer()
    mine: list[float] = []
    others: list[float] = []
    rows = ["| clip | faces >= 40 px | his: max | others: min | others: p5 |", "|---|---|---|---|---|"]
    for path, gt in video_cases(eval_dir):
        boxes = frame_boxes(gt)
        his, theirs = [], []
        source = VideoFileSource(path)
        try:
            index = 0
            while (read := source.read()) is not None:
                faces = [b for b in boxes.get(index, []) if b[2] >= min_px]
                if faces:
                    found = distances(recognizer.embed(read.image, [tuple(b) for b in faces]), embeddings)
                    for box, d in zip(faces, found, strict=True):
                        (his if is_user(path.name, box, gt["width"]) else theirs).append(float(d))
                index += 1
        finally:
            source.close()
        mine += his
        others += theirs
        rows.append(
            f"| {path.name} | {len(his) + len(theirs)} | {max(his, default=float('nan')):.3f} "
            f"| {min(theirs, default=float('nan')):.3f} "
            f"| {np.percentile(theirs, 5) if theirs else float('nan'):.3f} |"
        )
    rows.append(
        f"| **all** | {len(mine) + len(others)} | {max(mine):.3f} (p90 {np.percentile(mine, 90):.3f}) "
        f"| {min(others):.3f} | {np.percentile(others, 5):.3f} (median {np.median(others):.3f}) |"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--videos", help="comma list of clip name parts (default: all in video_gt.json)")
    parser.add_argument("--threshold", type=float, help="largest distance taken as the user")
    parser.add_argument(
        "--distances", action="store_true", help="instead: each reference face's distance to the enrolment"
    )
    args = parser.parse_args(argv)
    if args.distances:
        print(distance_table(args.eval_dir))
        return 0
    identity = IdentitySettings() if args.threshold is None else IdentitySettings(threshold=args.threshold)
    only = args.videos.split(",") if args.videos else None
    print(table(run(args.eval_dir, only, identity)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

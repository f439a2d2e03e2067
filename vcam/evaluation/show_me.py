"""Measures "hide everyone but me" for every person of the eval clips: are they visible, is anyone else?

    python -m vcam.evaluation.show_me --eval-dir ../shared/eval [--cases NAME,...] [--distances]

Each case enrols one person as `vcam enroll --from` does, from another part of their own footage (the
signers from their other clips of the same series, which have no reference boxes; the two people of the
head-pose clips from one half of their single-person clip, or the whole of it for the two-person clip),
then runs every clip of video_gt.json as `vcam anonymize --show-enrolled` decides and draws it (one pass,
the file tiers), and judges each reference face-frame: the enrolled person is *visible* in the measured
footage when their box is untouched in the output (mean change under one grey level); anyone else is a
*false accept* when a face the gate showed lies on their box, *untouched* when their box is left as it was
for any reason (shown, or missed by the detectors), and *readable* when its detail still correlates >= 0.5
with the original. Whose each reference box is comes from video_gt.json's notes (`whose`).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np

from vcam.evaluation.evaluate import frame_boxes, video_cases
from vcam.evaluation.metrics import detail_correlation
from vcam.frames import Box, Face, Frame, intersection
from vcam.identity.enrol import EnrolResult, EnrolSettings, open_enroller
from vcam.identity.gate import IdentitySettings, with_enrolment
from vcam.identity.impostors import calibrate
from vcam.identity.recognizer import Recognizer, distances
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import FILE_SWEEP_S, AnonymizerSettings
from vcam.pipeline.chunks import Chunk
from vcam.pipeline.sources import VideoFileSource, sample_frames
from vcam.pipeline.workers import detect_chunk

UNTOUCHED = 1.0
"""Mean absolute change (grey levels, 0-255) under which a face box counts as left as it was."""

WOMAN, MAN = "woman (head-pose)", "man (head-pose)"
GREY, HOODIE, ORANGE, JACKET = "signer, grey shirt", "signer, hoodie", "signer, orange hoodie", "signer, jacket"
FEMALE = "videos/intel-sv__head-pose-face-detection-female.mp4"
MALE = "videos/intel-sv__head-pose-face-detection-male.mp4"
TOGETHER = "videos/intel-sv__head-pose-face-detection-female-and-male.mp4"
BIRD_EDGE = 560
"""bird.mkv: a second person's face is cut by the right edge (x > 583, video_gt.json's notes); the
signer's box centre stays left of this."""


def whose(clip: str, box: Sequence[float], width: int) -> str:
    """The person a reference box of `clip` belongs to ("" for people no case enrols), from video_gt.json's
    notes and a look at the clips: the woman sits left and the man right in the two-person clip."""
    centre = box[0] + box[2] / 2
    name = Path(clip).name
    if name.endswith("female-and-male.mp4"):
        return WOMAN if centre < width / 2 else MAN
    if name.endswith("head-pose-face-detection-female.mp4"):
        return WOMAN
    if name.endswith("head-pose-face-detection-male.mp4"):
        return MAN
    if name == "intel-sv__bird.mkv":
        return GREY if centre < BIRD_EDGE else ""
    return {
        "intel-sv__thanks.mkv": GREY,
        "intel-sv__brother.mkv": HOODIE,
        "intel-sv__learn.mkv": ORANGE,
        "intel-sv__eat.mkv": JACKET,
    }.get(name, "")


@dataclass(frozen=True, slots=True)
class Footage:
    """Frames `start` to `stop` (exclusive; None: to the end) of one clip under the eval folder."""

    clip: str
    start: int = 0
    stop: int | None = None

    def holds(self, clip: str, index: int) -> bool:
        same = Path(clip).name == Path(self.clip).name
        return same and index >= self.start and (self.stop is None or index < self.stop)


@dataclass(frozen=True, slots=True)
class Case:
    """One person enrolled from `enrol_from`, measured on `measured` (never the same frames)."""

    name: str
    person: str
    enrol_from: tuple[Footage, ...]
    measured: tuple[Footage, ...]


def _signer(name: str, person: str, enrol: Sequence[str], measured: Sequence[str]) -> Case:
    return Case(
        name,
        person,
        tuple(Footage(f"videos/intel-sv__{c}.mkv") for c in enrol),
        tuple(Footage(f"videos/intel-sv__{c}.mkv") for c in measured),
    )


CASES: tuple[Case, ...] = (
    Case("woman, 1st half", WOMAN, (Footage(FEMALE, 0, 12),), (Footage(FEMALE, 12),)),
    Case("woman, 2nd half", WOMAN, (Footage(FEMALE, 12),), (Footage(FEMALE, 0, 12),)),
    Case("woman, beside him", WOMAN, (Footage(FEMALE),), (Footage(TOGETHER),)),
    Case("man, 1st half", MAN, (Footage(MALE, 0, 31),), (Footage(MALE, 31),)),
    Case("man, 2nd half", MAN, (Footage(MALE, 31),), (Footage(MALE, 0, 31),)),
    Case("man, beside her", MAN, (Footage(MALE),), (Footage(TOGETHER),)),
    _signer("grey shirt", GREY, ("milk", "please", "sorry"), ("thanks", "bird")),
    _signer("hoodie", HOODIE, ("again", "help", "no", "student", "yes"), ("brother",)),
    _signer("orange hoodie", ORANGE, ("book", "school", "walk"), ("learn",)),
    _signer("jacket", JACKET, ("night", "sister"), ("eat",)),
)
"""The signers' other clips (same series, same room, no reference boxes) were told apart by their clothes
(docs/EVALUATION.md, "Show me"); the fifth signer (plaid shirt: hungry, want) has no clip with boxes."""


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
        user: Callable[[list[float]], bool | None],
        shown: Sequence[Box] = (),
    ) -> None:
        """Score one output frame against its reference boxes. `user(box)`: True for the enrolled person's
        measured face, False for anyone else's, None for a face not judged (the enrolled person's own
        enrolment footage); `shown`: the boxes the gate left visible on it."""
        change = np.abs(output.astype(np.int16) - original.astype(np.int16))
        for box in boxes:
            mine = user(box)
            if mine is None:
                continue
            x, y, w, h = (int(round(v)) for v in box)
            untouched = float(change[max(0, y) : y + h, max(0, x) : x + w].mean()) < UNTOUCHED
            if mine:
                self.user_frames += 1
                self.user_visible += untouched
            else:
                self.other_frames += 1
                self.false_accepts += any(intersection(tuple(box), s) > 0 for s in shown)
                self.others_untouched += untouched
                self.others_readable += detail_correlation(original, output, box) >= 0.5


COUNTS = [f.name for f in fields(ClipScore) if f.name != "name"]


@dataclass
class CaseReport:
    case: Case
    enrolment: EnrolResult
    threshold: float
    enrol_seconds: float
    clips: list[ClipScore] = field(default_factory=list)

    def total(self) -> ClipScore:
        total = ClipScore("all")
        for clip in self.clips:
            for name in COUNTS:
                setattr(total, name, getattr(total, name) + getattr(clip, name))
        return total


def footage_frames(eval_dir: Path, footage: Sequence[Footage], every_s: float) -> Iterator[tuple[Frame, str]]:
    """The frames enrolment samples from `footage`, as `vcam enroll --from` samples a whole file."""
    for part in footage:
        for frame, where in sample_frames([eval_dir / part.clip], every_s):
            if part.holds(part.clip, frame.index):
                yield frame, where


def enrol(eval_dir: Path, footage: Sequence[Footage], settings: EnrolSettings | None = None) -> EnrolResult:
    settings = settings or EnrolSettings()
    with open_enroller(settings) as enroller:
        result = enroller.run(footage_frames(eval_dir, footage, settings.every_s))
    problem = result.problem(settings)
    if problem:
        raise RuntimeError(f"enrolment from {', '.join(f.clip for f in footage)} failed: {problem}")
    return result


def score_clip(
    path: Path,
    gt: dict,
    settings: AnonymizerSettings,
    effect: effects.EffectSettings,
    user: Callable[[int, list[float]], bool | None],
) -> ClipScore:
    """Run `path` as `vcam anonymize --show-enrolled` does and judge it; `user(index, box)` as in judge."""
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
            score.judge(read.image, out, boxes.get(index, []), lambda box, i=index: user(i, box), shown)
            index += 1
    finally:
        source.close()
    score.seconds = time.perf_counter() - started
    return score


def run_case(
    eval_dir: Path, case: Case, identity: IdentitySettings | None = None, *, calibrated: bool = True
) -> CaseReport:
    """Enrol `case`'s person and run every clip; `calibrated`: with the enrolment's own thresholds (as
    `vcam enroll` stores them), else `identity`'s."""
    started = time.perf_counter()
    enrolment = enrol(eval_dir, case.enrol_from)
    calibration = calibrate(enrolment.embeddings) if calibrated else None
    enrol_seconds = time.perf_counter() - started
    identity = with_enrolment(
        replace(identity or IdentitySettings(), show_enrolled=True), enrolment.embeddings, calibration
    )
    settings = AnonymizerSettings(file_sweep_s=FILE_SWEEP_S, hang_after_s=600.0, identity=identity)
    report = CaseReport(case, enrolment, identity.threshold, enrol_seconds)
    for path, gt in video_cases(eval_dir):
        clip = str(path.relative_to(eval_dir))

        def user(index: int, box: list[float], clip: str = clip, width: int = gt["width"]) -> bool | None:
            if whose(clip, box, width) != case.person:
                return False
            return True if any(part.holds(clip, index) for part in case.measured) else None

        report.clips.append(score_clip(path, gt, settings, effects.EffectSettings(), user))
    return report


def run(eval_dir: Path, cases: Sequence[Case] = CASES) -> list[CaseReport]:
    return [run_case(eval_dir, case) for case in cases]


def table(reports: Sequence[CaseReport]) -> str:
    rows = [
        "| case | enrolled from | poses | threshold | enrolment s | their face-frames | shown "
        "| everyone else's face-frames | shown by the gate | untouched | readable |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    mine = shown = others = accepted = untouched = readable = 0
    for r in reports:
        t = r.total()
        source = ", ".join(_footage_name(f) for f in r.case.enrol_from)
        share = f"{t.user_visible} ({100 * t.user_visible / t.user_frames:.0f}%)" if t.user_frames else "-"
        rows.append(
            f"| {r.case.name} | {source} | {len(r.enrolment.embeddings)} | {r.threshold:.3f} | {r.enrol_seconds:.1f} "
            f"| {t.user_frames} | {share} | {t.other_frames} | {t.false_accepts} | {t.others_untouched} "
            f"| {t.others_readable} |"
        )
        mine, shown = mine + t.user_frames, shown + t.user_visible
        others, accepted = others + t.other_frames, accepted + t.false_accepts
        untouched, readable = untouched + t.others_untouched, readable + t.others_readable
    share = f"{shown} ({100 * shown / mine:.1f}%)" if mine else "-"
    rows.append(f"| **all** | | | | | {mine} | {share} | {others} | {accepted} | {untouched} | {readable} |")
    return "\n".join(rows)


def _footage_name(footage: Footage) -> str:
    name = Path(footage.clip).stem.removeprefix("intel-sv__").removeprefix("head-pose-face-detection-")
    if footage.start or footage.stop is not None:
        name += f" [{footage.start}:{'' if footage.stop is None else footage.stop}]"
    return name


def distance_table(eval_dir: Path, case: Case, min_px: float = 40.0) -> str:
    """How far each reference face of every clip lies from `case`'s enrolment: the enrolled person's
    measured faces against everyone else's (the evidence behind a threshold)."""
    embeddings = enrol(eval_dir, case.enrol_from).embeddings
    recognizer = Recognizer()
    mine: list[float] = []
    others: list[float] = []
    rows = ["| clip | faces >= 40 px | theirs: max | others: min | others: p5 |", "|---|---|---|---|---|"]
    for path, gt in video_cases(eval_dir):
        clip = str(path.relative_to(eval_dir))
        boxes = frame_boxes(gt)
        theirs: list[float] = []
        rest: list[float] = []
        source = VideoFileSource(path)
        try:
            index = 0
            while (read := source.read()) is not None:
                faces = [b for b in boxes.get(index, []) if b[2] >= min_px]
                if faces:
                    found = distances(recognizer.embed(read.image, [Face(tuple(b), 1.0) for b in faces]), embeddings)
                    for box, d in zip(faces, found, strict=True):
                        if whose(clip, box, gt["width"]) != case.person:
                            rest.append(float(d))
                        elif any(part.holds(clip, index) for part in case.measured):
                            theirs.append(float(d))
                index += 1
        finally:
            source.close()
        mine += theirs
        others += rest
        rows.append(
            f"| {path.name} | {len(theirs) + len(rest)} | {max(theirs, default=float('nan')):.3f} "
            f"| {min(rest, default=float('nan')):.3f} | {np.percentile(rest, 5) if rest else float('nan'):.3f} |"
        )
    rows.append(
        f"| **all** | {len(mine) + len(others)} | {max(mine):.3f} (p90 {np.percentile(mine, 90):.3f}) "
        f"| {min(others):.3f} | {np.percentile(others, 5):.3f} (median {np.median(others):.3f}) |"
    )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    parser.add_argument("--cases", help="comma list of case name parts (default: all)")
    parser.add_argument("--threshold", type=float, help="largest distance taken as the user (default: the enrolment's)")
    parser.add_argument("--distances", action="store_true", help="instead: each reference face's distance per case")
    args = parser.parse_args(argv)
    cases = [c for c in CASES if not args.cases or any(part in c.name for part in args.cases.split(","))]
    if not cases:
        parser.error(f"no case matches {args.cases!r}; cases: {', '.join(c.name for c in CASES)}")
    if args.distances:
        for case in cases:
            print(f"\n{case.name}\n{distance_table(args.eval_dir, case)}", flush=True)
        return 0
    calibrated = args.threshold is None
    identity = IdentitySettings() if calibrated else IdentitySettings(threshold=args.threshold)
    reports = []
    for case in cases:
        reports.append(run_case(args.eval_dir, case, identity, calibrated=calibrated))
        print(table(reports[-1:]), flush=True)
    print()
    print(table(reports))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Hide everyone but me, live: the eval set's man enrolled, every video_gt clip replayed at its own fps.

    PYTHONPATH=. python bench/live_show_me.py --eval-dir ../shared/eval --loops 2

The file-mode figures come from `python -m vcam.evaluation.show_me`; live, the checks run on their own
thread and a face is shown only once its check came back, so the first moments of each face and every
cut are hidden. Each published frame is judged from outside as show_me judges files: the man visible
(his box untouched), anyone else shown (a false accept) or readable (detail >= 0.5). The process CPU
is compared with the default mode on the same clip in the same run.
"""

from __future__ import annotations

import argparse
import queue
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from clips import ScaledLoop, scaled_boxes
from faults import CHANGED, CURTAIN_SHARE

from vcam.evaluation.evaluate import video_cases
from vcam.evaluation.show_me import CASES, MAN, ClipScore, enrol, whose
from vcam.frames import Frame
from vcam.identity.gate import IdentitySettings, with_enrolment
from vcam.identity.impostors import calibrate
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import ControlState, LiveControls
from vcam.pipeline.live import LivePipeline, share_the_cores
from vcam.pipeline.sinks import NullSink


@dataclass
class Judge:
    """Scores published frames on a thread of its own (off the pipeline's hot path), as show_me scores files."""

    score: ClipScore
    clip: str
    width: int
    boxes_for: Callable[[Frame], list[list[float]]]
    skipped: int = 0
    curtains: int = 0
    """Frames published as the privacy curtain (start-up, a late sweep): nothing of anyone shows."""
    user_curtained: int = 0
    shown: dict[int, list] = field(default_factory=dict)
    """Per frame index, the boxes the gate left visible (recorded as the pipeline decides them)."""
    _queue: queue.Queue = field(default_factory=lambda: queue.Queue(maxsize=64))

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._work, daemon=True)
        self._thread.start()

    def __call__(self, image: np.ndarray, frame: Frame | None) -> None:
        if frame is not None:
            try:
                self._queue.put_nowait((image, frame))
            except queue.Full:
                self.skipped += 1

    def _work(self) -> None:
        while (item := self._queue.get()) is not None:
            image, frame = item
            changed = cv2.absdiff(image, frame.image).max(axis=2) > CHANGED
            curtained = float(changed.mean()) > CURTAIN_SHARE
            self.curtains += curtained
            before = self.score.user_frames
            shown = self.shown.get(frame.index, [])
            mine = lambda box: whose(self.clip, box, self.width) == MAN  # noqa: E731
            self.score.judge(frame.image, image, self.boxes_for(frame), mine, shown)
            if curtained:
                self.user_curtained += self.score.user_frames - before

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=60)


def replay(path: Path, gt: dict, settings: AnonymizerSettings, mode: str, loops: int) -> tuple[Judge, float, float]:
    size = (gt["width"], gt["height"])
    judge = Judge(ClipScore(path.name), path.name, size[0], scaled_boxes(path, gt, size))
    source = ScaledLoop(path, size)
    seconds = loops * gt["frames"] / source.fps
    with Anonymizer(settings) as anon:
        anon.wait_ready(60)
        controls = LiveControls(ControlState(mode=mode))
        if mode == "all-but-me":
            record_shown(anon, judge.shown)
        pipe = LivePipeline(lambda: source, NullSink(), anon, controls, on_output=judge)
        threading.Timer(seconds, pipe.stop).start()
        cpu0, wall0 = _cpu(), time.monotonic()
        pipe.run()
        cpu = (_cpu() - cpu0) / (time.monotonic() - wall0)
        checks = anon.identity_gate().checks if mode == "all-but-me" else 0
    judge.close()
    return judge, cpu, checks / seconds


def record_shown(anon: Anonymizer, into: dict[int, list]) -> None:
    """Wrap the gate's decision so the judge knows which faces it showed (a miss of the detectors leaves
    a face untouched too, and is not the gate's doing)."""
    gate = anon.identity_gate()
    decide = gate.shown

    def shown(frame: Frame, faces: list, scene: object) -> set[int]:
        keep = decide(frame, faces, scene)
        if keep:
            into[frame.index] = [f.box for f in faces if f.track_id in keep]
        return keep

    gate.shown = shown  # type: ignore[method-assign]


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    share_the_cores()  # as the service does
    p = argparse.ArgumentParser()
    p.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    p.add_argument("--loops", type=int, default=2)
    p.add_argument("--videos", help="comma list of clip name parts (default: every clip of video_gt.json)")
    args = p.parse_args()
    case = next(c for c in CASES if c.name == "man, beside her")
    embeddings = enrol(args.eval_dir, case.enrol_from).embeddings
    identity = with_enrolment(IdentitySettings(), embeddings, calibrate(embeddings))
    settings = AnonymizerSettings(two_tiers=True, identity=identity)
    print(f"live, each clip {args.loops}x at its own size and fps; the man enrolled ({len(embeddings)} poses)\n")
    print(
        "| clip | his face-frames | visible | of those not curtained | others' face-frames | shown by the gate "
        "| untouched | readable | CPU everyone | CPU but me | checks/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    total = np.zeros(7, int)
    for path, gt in video_cases(args.eval_dir, only=args.videos.split(",") if args.videos else None):
        _, cpu_all, _ = replay(path, gt, settings, "everyone", args.loops)
        judge, cpu_me, rate = replay(path, gt, settings, "all-but-me", args.loops)
        sc = judge.score
        row = np.array(
            [
                sc.user_frames,
                sc.user_visible,
                sc.user_frames - judge.user_curtained,
                sc.other_frames,
                sc.false_accepts,
                sc.others_untouched,
                sc.others_readable,
            ]
        )
        total += row
        print(
            f"| {path.name} | {row[0]} | {row[1]} | {row[1]}/{row[2]} | {row[3]} | {row[4]} | {row[5]} | {row[6]} "
            f"| {100 * cpu_all:.0f}% | {100 * cpu_me:.0f}% | {rate:.1f} |",
            flush=True,
        )
    share = f" ({100 * total[1] / total[0]:.1f}%)" if total[0] else ""
    open_share = f" ({100 * total[1] / total[2]:.1f}%)" if total[2] else ""
    print(
        f"| **all** | {total[0]} | {total[1]}{share} | {total[1]}/{total[2]}{open_share} | {total[3]} | {total[4]} "
        f"| {total[5]} | {total[6]} | | | |"
    )


if __name__ == "__main__":
    main()

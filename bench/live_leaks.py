"""Privacy live, under load: every video_gt clip played as a camera through the live pipeline, judged frame by frame.

    PYTHONPATH=. python bench/live_leaks.py --eval-dir ../shared/eval --sizes native,720p,1080p,mosaic \
        --load idle,busy --seconds 10

`vcam eval` measures file mode, where every detection pass runs on every frame. Live, the stage has a frame
budget and a machine that may be busy, so this is what a call actually gets. Each clip is played back and
forth (a camera shows no cut where a clip would loop) for `--seconds`, at its own fps, as JPEG frames decoded
when their time comes (a webcam's MJPG): at its own size (`native`), fitted into 1280x720 (`720p`) or
1920x1080 (`1080p`) with its reference boxes, and tiled four to a 1080p frame (`mosaic`: the classroom's crowd,
hamilton, the head-pose pair and bird in one picture; the four signers in another). `--load busy` keeps one of
the two cores busy in another process, as a call app's encoder does. Each published frame goes to a sink that
converts it to I420 as pyvirtualcam does, and is judged off the hot path (`faults.LeakChecker`).

Per run: readable face-frames (a reference face whose fine detail still correlates >= 0.5 with the original),
the frames the call received (one per camera frame) split into current (a new camera frame, not curtained,
nothing hidden away from the faces), curtained, stale (a frame repeated, or no new frame: the call app shows
the last one again) and over-hidden; delivered fps, capture-to-publish latency p50/p99 and the camera's CPU
(the checker's thread taken out), in % of one core. The camera's own models are loaded before each clip starts;
its first sweep is not, and its curtain counts.
"""

from __future__ import annotations

import argparse
import contextlib
import resource
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from clips import Player, Recording, fitted, mosaic
from faults import LeakChecker, busy_core

from vcam.detection.scan import ScanSettings
from vcam.evaluation.evaluate import SCANS, video_cases
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import ControlState, LiveControls
from vcam.pipeline.live import LivePipeline, share_the_cores

CONFIGS = {
    "near": AnonymizerSettings(scan=SCANS["near"]),
    "one tier": AnonymizerSettings(),
    "full-range fast tier": AnonymizerSettings(two_tiers=True, scan=ScanSettings(fast_near=False)),
    "default": AnonymizerSettings(two_tiers=True),
}
SIZES = {"720p": (1280, 720), "1080p": (1920, 1080)}
MOSAICS = (
    ("classroom", "hamilton", "female-and-male", "bird"),
    ("brother", "eat", "learn", "thanks"),
)


class I420Sink:
    """What the virtual camera costs the process: pyvirtualcam converts each BGR frame to I420 before writing."""

    name = "i420"

    def send(self, image: np.ndarray) -> None:
        h, w = image.shape[:2]
        cv2.cvtColor(image[: h - h % 2, : w - w % 2], cv2.COLOR_BGR2YUV_I420)

    def close(self) -> None:
        pass


@dataclass
class Run:
    faces: int
    readable: int
    due: int
    current: int
    curtained: int
    curtained_after_start: int
    stale: int
    over_hidden: int
    fps: float
    p50: float
    p99: float
    cpu: float
    longest: int
    """Longest run of consecutive camera frames with a readable face."""
    leaked: list[tuple[int, list[float], float]]
    """Each readable face: camera frame, reference box, correlation (printed on stderr, for a closer look)."""


def play(recording: Recording, settings: AnonymizerSettings, style: str = "blur") -> Run:
    checker = LeakChecker(recording.boxes_for, ignored_for=recording.ignored_for)
    player = Player(recording)
    latencies: list[float] = []

    def published(image: np.ndarray, frame) -> None:
        if frame is not None:
            latencies.append(time.monotonic() - frame.t)
        checker(image, frame)

    with Anonymizer(settings) as anon:
        anon.wait_ready(60)
        controls = LiveControls(ControlState(style=style))
        pipe = LivePipeline(lambda: player, I420Sink(), anon, controls, fps=recording.fps, on_output=published)
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        c0 = checker.cpu_s()
        pipe.run()  # until the recording ends
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        c1 = checker.cpu_s()
    checker.close()
    due = player.frames_due(t1)
    cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime - (c1 - c0)) / (t1 - t0) * 100
    lat = sorted(latencies) or [float("nan")]
    frames = sorted({i for i, _ in checker.leaks})
    longest = run = 0
    for a, b in zip([None, *frames], frames, strict=False):
        run = run + 1 if a is not None and b == a + 1 else 1
        longest = max(longest, run)
    received = checker.current + checker.curtains + checker.false_hides + checker.blank
    return Run(
        faces=checker.faces,
        readable=len(checker.leaks),
        due=due,
        current=checker.current,
        curtained=checker.curtains + checker.blank,
        curtained_after_start=checker.curtains_after_start,
        stale=max(0, due - received),
        over_hidden=checker.false_hides,
        fps=len(checker.published) / (t1 - t0),
        p50=1000 * statistics.median(lat),
        p99=1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
        cpu=cpu,
        longest=longest,
        leaked=checker.leaked_boxes,
    )


def recordings(eval_dir: Path, size_name: str, seconds: float, only: list[str] | None) -> list[Recording]:
    cases = video_cases(eval_dir, only=only)
    if size_name == "mosaic":
        out = []
        for names in MOSAICS:
            picked = [next(c for c in video_cases(eval_dir) if n in c[0].name) for n in names]
            if only is None or any(o in n for o in only for n in names):
                out.append(mosaic(picked, SIZES["1080p"], seconds))
        return out
    size = None if size_name == "native" else SIZES[size_name]
    return [fitted(path, gt, size, seconds) for path, gt in cases]


def main() -> None:
    share_the_cores()  # as the service does
    p = argparse.ArgumentParser()
    p.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    p.add_argument("--sizes", default="native,720p,1080p,mosaic", help="native, 720p, 1080p, mosaic (comma list)")
    p.add_argument("--load", default="idle,busy", help="idle and/or busy (one core kept busy by another process)")
    p.add_argument("--seconds", type=float, default=10.0, help="how long each clip plays")
    p.add_argument("--configs", default="default")
    p.add_argument("--style", default="blur", help="how faces are hidden (blur, ..., avatar)")
    p.add_argument("--videos", help="comma list of clip name parts (default: every clip of video_gt.json)")
    args = p.parse_args()
    only = args.videos.split(",") if args.videos else None
    print(f"each clip played live for {args.seconds:.0f} s, back and forth at its own fps\n")
    print(
        "| config | size | load | clip | face-frames | readable | longest run | current | curtained (after start) "
        "| stale | "
        "over-hidden | fps | p50 ms | p99 ms | CPU % |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    totals: dict[tuple[str, str, str], list[int]] = {}
    for load in args.load.split(","):
        with busy_core() if load == "busy" else contextlib.nullcontext():
            for size_name in args.sizes.split(","):
                for recording in recordings(args.eval_dir, size_name, args.seconds, only):
                    for name in args.configs.split(","):
                        r = play(recording, CONFIGS[name], args.style)
                        t = totals.setdefault((name, size_name, load), [0, 0, 0, 0])
                        t[0] += r.faces
                        t[1] += r.readable
                        t[2] += r.current
                        t[3] += r.due
                        size = f"{recording.size[0]}x{recording.size[1]}"
                        print(
                            f"| {name} | {size} | {load} | {recording.name} | {r.faces} | {r.readable} | {r.longest} | "
                            f"{r.current}/{r.due} ({r.current / max(1, r.due):.0%}) | "
                            f"{r.curtained} ({r.curtained_after_start}) | {r.stale} | "
                            f"{r.over_hidden} | {r.fps:.1f} | {r.p50:.1f} | {r.p99:.1f} | {r.cpu:.0f} |",
                            flush=True,
                        )
                        for index, box, corr in r.leaked:
                            where = ", ".join(f"{v:.0f}" for v in box)
                            print(f"  readable: {recording.name} frame {index} ({where}), {corr:.2f}", file=sys.stderr)
    print()
    for (name, size_name, load), (faces, readable, current, due) in totals.items():
        print(
            f"- {name}, {size_name}, {load}: {readable} readable of {faces} face-frames; "
            f"{current} of {due} frames the call received show the current scene ({current / max(1, due):.0%})"
        )


if __name__ == "__main__":
    main()

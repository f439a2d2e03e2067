"""Soak benchmark: a long live replay with faults injected on a schedule; memory, latency and leaks over time.

    PYTHONPATH=. python bench/soak.py --eval-dir ../shared/eval --minutes 30

A real clip with reference boxes (video_gt.json) loops, paced, at 1280x720 through the whole
live pipeline to a null sink. Every `--every` seconds the next fault of the cycle is injected:
camera unplugged, camera read hangs, detector raises, detector hangs, virtual camera removed.
A fault counts as survived when anonymized (not curtained) output resumes within 30 s.
Every published frame is checked off the hot path against the reference boxes.
Prints one row per minute and a summary (Markdown).
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from pathlib import Path

from clips import ScaledLoop, scaled_boxes
from faults import DetectorFaults, FlakyCamera, FlakySink, LeakChecker

from vcam import native_memory
from vcam.evaluation.evaluate import video_cases
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import LiveControls
from vcam.pipeline.live import ANONYMIZING, LivePipeline
from vcam.pipeline.sinks import NullSink


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    native_memory.limit_arenas()  # as `vcam run` does, before any thread starts
    p = argparse.ArgumentParser()
    p.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    p.add_argument("--clip", default="hamilton", help="a clip of video_gt.json (default: the hardest, 30 fps)")
    p.add_argument("--minutes", type=float, default=30)
    p.add_argument("--every", type=float, default=60, help="seconds between faults")
    p.add_argument("--scale", default="1280x720")
    args = p.parse_args()
    size = tuple(int(v) for v in args.scale.split("x"))
    path, gt = video_cases(args.eval_dir, only=[args.clip])[0]
    boxes_for = scaled_boxes(path, gt, size)

    camera = FlakyCamera(lambda: ScaledLoop(path, size))
    sink = FlakySink(NullSink)
    detector = DetectorFaults()
    checker = LeakChecker(boxes_for)
    faults = [
        ("camera unplugged", camera.unplugged, 3.0),
        ("camera read hangs", camera.stalled, 4.0),
        ("detector raises", detector.raising, 2.0),
        ("detector hangs", detector.hanging, 4.0),
        ("virtual camera removed", sink.removed, 3.0),
    ]
    print(f"soak: {path.name} at {size[0]}x{size[1]}, {args.minutes:.0f} min, a fault every {args.every:.0f} s")
    print("| minute | RSS MB | fps | latency p50 ms | p99 ms | curtain frames | faults so far | leaks |")
    print("|---|---|---|---|---|---|---|---|")
    survived, injected, rows = 0, 0, []
    with Anonymizer(AnonymizerSettings(), scanner_factory=detector.factory) as anonymizer:
        pipe = LivePipeline(
            camera.open, sink.open(), anonymizer, LiveControls(), on_output=checker, open_sink=sink.open
        )
        runner = threading.Thread(target=pipe.run, daemon=True)
        cpu0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        runner.start()
        end = t0 + 60 * args.minutes
        next_fault, next_row, k = t0 + args.every, t0 + 60, 0
        last_curtain = 0
        while time.monotonic() < end:
            time.sleep(0.2)
            now = time.monotonic()
            if now >= next_fault:
                name, switch, seconds = faults[k % len(faults)]
                k += 1
                injected += 1
                switch.pulse(seconds)
                time.sleep(seconds + 0.2)
                frames_before = pipe.stats().frames
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    s = pipe.stats()
                    if s.state == ANONYMIZING and s.frames > frames_before + 3:
                        survived += 1
                        break
                    time.sleep(0.1)
                else:
                    print(f"FAULT NOT SURVIVED: {name}", flush=True)
                next_fault = time.monotonic() + args.every
            if now >= next_row:
                s = pipe.stats()
                row = (len(rows) + 1, rss_mb(), s.fps, s.latency_p50_ms, s.latency_p99_ms)
                rows.append(row)
                print(
                    f"| {row[0]} | {row[1]:.0f} | {s.fps:.1f} | {s.latency_p50_ms:.1f} | {s.latency_p99_ms:.1f} | "
                    f"{s.curtain_frames - last_curtain} | {injected} | {len(checker.leaks)} |",
                    flush=True,
                )
                last_curtain = s.curtain_frames
                next_row += 60
        pipe.stop()
        runner.join(10)
        cpu1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
    checker.close()
    s = pipe.stats()
    cpu = (cpu1.ru_utime + cpu1.ru_stime - cpu0.ru_utime - cpu0.ru_stime) / (t1 - t0) * 100
    print()
    print(f"- duration {(t1 - t0) / 60:.1f} min, {s.frames} frames published, CPU {cpu:.0f}% of one core")
    if len(rows) >= 4:
        first, last = rows[:2], rows[-2:]
        print(f"- RSS: {first[0][1]:.0f} MB after minute 1, {last[-1][1]:.0f} MB at the end")
        print(
            f"- latency p50/p99: minutes 1-2 {sum(r[3] for r in first) / 2:.1f}/{sum(r[4] for r in first) / 2:.1f} ms, "
            f"last 2 minutes {sum(r[3] for r in last) / 2:.1f}/{sum(r[4] for r in last) / 2:.1f} ms"
        )
    print(
        f"- faults injected {injected}, survived {survived} "
        f"({', '.join(f'{n} x{sw.count}' for n, sw, _ in faults)}); camera losses {s.camera_losses}, "
        f"detector errors {s.detector_errors}, detector restarts {s.detector_restarts}, "
        f"sink errors {s.sink_errors}, sink recoveries {s.sink_recoveries}"
    )
    print(
        f"- leak check: {checker.checked} published frames checked ({checker.faces} reference faces), "
        f"{checker.skipped} skipped (checker busy), leaks {len(checker.leaks)}"
    )


if __name__ == "__main__":
    main()

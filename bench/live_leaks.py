"""Leaks in live mode: every video_gt clip replayed at its own fps, paced, through the live pipeline.

    PYTHONPATH=. python bench/live_leaks.py --eval-dir ../shared/eval --scale 1280x720 --loops 2

`vcam eval` measures file mode, where every detection pass runs on every frame. Live, the scanner
has a frame budget, so this is the number a call actually gets. Each published frame is checked
off the hot path: a reference face whose fine detail still correlates >= 0.5 with the original is
a readable leak, and pixels changed away from every reference face (over 2% of the picture) make a
frame with a false hide, as `vcam eval` counts them in file mode (use `--scale native` for that: a
4:3 clip stretched to 16:9 stretches the hidden shapes past the reference boxes). Configs: BlazeFace
short range alone ("near", the seed's approach), every pass on the detection thread ("one tier", the
default before the efficiency work) and the shipped two-tier default, in the same run.
"""

from __future__ import annotations

import argparse
import threading
from pathlib import Path

from clips import ScaledLoop, scaled_boxes
from faults import LeakChecker

from vcam.detection.scan import ScanSettings
from vcam.evaluation.evaluate import SCANS, video_cases
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import LiveControls
from vcam.pipeline.live import LivePipeline, share_the_cores
from vcam.pipeline.sinks import NullSink

CONFIGS = {
    "near": AnonymizerSettings(scan=SCANS["near"]),
    "one tier": AnonymizerSettings(),
    "full-range fast tier": AnonymizerSettings(two_tiers=True, scan=ScanSettings(fast_near=False)),
    "default": AnonymizerSettings(two_tiers=True),
}


def replay(
    path: Path, gt: dict, size: tuple[int, int] | None, settings: AnonymizerSettings, loops: int
) -> tuple[LeakChecker, object]:
    size = size or (gt["width"], gt["height"])
    checker = LeakChecker(scaled_boxes(path, gt, size))
    source = ScaledLoop(path, size)
    seconds = loops * gt["frames"] / source.fps
    with Anonymizer(settings) as anon:
        anon.wait_ready(60)
        pipe = LivePipeline(lambda: source, NullSink(), anon, LiveControls(), on_output=checker)
        threading.Timer(seconds, pipe.stop).start()
        pipe.run()
    checker.close()
    return checker, pipe.stats()


def main() -> None:
    share_the_cores()  # as the service does
    p = argparse.ArgumentParser()
    p.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    p.add_argument("--scale", default="1280x720", help="WxH, or 'native' (each clip at its own size, unstretched)")
    p.add_argument("--loops", type=int, default=2)
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--videos", help="comma list of clip name parts (default: every clip of video_gt.json)")
    args = p.parse_args()
    size = None if args.scale == "native" else tuple(int(v) for v in args.scale.split("x"))
    shown = "each clip's own size" if size is None else f"{size[0]}x{size[1]}"
    print(f"live replay at {shown}, each clip {args.loops}x at its own fps\n")
    print(
        "| config | clip | face-frames checked | readable leaks | frames with false hides | unchecked frames | "
        "published | curtain | p99 ms |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    totals: dict[str, list[int]] = {}
    for name in args.configs.split(","):
        for path, gt in video_cases(args.eval_dir, only=args.videos.split(",") if args.videos else None):
            checker, st = replay(path, gt, size, CONFIGS[name], args.loops)
            t = totals.setdefault(name, [0, 0, 0, 0])
            t[0] += checker.faces
            t[1] += len(checker.leaks)
            t[2] += checker.false_hides
            t[3] += checker.checked
            clip = path.name.split("__")[-1].rsplit(".", 1)[0]
            print(
                f"| {name} | {clip} | {checker.faces} | {len(checker.leaks)} | "
                f"{checker.false_hides}/{checker.checked} | {checker.skipped} | {st.frames} | "
                f"{st.curtain_frames} | "
                f"{st.latency_p99_ms:.1f} |",
                flush=True,
            )
    print()
    for name, (faces, leaks, false_hides, checked) in totals.items():
        print(
            f"- {name}: {leaks} readable of {faces} face-frames ({leaks / max(1, faces):.2%}); "
            f"false hides in {false_hides} of {checked} checked frames"
        )


if __name__ == "__main__":
    main()

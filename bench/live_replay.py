"""Live replay benchmark: a real clip, paced at its fps, through the whole stage to a null sink.

    PYTHONPATH=. python bench/live_replay.py ../shared/eval/videos/intel-sv__eat.mkv --seconds 20 \
        --scale 1280x720,1920x1080 --plot docs/plots/latency.png

Prints output fps, capture-to-publish latency p50/p95/p99, detection time, CPU share of one core
and peak memory at steady state (after a 5 s warm-up) for each detection configuration (BlazeFace short
range "near", full range "far", every pass on the detection thread "one tier" (the default before the
efficiency work), the shipped fast tier with a sweep of the full-range model alone "fast tier only" (the
design's CPU floor), and the shipped two-tier default), in one run on this machine; optionally a latency
histogram.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import os
import resource
import threading
import time
from pathlib import Path

import cv2
from clips import ScaledLoop
from faults import busy_core

from vcam.detection.scan import ScanSettings
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.controls import ControlState, LiveControls
from vcam.pipeline.live import LivePipeline, share_the_cores
from vcam.pipeline.sinks import NullSink

CONFIGS = {
    "near": AnonymizerSettings(scan=ScanSettings(detection_range="near", tiles=False, crops=False, centerface=False)),
    "far": AnonymizerSettings(scan=ScanSettings(detection_range="far", tiles=False, crops=False, centerface=False)),
    "one tier": AnonymizerSettings(),
    "full-range fast tier": AnonymizerSettings(two_tiers=True, scan=ScanSettings(fast_near=False)),
    "default": AnonymizerSettings(two_tiers=True),
    # The floor of the shipped design: its fast tier on every frame, the sweep reduced to the full-range model
    # on the whole frame (no CenterFace, no tiles). Not private enough to ship; it shows what the sweep costs.
    "fast tier only": AnonymizerSettings(two_tiers=True, scan=ScanSettings(centerface=False, tiles=False)),
}
WARM_UP_S = 5.0
"""Figures are taken after this long, at steady state (the sweep thread loads its models meanwhile)."""


def replay(
    clip: Path,
    size: tuple[int, int],
    name: str,
    seconds: float,
    fps: float | None = None,
    style: str = "blur",
    shape: str = "mesh",
) -> dict:
    """One live replay; returns the figures of one table row plus the raw latencies (for the histogram)."""
    source = ScaledLoop(clip, size, fps)
    lat: list[float] = []
    det: list[float] = []
    steady = threading.Event()
    with Anonymizer(CONFIGS[name]) as anon:
        anon.wait_ready(60)

        def published(image, frame) -> None:
            if frame is not None and steady.is_set():
                lat.append(time.monotonic() - frame.t)
                det.append(anon_stats().detect_ms)

        controls = LiveControls(ControlState(style=style, shape=shape))
        pipe = LivePipeline(lambda: source, NullSink(), anon, controls, fps=source.fps, on_output=published)
        anon_stats = pipe.stats
        runner = threading.Thread(target=pipe.run)
        runner.start()
        time.sleep(WARM_UP_S)
        st0 = pipe.stats()
        steady.set()
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        time.sleep(seconds)
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        st = pipe.stats()
        pipe.stop()
        runner.join()
    lat.sort()
    det.sort()

    def pct(q: float) -> float:
        return 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    return {
        "fps": (st.frames - st0.frames) / (t1 - t0),
        "src": source.fps,
        "p50": pct(0.5),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "detect": det[len(det) // 2] if det else float("nan"),
        "curtain": f"{st.curtain_frames - st0.curtain_frames}/{st.frames - st0.frames}",
        "dropped": st.dropped_frames - st0.dropped_frames,
        "cpu": (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (t1 - t0) * 100,
        "peak_mb": r1.ru_maxrss / 1024,
        "latencies": lat,
    }


def main() -> None:
    share_the_cores()  # as the service does
    p = argparse.ArgumentParser()
    p.add_argument("clip", type=Path)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--scale", default="1280x720", help="comma list of WxH, e.g. 1280x720,1920x1080")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--plot", type=Path, help="write a latency histogram (PNG) of every run here")
    p.add_argument("--busy", action="store_true", help="keep one core busy in another process (a call app)")
    p.add_argument("--styles", default="blur", help="comma list of how faces are hidden (blur, ..., avatar)")
    p.add_argument("--shapes", default="mesh", help="comma list of hidden shapes (mesh, ellipse)")
    p.add_argument("--fps", type=float, help="play the clip at this rate instead of its own (a webcam's 30)")
    args = p.parse_args()
    busy = contextlib.ExitStack()
    atexit.register(busy.close)
    if args.busy:
        busy.enter_context(busy_core())
    print(
        f"clip {args.clip.name}, {args.seconds:.0f} s per run, cv2 {cv2.__version__}, {os.cpu_count()} cores"
        + (", one core kept busy by another process" if args.busy else "")
    )
    print(
        "| size | config | out fps | src fps | p50 ms | p95 ms | p99 ms | detect ms (median) | curtain | dropped "
        "| CPU % of one core | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    runs = {}
    for scale in args.scale.split(","):
        size = tuple(int(v) for v in scale.split("x"))
        runs_here = [
            (n, st, sh)
            for n in args.configs.split(",")
            for st in args.styles.split(",")
            for sh in args.shapes.split(",")
        ]
        for name, style, shape in runs_here:
            r = replay(args.clip, size, name, args.seconds, args.fps, style, shape)
            label = ", ".join([name] + [v for v in (style, shape) if v not in ("blur", "mesh")])
            runs[f"{scale} {label}"] = r["latencies"]
            print(
                f"| {scale} | {label} | {r['fps']:.1f} | {r['src']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                f"{r['p99']:.1f} | {r['detect']:.1f} | {r['curtain']} | {r['dropped']} | {r['cpu']:.0f} | "
                f"{r['peak_mb']:.0f} |",
                flush=True,
            )
    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(7, 4))
        for label, lat in runs.items():
            ax.hist([1000 * v for v in lat], bins=60, range=(0, 80), histtype="step", label=label)
        ax.axvline(1000 / 30, color="grey", linestyle=":", label="33 ms (one frame at 30 fps)")
        ax.set(xlabel="capture-to-publish latency (ms)", ylabel="frames")
        ax.legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(args.plot, dpi=110)
        print(f"plot: {args.plot}")


if __name__ == "__main__":
    main()

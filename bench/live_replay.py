"""Live replay benchmark: a real clip, paced at its fps, through the whole stage to a null sink.

    PYTHONPATH=. python bench/live_replay.py ../shared/eval/videos/intel-sv__eat.mkv --seconds 20 \
        --scale 1280x720,1920x1080 --plot docs/plots/latency.png

Prints output fps, capture-to-publish latency p50/p95/p99, detection time, CPU share of one core
and peak memory for each detection configuration (BlazeFace short range "near", full range "far",
and the shipped default), in one run on this machine; optionally a latency histogram.
"""

from __future__ import annotations

import argparse
import os
import resource
import threading
import time
from pathlib import Path

import cv2
from clips import ScaledLoop

from vcam.anonymizer import Anonymizer, AnonymizerSettings
from vcam.controls import LiveControls
from vcam.live import LivePipeline
from vcam.scan import ScanSettings
from vcam.sinks import NullSink

CONFIGS = {
    "near": ScanSettings(detection_range="near", tiles=False, crops=False, centerface=False),
    "far": ScanSettings(detection_range="far", tiles=False, crops=False, centerface=False),
    "default": ScanSettings(),
}


def replay(clip: Path, size: tuple[int, int], name: str, seconds: float) -> dict:
    """One live replay; returns the figures of one table row plus the raw latencies (for the histogram)."""
    source = ScaledLoop(clip, size)
    lat: list[float] = []
    det: list[float] = []
    with Anonymizer(AnonymizerSettings(scan=CONFIGS[name])) as anon:
        anon.wait_ready(60)

        def published(image, frame) -> None:
            if frame is not None:
                lat.append(time.monotonic() - frame.t)
                det.append(anon_stats().detect_ms)

        pipe = LivePipeline(lambda: source, NullSink(), anon, LiveControls(), fps=source.fps, on_output=published)
        anon_stats = pipe.stats
        threading.Timer(seconds, pipe.stop).start()
        r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        pipe.run()
        r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
        st = pipe.stats()
    lat.sort()
    det.sort()

    def pct(q: float) -> float:
        return 1000 * lat[min(len(lat) - 1, int(q * len(lat)))] if lat else float("nan")

    return {
        "fps": st.frames / (t1 - t0),
        "src": source.fps,
        "p50": pct(0.5),
        "p95": pct(0.95),
        "p99": pct(0.99),
        "detect": det[len(det) // 2] if det else float("nan"),
        "curtain": f"{st.curtain_frames}/{st.frames}",
        "cpu": (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (t1 - t0) * 100,
        "peak_mb": r1.ru_maxrss / 1024,
        "latencies": lat,
    }


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("clip", type=Path)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--scale", default="1280x720", help="comma list of WxH, e.g. 1280x720,1920x1080")
    p.add_argument("--configs", default=",".join(CONFIGS))
    p.add_argument("--plot", type=Path, help="write a latency histogram (PNG) of every run here")
    args = p.parse_args()
    print(f"clip {args.clip.name}, {args.seconds:.0f} s per run, cv2 {cv2.__version__}, {os.cpu_count()} cores")
    print(
        "| size | config | out fps | src fps | p50 ms | p95 ms | p99 ms | detect ms (median) | curtain "
        "| CPU % of one core | peak RSS MB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    runs = {}
    for scale in args.scale.split(","):
        size = tuple(int(v) for v in scale.split("x"))
        for name in args.configs.split(","):
            r = replay(args.clip, size, name, args.seconds)
            runs[f"{scale} {name}"] = r["latencies"]
            print(
                f"| {scale} | {name} | {r['fps']:.1f} | {r['src']:.1f} | {r['p50']:.1f} | {r['p95']:.1f} | "
                f"{r['p99']:.1f} | {r['detect']:.1f} | {r['curtain']} | {r['cpu']:.0f} | {r['peak_mb']:.0f} |",
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

"""Live replay benchmark: a real clip, paced at its fps, through the whole stage to a null sink.

    python bench/live_replay.py ../shared/eval/videos/intel-sv__eat.mkv --seconds 20 --scale 1280x720

Prints output fps, capture-to-publish latency p50/p95/p99, detection time and CPU share,
for each detection configuration (near / far / default), in one run on this machine.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from pathlib import Path

import cv2

from vcam.anonymizer import Anonymizer, AnonymizerSettings
from vcam.controls import LiveControls
from vcam.frames import Frame
from vcam.live import LivePipeline
from vcam.scan import ScanSettings
from vcam.sinks import NullSink
from vcam.sources import VideoFileSource

CONFIGS = {
    "near": ScanSettings(detection_range="near", tiles=False, crops=False, centerface=False),
    "far": ScanSettings(detection_range="far", tiles=False, crops=False, centerface=False),
    "default": ScanSettings(),
}


class Scaled:
    """A paced, looping file source resized to the benchmark's frame size (720p / 1080p replay)."""

    def __init__(self, path: Path, size: tuple[int, int]) -> None:
        self._src = VideoFileSource(path, loop=True, pace=True)
        self.fps, self.name, self._size = self._src.fps, str(path), size

    def read(self):
        f = self._src.read()
        return None if f is None else Frame(cv2.resize(f.image, self._size), f.t, f.index)

    def close(self):
        self._src.close()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("clip", type=Path)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--scale", default="1280x720")
    p.add_argument("--configs", default=",".join(CONFIGS))
    args = p.parse_args()
    size = tuple(int(v) for v in args.scale.split("x"))
    print(f"clip {args.clip.name} at {size[0]}x{size[1]}, {args.seconds:.0f} s each, cv2 {cv2.__version__}")
    print(
        "| config | out fps | src fps | p50 ms | p95 ms | p99 ms | detect ms (median) | curtain | CPU % of one core |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for name in args.configs.split(","):
        source = Scaled(args.clip, size)
        with Anonymizer(AnonymizerSettings(scan=CONFIGS[name])) as anon:
            anon.wait_ready(60)
            pipe = LivePipeline(lambda s=source: s, NullSink(), anon, LiveControls(), fps=source.fps)
            lat, det = [], []
            orig_publish = pipe._publish

            def publish(frame, interval, _orig=orig_publish, _pipe=pipe, lat=lat, det=det):
                _orig(frame, interval)
                lat.append(time.monotonic() - frame.t)
                det.append(_pipe.stats().detect_ms)

            pipe._publish = publish
            threading.Timer(args.seconds, pipe.stop).start()
            r0, t0 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
            pipe.run()
            r1, t1 = resource.getrusage(resource.RUSAGE_SELF), time.monotonic()
            st = pipe.stats()
        cpu = (r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime) / (t1 - t0) * 100
        lat.sort()
        det.sort()

        def pct(q, xs=lat):
            return 1000 * xs[min(len(xs) - 1, int(q * len(xs)))] if xs else float("nan")

        print(
            f"| {name} | {st.frames / (t1 - t0):.1f} | {source.fps:.1f} | {pct(0.5):.1f} | {pct(0.95):.1f} | "
            f"{pct(0.99):.1f} | {det[len(det) // 2] if det else float('nan'):.1f} | {st.curtain_frames}/{st.frames} "
            f"| {cpu:.0f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()

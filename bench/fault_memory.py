"""Memory across detector faults, with and without vcam's allocator limits (vcam/native_memory.py).

    PYTHONPATH=. python bench/fault_memory.py

Runs itself twice in fresh processes (the arena cap must be set before threads start): once as
`vcam run` does (arenas capped, trim after a detector is torn down), once without. Each run feeds
720p frames to the anonymizer and injects 5 detector failures and 5 detector hangs (2.5 s each,
hang limit 1 s), printing RSS after each.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np


def rss_mb() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) // 1024
    return -1


def child(limited: bool) -> None:
    from vcam import native_memory

    if limited:
        native_memory.limit_arenas()
    else:
        native_memory.trim = lambda: None  # what the anonymizer did before
    from faults import DetectorFaults

    from vcam.frames import Frame
    from vcam.pipeline import effects
    from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings

    image = np.random.default_rng(0).integers(0, 255, (720, 1280, 3), np.uint8)
    faults = DetectorFaults()
    row = [f"limits {'on' if limited else 'off'}"]
    with Anonymizer(AnonymizerSettings(hang_after_s=1.0), scanner_factory=faults.factory) as anonymizer:
        anonymizer.wait_ready(30)
        index = 0

        def feed(seconds: float) -> None:
            nonlocal index
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                frame = Frame(image, time.monotonic(), index)
                anonymizer.process(frame, effects.EffectSettings(), wait_s=0.026, budget_s=0.02)
                index += 1
                time.sleep(0.01)

        feed(3)
        row.append(str(rss_mb()))
        for switch in [faults.raising] * 5 + [faults.hanging] * 5:
            switch.pulse(2.5)
            feed(6)
            row.append(str(rss_mb()))
    print("| " + " | ".join(row) + " |", flush=True)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] in ("on", "off"):
        child(sys.argv[1] == "on")
        return
    print("RSS MB at start, then after each of 5 detector failures and 5 detector hangs\n")
    columns = [f"raise {i}" for i in range(1, 6)] + [f"hang {i}" for i in range(1, 6)]
    print("| run | start | " + " | ".join(columns) + " |")
    print("|---|" + "---|" * 11)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    for mode in ("on", "off"):
        out = subprocess.run([sys.executable, __file__, mode], env=env, capture_output=True, text=True)
        print("".join(line + "\n" for line in out.stdout.splitlines() if line.startswith("|")), end="", flush=True)


if __name__ == "__main__":
    main()

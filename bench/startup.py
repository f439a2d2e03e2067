"""Start-up time: from launching `vcam run` to the first anonymized frame it publishes (not a curtain).

    PYTHONPATH=. python bench/startup.py [--runs 5] [--input tests/data/videos/intel-sv__eat.mkv]

Timed from outside, as a user waits: the clock starts when the process is launched and stops when vcam
prints "anonymizing: first frame published" (vcam/pipeline/live.py prints it once, after the first frame that was
scanned and hidden went out). Until then the call app gets curtain frames. The input is a clip paced at its
fps through the same source interface as a webcam (no webcam here), the output is discarded.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MARK = "anonymizing: first frame published"


def one_run(clip: Path, home: Path) -> float:
    env = {**os.environ, "HOME": str(home), "DISPLAY": ""}
    cmd = [
        sys.executable,
        "-m",
        "vcam",
        "run",
        "--no-tray",
        "--input",
        str(clip),
        "--output",
        "null",
        "--seconds",
        "15",
    ]
    start = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        assert proc.stderr is not None
        for line in proc.stderr:
            if MARK in line:
                return time.monotonic() - start
        raise RuntimeError(f"vcam ended without publishing an anonymized frame (exit {proc.wait()})")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--input", type=Path, default=Path("tests/data/videos/intel-sv__eat.mkv"))
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as home:
        times = [one_run(args.input.resolve(), Path(home)) for _ in range(args.runs)]
    print(f"start-up to first anonymized frame, {args.runs} runs of `vcam run --input {args.input.name}`:")
    print(
        f"  median {statistics.median(times):.2f} s, min {min(times):.2f} s, max {max(times):.2f} s "
        f"({', '.join(f'{t:.2f}' for t in times)})"
    )


if __name__ == "__main__":
    main()

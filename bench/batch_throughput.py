"""`vcam anonymize` as a user runs it (the CLI, start-up included) with 1 and 2 local processes and on
Ray with 2 workers, against `deface` on the same files, in one run.

    PYTHONPATH=. python bench/batch_throughput.py --eval-dir ../shared/eval [--sizes 1280x720,1920x1080]

Inputs are made from a real clip of the evaluation set (hamilton, 275 frames, several people), scaled
to each size and written losslessly enough (MJPG, quality 95) into a temporary folder, plus a folder
of the five single-person clips at their own size (files side by side). Wall time and the CPU time of
the command and its children are measured from outside; frames/s = frames / wall time. The Ray rows
start a local Ray instance (`--ray`), whose start-up is part of the time, as for a user. Then, for
the cluster estimate: one chunk's cost and the bytes a chunk's result takes (what travels back to
the command per chunk). Not a test: it prints figures (docs/history/BENCHMARKS-2026-11.md, "Batches").
"""

from __future__ import annotations

import argparse
import os
import pickle
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

SINGLE = ("bird", "brother", "eat", "learn", "thanks")


def write_scaled(src: Path, dst: Path, size: tuple[int, int] | None) -> int:
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    writer = None
    n = 0
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        if size:
            frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        if writer is None:
            writer = cv2.VideoWriter(str(dst), cv2.VideoWriter_fourcc(*"MJPG"), fps, frame.shape[1::-1])
            writer.set(cv2.VIDEOWRITER_PROP_QUALITY, 95)
        writer.write(frame)
        n += 1
    cap.release()
    writer.release()
    return n


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        print(f"  ! {' '.join(cmd[:4])}...: exit {proc.returncode}: {proc.stderr.strip()[-300:]}", file=sys.stderr)
    return wall, cpu, proc.returncode


def chunk_figures(clip: Path, clip_frames: int) -> str:
    """One chunk of `clip` in this process: seconds, and the pickled size of its result."""
    from vcam.app.cli import anonymizer_settings
    from vcam.app.config import Config
    from vcam.pipeline.chunks import Chunk
    from vcam.pipeline.workers import detect_chunk

    settings = anonymizer_settings(Config(), live=False)
    detect_chunk(clip, Chunk(0, 5, 0), settings)  # models loaded outside the timing
    result = detect_chunk(clip, Chunk(30, 130, 30), settings)
    size = len(pickle.dumps(result))
    frames = len(result.frames)
    return (
        f"{clip.name}: one chunk of {frames} frames (+30 warm-up) took {result.seconds:.1f} s "
        f"({1000 * result.seconds / (frames + 30):.0f} ms/frame); its result is {size / 1024:.1f} KiB "
        f"({size / frames:.0f} bytes/frame) against {frames * os.path.getsize(clip) / 1024 / 1024 / clip_frames:.1f} "
        f"MiB of input video for those frames"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--eval-dir", type=Path, default=Path("../shared/eval"))
    p.add_argument("--sizes", default="1280x720,1920x1080")
    p.add_argument("--no-ray", action="store_true")
    args = p.parse_args()
    vcam = [sys.executable, "-m", "vcam", "anonymize"]
    deface = shutil.which("deface") or str(Path(sys.executable).parent / "deface")
    env = {**os.environ, "RAY_USAGE_STATS_ENABLED": "0"}
    runs: list[tuple[str, list[str]]] = [
        ("vcam, 1 process", [*vcam, "--workers", "1"]),
        ("vcam, 2 processes", [*vcam, "--workers", "2"]),
    ]
    if not args.no_ray:
        runs.append(("vcam, Ray (local, 2 workers)", [*vcam, "--workers", "2", "--ray"]))
    have_deface = Path(deface).exists()
    with tempfile.TemporaryDirectory(prefix="vcam-batch-") as tmp:
        work = Path(tmp)
        cases: list[tuple[str, Path, int]] = []
        for size in args.sizes.split(","):
            w, h = (int(v) for v in size.split("x"))
            clip = work / f"hamilton_{size}.avi"
            n = write_scaled(args.eval_dir / "videos" / "facerec__short_hamilton_clip.mp4", clip, (w, h))
            cases.append((f"hamilton at {size} ({n} frames)", clip, n))
        folder = work / "single"
        folder.mkdir()
        videos = args.eval_dir / "videos"
        total = sum(write_scaled(videos / f"intel-sv__{c}.mkv", folder / f"{c}.avi", None) for c in SINGLE)
        cases.append((f"folder of 5 single-person clips, 640x480 ({total} frames)", folder, total))
        print(f"{os.cpu_count()} cores, cv2 {cv2.__version__}\n")
        print("| input | command | wall s | frames/s | CPU s | vs deface |")
        print("|---|---|---|---|---|---|")
        for label, path, frames in cases:
            base = None
            rows = []
            if have_deface:
                out = work / "deface_out"
                out.mkdir(exist_ok=True)
                inputs = sorted(path.iterdir()) if path.is_dir() else [path]
                start_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                for item in inputs:  # deface takes files; one call per file, as a user would loop
                    timed([deface, str(item), "-o", str(out / (item.stem + ".mp4"))], env)
                wall = time.perf_counter() - start
                end_cpu = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = end_cpu.ru_utime - start_cpu.ru_utime + end_cpu.ru_stime - start_cpu.ru_stime
                base = frames / wall
                rows.append(("deface 1.5 (default)", wall, cpu))
            for name, cmd in runs:
                out = work / "out"
                shutil.rmtree(out, ignore_errors=True)
                wall, cpu, rc = timed([*cmd, str(path), "-o", str(out) + os.sep], env)
                rows.append((name if rc == 0 else f"{name}: FAILED (exit {rc})", wall, cpu))
            for name, wall, cpu in rows:
                ratio = f"{frames / wall / base:.2f}x" if base else "n/a"
                print(f"| {label} | {name} | {wall:.1f} | {frames / wall:.1f} | {cpu:.1f} | {ratio} |", flush=True)
        print()
        for _label, path, frames in cases[:-1]:
            print(chunk_figures(path, frames))


if __name__ == "__main__":
    main()

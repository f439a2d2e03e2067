"""`vcam anonymize` on files and folder trees: every core, long videos in chunks, a report, resume.

The parent plans the tasks (one per image, one per chunk of a video), hands them to a runner (this
process, a local pool, Ray) a few at a time, and walks the files in order: an image is done when its
task is; a video is decoded once more here, each frame hidden with what its chunk's worker decided
and written, so the output has the input's frames and timing whichever runner ran the detection.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

import cv2

import vcam
from vcam.atomic_write import write_atomic
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import AnonymizerSettings
from vcam.pipeline.chunks import Chunk, ChunkResult, ChunkSettings, frame_checksum, plan_chunks
from vcam.pipeline.curtain import curtain
from vcam.pipeline.filemode import FileResult, collect_inputs, mux_audio, output_for
from vcam.pipeline.meshing import FILES as MESH_FILES
from vcam.pipeline.meshing import MeshStage
from vcam.pipeline.runners import InlineRunner, PoolRunner, RayRunner, Runner
from vcam.pipeline.sinks import SinkError, VideoFileSink
from vcam.pipeline.sources import IMAGE_SUFFIXES, SourceError, VideoFileSource
from vcam.pipeline.workers import detect_chunk, image_task, init_process

STATUS_UNCHECKED = "Privacy curtain: frame not checked"
"""A frame the parent decoded that no worker returned a decision for (should not happen: fail closed)."""


@dataclass(frozen=True, slots=True)
class BatchOptions:
    workers: int = field(default_factory=lambda: os.cpu_count() or 1)
    """Local worker processes (Ray: the CPUs of a local instance)."""
    resume: bool = False
    """Skip inputs whose output exists: outputs appear under their name only when complete."""
    report: Path | None = None
    keep_audio: bool = False
    ray: str | None = None
    """None: no Ray. "": start a local Ray instance. Otherwise the address of a running cluster."""
    chunks: ChunkSettings = field(default_factory=ChunkSettings)


@dataclass(frozen=True, slots=True)
class BatchResult:
    files: list[FileResult]
    interrupted: bool
    runner: str
    seconds: float


class SeamMismatch(Exception):
    """A worker's frame is not the parent's frame at that index (a seek that landed elsewhere)."""


@dataclass
class _Item:
    source: Path
    output: Path
    video: bool
    frames: int
    """Claimed by the container (0: it does not say); 1 for an image."""
    fps: float = 30.0
    chunks: list[Chunk] = field(default_factory=list)
    futures: deque[Future] = field(default_factory=deque)
    """Submitted and not yet collected, in order."""


class _Progress:
    """One line on stderr (a terminal only): files, frames, files/s and the time left."""

    def __init__(self, files: int, frames: int) -> None:
        self.files, self.frames = files, max(frames, 1)
        self.files_done = self.frames_done = 0
        self._start = time.monotonic()
        self._shown = 0.0
        self._on = sys.stderr.isatty()

    def add(self, *, frames: int = 0, files: int = 0) -> None:
        self.frames_done += frames
        self.files_done += files
        now = time.monotonic()
        if not self._on or (now - self._shown < 0.2 and not files):
            return
        self._shown = now
        elapsed = now - self._start
        rate = self.frames_done / elapsed if elapsed > 0 else 0.0
        left = (self.frames - self.frames_done) / rate if rate > 0 else 0.0
        filled = int(30 * min(self.frames_done / self.frames, 1.0))
        sys.stderr.write(
            f"\r[{'#' * filled}{'.' * (30 - filled)}] {self.files_done}/{self.files} files "
            f"{self.files_done / elapsed if elapsed > 0 else 0:.2f} files/s  {rate:.1f} frames/s  "
            f"{int(left) // 60}:{int(left) % 60:02d} left "
        )
        sys.stderr.flush()

    def end(self) -> None:
        if self._on:
            sys.stderr.write("\n")


def output_problem(source: Path, out: Path) -> str | None:
    """What is wrong with an output name, found before any work is spent on the file."""
    if out.is_dir():
        return f"{out}: is a folder; name a file, or give several inputs to fill a folder"
    if source.suffix.lower() in IMAGE_SUFFIXES:
        # Only the extension decides, and OpenCV must never see a non-UTF-8 name (it crashes on one).
        suffix = out.suffix if out.suffix.isascii() else ""
        if not suffix or not cv2.haveImageWriter(f"probe{suffix}"):
            return f"{out}: cannot write an image with this extension (try .png or .jpg, or end a folder with /)"
    elif not out.suffix:
        return f"{out}: no extension; name a video (.mp4, .avi) or a folder (end it with /)"
    return None


def make_runner(options: BatchOptions, tasks: int) -> Runner:
    """Ray if asked; else this process for a single task or worker, a local pool otherwise."""
    if options.ray is not None:
        return RayRunner(options.ray or None, options.workers)
    workers = max(1, min(options.workers, tasks))
    return InlineRunner() if workers == 1 else PoolRunner(workers, init_process)


def anonymize_batch(
    inputs: list[Path],
    output: Path | None,
    settings: AnonymizerSettings,
    effect: effects.EffectSettings,
    options: BatchOptions | None = None,
    *,
    say: Callable[[str], None] = print,
    runner: Runner | None = None,
) -> BatchResult:
    """Anonymize every input; one result per file, failures included. Ctrl-C stops the workers, keeps
    every finished output, leaves no partial one, and returns with `interrupted` set."""
    options = options or BatchOptions()
    started = time.perf_counter()
    files, errors = collect_inputs(inputs)
    many = len(inputs) > 1 or any(p.is_dir() for p in inputs)
    results: list[FileResult] = [FileResult(path, None, 0, 0, message) for path, message in errors]
    items: list[_Item] = []
    for path, root in files:
        out = output_for(path, output, many, root)
        problem = output_problem(path, out)
        if problem:
            results.append(FileResult(path, None, 0, 0, problem))
            say(f"error: {problem}")
        elif options.resume and out.is_file():
            results.append(FileResult(path, out, 0, 0, skipped=True))
            say(f"{path} -> {out}: already complete, skipped (--resume)")
        elif path.suffix.lower() in IMAGE_SUFFIXES:
            items.append(_Item(path, out, False, 1))
        else:
            try:
                source = VideoFileSource(path)
            except SourceError as exc:
                results.append(FileResult(path, None, 0, 0, str(exc)))
                say(f"error: {exc}")
                continue
            items.append(_Item(path, out, True, source.frame_count, source.fps))
            source.close()
    tasks = sum(
        len(plan_chunks(item.frames, item.fps, options.workers, options.chunks)) if item.video else 1 for item in items
    )
    if runner is None:
        runner = make_runner(options, tasks) if items else InlineRunner()
    workers = runner.workers
    for item in items:
        if item.video:
            item.chunks = plan_chunks(item.frames, item.fps, workers, options.chunks)
    batch = _Batch(runner, workers, settings, effect, options, say, items)
    interrupted = False
    try:
        results.extend(batch.run())
    except KeyboardInterrupt:
        interrupted = True
        results.extend(batch.done)
    finally:
        runner.stop(cancel=interrupted)
        batch.progress.end()
    for _path, message in errors:
        say(f"error: {message}")
    outcome = BatchResult(results, interrupted, runner.name, time.perf_counter() - started)
    if options.report:
        write_report(options.report, outcome, settings, effect, workers)
    return outcome


class _Batch:
    """Submits tasks a few ahead of the file being written, and writes the files in order."""

    def __init__(
        self,
        runner: Runner,
        workers: int,
        settings: AnonymizerSettings,
        effect: effects.EffectSettings,
        options: BatchOptions,
        say: Callable[[str], None],
        items: list[_Item],
    ) -> None:
        self.runner, self.settings, self.effect, self.options, self.say = runner, settings, effect, options, say
        self.items = items
        self.window = 1 if isinstance(runner, InlineRunner) else 2 * workers
        """Tasks in flight: enough to keep every worker busy while the parent writes, few enough that
        the per-frame decisions waiting to be written stay small."""
        self._queue: deque[tuple[_Item, Chunk | None]] = deque(
            (item, chunk) for item in items for chunk in (item.chunks if item.video else [None])
        )
        self._in_flight = 0
        self.done: list[FileResult] = []
        self.progress = _Progress(len(items), sum(item.frames for item in items))

    def _fill(self) -> None:
        while self._queue and self._in_flight < self.window:
            item, chunk = self._queue.popleft()
            if chunk is None:
                future = self.runner.submit(image_task, item.source, item.output, self.settings, self.effect)
            else:
                future = self.runner.submit(detect_chunk, item.source, chunk, self.settings)
            item.futures.append(future)
            self._in_flight += 1

    def _take(self, item: _Item) -> object:
        """The result of this item's next task (its exception raised here)."""
        future = item.futures.popleft()
        try:
            return future.result()
        finally:
            self._in_flight -= 1
            self._fill()

    def run(self) -> list[FileResult]:
        self._fill()
        for item in self.items:
            try:
                if item.video:
                    result = self._video(item)
                else:
                    result = self._take(item)
                    self.progress.add(frames=1)
            except (SourceError, SinkError, SeamMismatch) as exc:
                self._drain(item)
                result = FileResult(item.source, None, 0, 0, str(exc))
            except Exception as exc:  # the worker's error on this file (a codec, memory): this file only
                self._drain(item)
                detail = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
                result = FileResult(item.source, None, 0, 0, f"{item.source}: {type(exc).__name__}: {detail}")
            self._announce(result)
            self.done.append(result)
            self.progress.add(files=1)
        return self.done

    def _drain(self, item: _Item) -> None:
        """After a failure, collect (and drop) this file's remaining tasks so the window stays right."""
        while item.futures:
            if item.futures[0].cancel():  # not started yet: no need to wait for it
                item.futures.popleft()
                self._in_flight -= 1
                continue
            try:
                self._take(item)
            except Exception:
                pass
        while self._queue and self._queue[0][0] is item:
            self._queue.popleft()

    def _announce(self, result: FileResult) -> None:
        if result.error:
            self.say(f"error: {result.error}")
            return
        note = f" ({result.curtain_frames} curtain frames)" if result.curtain_frames else ""
        self.say(f"{result.source} -> {result.output}: {result.frames} frame(s){note}")
        if result.warning:
            self.say(f"warning: {result.source}: {result.warning}")

    def _video(self, item: _Item) -> FileResult:
        try:
            result = self._write_video(item)
        except SeamMismatch:
            # This file's seeks are not exact (variable frame rate?): run it again in one piece.
            self._drain(item)
            item.futures.append(self.runner.submit(detect_chunk, item.source, Chunk(0, None, 0), self.settings))
            self._in_flight += 1
            item.chunks = [Chunk(0, None, 0)]
            result = self._write_video(item)
        if self.options.keep_audio:
            mux_audio(item.source, item.output)
        return result

    def _write_video(self, item: _Item) -> FileResult:
        source = VideoFileSource(item.source)
        width, height = source.size
        try:
            sink = VideoFileSink(item.output, width, height, source.fps)
        except SinkError:
            source.close()
            raise
        started = time.perf_counter()
        frames = curtains = faces = 0
        worker_s = wait_s = 0.0
        ok = False
        meshes = MeshStage(MESH_FILES)
        try:
            for _ in item.chunks:
                waited = time.perf_counter()
                chunk: ChunkResult = self._take(item)  # type: ignore[assignment]
                wait_s += time.perf_counter() - waited
                worker_s += chunk.seconds
                for decided in chunk.frames:
                    read = source.read()
                    if read is None:
                        break
                    if decided.checksum != frame_checksum(read.image):
                        raise SeamMismatch(f"{item.source}: frame {frames} differs from its worker's copy")
                    if decided.curtain:
                        sink.send(curtain(read.image, decided.curtain))
                        curtains += 1
                    else:
                        sink.send(meshes.hide(read.image, decided.faces, self.effect, frames / max(source.fps, 1.0))[0])
                        faces += len(decided.faces)
                    frames += 1
                    self.progress.add(frames=1)
            while (read := source.read()) is not None:  # decoded here, decided nowhere: fail closed
                sink.send(curtain(read.image, STATUS_UNCHECKED))
                curtains += 1
                frames += 1
            ok = True
        finally:
            meshes.close()
            source.close()
            sink.close(keep=ok)
        warnings = []
        if item.frames and frames < item.frames * 0.98:
            warnings.append(f"only {frames} of {item.frames} frames could be decoded (truncated or damaged file?)")
        if sink.resized:
            warnings.append(
                f"{width}x{height} written as {sink.size[0]}x{sink.size[1]} (video encoders need even sizes)"
            )
        warning = "; ".join(warnings) or None
        # Time spent on this file: the workers' detection plus this process's decoding and writing.
        seconds = worker_s + time.perf_counter() - started - wait_s
        return FileResult(
            item.source,
            item.output,
            frames,
            curtains,
            warning=warning,
            faces=faces,
            seconds=seconds,
            chunks=len(item.chunks),
        )


def write_report(
    path: Path, outcome: BatchResult, settings: AnonymizerSettings, effect: effects.EffectSettings, workers: int
) -> None:
    """The JSON report: per file what was done, plus the settings and version that did it."""
    report = {
        "vcam_version": vcam.__version__,
        "opencv": cv2.__version__,
        "runner": outcome.runner,
        "workers": workers,
        "seconds": round(outcome.seconds, 3),
        "interrupted": outcome.interrupted,
        "settings": {"anonymizer": dataclasses.asdict(settings), "effect": dataclasses.asdict(effect)},
        "files": [
            {
                "input": str(r.source),
                "output": str(r.output) if r.output else None,
                "status": "failed" if r.error else "skipped" if r.skipped else "done",
                "frames": r.frames,
                "faces": r.faces,
                "curtain_frames": r.curtain_frames,
                "chunks": r.chunks,
                "seconds": round(r.seconds, 3),
                "error": r.error,
                "warning": r.warning,
            }
            for r in outcome.files
        ],
    }
    write_atomic(Path(path), (json.dumps(report, indent=2, default=str) + "\n").encode())

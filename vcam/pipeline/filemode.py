"""`vcam anonymize`: images, videos and folders to anonymized copies (like `deface`).

Each output is written to a temporary name and renamed on success, so a
failure never leaves a half file; one bad file does not stop a batch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2

from vcam.frames import Frame
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.sinks import SinkError, VideoFileSink
from vcam.pipeline.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES, SourceError, VideoFileSource, read_image


@dataclass(frozen=True)
class FileResult:
    source: Path
    output: Path | None
    frames: int
    curtain_frames: int
    error: str | None = None
    warning: str | None = None


def collect_inputs(inputs: list[Path]) -> tuple[list[Path], list[tuple[Path, str]]]:
    """Expand folders (recursively) into their image and video files; (path, problem) for what is not usable."""
    files, errors = [], []
    for item in inputs:
        if item.is_dir():
            found = sorted(
                p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
            if not found:
                errors.append((item, f"{item}: folder has no image or video files"))
            files.extend(found)
        elif item.is_file():
            files.append(item)
        else:
            errors.append((item, f"{item}: no such file or folder"))
    return files, errors


def output_for(source: Path, output: Path | None, many: bool) -> Path:
    """Where an input's result goes: next to it as NAME_anonymized.EXT, into a folder, or exactly `output`."""
    suffix = source.suffix.lower()
    if suffix == ".gif" or suffix in (".mkv", ".webm", ".wmv", ".mpg", ".mpeg", ".m4v", ".mov"):
        suffix = ".mp4"
    name = f"{source.stem}_anonymized{suffix}"
    if output is None:
        return source.with_name(name)
    if many or output.is_dir() or str(output).endswith(os.sep):
        return output / name
    return output


def anonymize_image(path: Path, out: Path, anonymizer: Anonymizer, effect: effects.EffectSettings) -> FileResult:
    image = read_image(path)
    result = anonymizer.process(Frame(image, 0.0, 0), effect)
    anonymizer.reset()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkError(f"{out}: cannot create the folder ({exc.strerror})") from exc
    ok, data = cv2.imencode(out.suffix or ".png", result.image)
    if not ok:
        raise SourceError(f"{out}: cannot encode an image with this extension")
    tmp = out.with_name(f".{out.name}.partial")
    try:
        data.tofile(str(tmp))
        os.replace(tmp, out)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise SourceError(f"{out}: cannot write ({exc.strerror})") from exc
    return FileResult(path, out, 1, int(result.curtain is not None))


def anonymize_video(
    path: Path,
    out: Path,
    anonymizer: Anonymizer,
    effect: effects.EffectSettings,
    *,
    keep_audio: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> FileResult:
    source = VideoFileSource(path)
    width, height = source.size
    total = source.frame_count
    try:
        sink = VideoFileSink(out, width, height, source.fps)
    except SinkError:
        source.close()
        raise
    frames = curtains = 0
    ok = False
    try:
        while (frame := source.read()) is not None:
            frame = Frame(frame.image, frames / source.fps, frames)
            result = anonymizer.process(frame, effect)
            sink.send(result.image)
            frames += 1
            curtains += int(result.curtain is not None)
            if progress:
                progress(frames, total)
        ok = True
    finally:
        source.close()
        sink.close(keep=ok)
        anonymizer.reset()
    if keep_audio:
        mux_audio(path, out)
    warnings = []
    if total and frames < total * 0.98:
        warnings.append(f"only {frames} of {total} frames could be decoded (truncated or damaged file?)")
    if sink.resized:
        warnings.append(f"{width}x{height} written as {sink.size[0]}x{sink.size[1]} (video encoders need even sizes)")
    warning = "; ".join(warnings) or None
    return FileResult(path, out, frames, curtains, warning=warning)


def mux_audio(original: Path, video: Path) -> None:
    """Copy the original's audio track into `video` with ffmpeg (from imageio-ffmpeg, or on PATH)."""
    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise SinkError("--keep-audio needs ffmpeg: pip install 'vcam[audio]' (imageio-ffmpeg) or install ffmpeg")
    tmp = video.with_name(f".{video.stem}.audio{video.suffix}")
    cmd = [
        ffmpeg,
        "-v",
        "error",
        "-y",
        "-i",
        str(video),
        "-i",
        str(original),
        "-map",
        "0:v:0",
        "-map",
        "1:a?",
        "-c:v",
        "copy",
        "-c:a",
        "aac",
        "-shortest",
        str(tmp),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        tmp.unlink(missing_ok=True)
        raise SinkError(f"{original}: could not copy the audio ({proc.stderr.strip()[:200]})")
    os.replace(tmp, video)


def progress_bar(name: str) -> Callable[[int, int], None]:
    def show(done: int, total: int) -> None:
        if not sys.stderr.isatty():
            return
        if total:
            filled = int(30 * done / total)
            sys.stderr.write(f"\r{name[:40]:40} [{'#' * filled}{'.' * (30 - filled)}] {done}/{total}")
        else:
            sys.stderr.write(f"\r{name[:40]:40} {done} frames")
        sys.stderr.flush()

    return show


def anonymize_files(
    inputs: list[Path],
    output: Path | None,
    settings: AnonymizerSettings,
    effect: effects.EffectSettings,
    *,
    keep_audio: bool = False,
    report: Callable[[str], None] = print,
) -> list[FileResult]:
    """Anonymize every input; returns one result per file (with `error` set for the ones that failed)."""
    files, errors = collect_inputs(inputs)
    results = [FileResult(path, None, 0, 0, message) for path, message in errors]
    many = len(inputs) > 1 or any(p.is_dir() for p in inputs)
    with Anonymizer(settings) as anonymizer:
        for path in files:
            out = output_for(path, output, many)
            try:
                if path.suffix.lower() in IMAGE_SUFFIXES:
                    res = anonymize_image(path, out, anonymizer, effect)
                else:
                    res = anonymize_video(
                        path, out, anonymizer, effect, keep_audio=keep_audio, progress=progress_bar(path.name)
                    )
                    if sys.stderr.isatty():
                        sys.stderr.write("\n")
                note = f" ({res.curtain_frames} curtain frames)" if res.curtain_frames else ""
                report(f"{path} -> {out}: {res.frames} frame(s){note}")
                if res.warning:
                    report(f"warning: {path}: {res.warning}")
                results.append(res)
            except (SourceError, SinkError) as exc:
                report(f"error: {exc}")
                results.append(FileResult(path, None, 0, 0, str(exc)))
            except (OSError, MemoryError, ValueError, cv2.error) as exc:
                # Anything else this file provokes (out of memory on a giant image, an OpenCV codec error)
                # fails this file only; the batch goes on.
                message = f"{path}: {type(exc).__name__}: {str(exc).strip().splitlines()[-1] if str(exc) else ''}"
                report(f"error: {message}")
                results.append(FileResult(path, None, 0, 0, message))
    for _path, message in errors:
        report(f"error: {message}")
    return results

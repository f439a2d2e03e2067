"""`vcam anonymize`, one file at a time: what to anonymize, where the result goes, writing an image,
copying the audio. The batch (workers, chunks, report, resume) is `vcam.pipeline.batch`.

Each output is written to a temporary name and renamed on success, so a failure or an interrupt
never leaves a half file, and an output under its final name is complete (what `--resume` trusts).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import cv2

from vcam.atomic_write import write_atomic
from vcam.frames import Frame
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import Anonymizer
from vcam.pipeline.sinks import SinkError
from vcam.pipeline.sources import IMAGE_SUFFIXES, VIDEO_SUFFIXES, SourceError, read_image


@dataclass(frozen=True)
class FileResult:
    source: Path
    output: Path | None
    frames: int
    curtain_frames: int
    error: str | None = None
    warning: str | None = None
    faces: int = 0
    """Faces hidden, summed over the frames."""
    seconds: float = 0.0
    skipped: bool = False
    """--resume found the output complete and left it."""
    chunks: int = 1
    """Pieces a video was cut into for the workers."""


def collect_inputs(inputs: list[Path]) -> tuple[list[tuple[Path, Path | None]], list[tuple[Path, str]]]:
    """Expand folders (recursively) into their image and video files, each with the folder it was
    found under (None for a file given by name); (path, problem) for what is not usable."""
    files: list[tuple[Path, Path | None]] = []
    errors = []
    for item in inputs:
        if item.is_dir():
            found = sorted(
                p for p in item.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES
            )
            if not found:
                errors.append((item, f"{item}: folder has no image or video files"))
            files.extend((p, item) for p in found)
        elif item.is_file():
            files.append((item, None))
        else:
            errors.append((item, f"{item}: no such file or folder"))
    return files, errors


def output_for(source: Path, output: Path | None, many: bool, root: Path | None = None) -> Path:
    """Where an input's result goes: next to it as NAME_anonymized.EXT, into a folder (mirroring the
    tree under `root`, the folder it was found in), or exactly `output`."""
    suffix = source.suffix.lower()
    if suffix == ".gif" or suffix in (".mkv", ".webm", ".wmv", ".mpg", ".mpeg", ".m4v", ".mov"):
        suffix = ".mp4"
    name = f"{source.stem}_anonymized{suffix}"
    if output is None:
        return source.with_name(name)
    if many or output.is_dir() or str(output).endswith(os.sep):
        sub = source.parent.relative_to(root) if root is not None else Path()
        return output / sub / name
    return output


def anonymize_image(path: Path, out: Path, anonymizer: Anonymizer, effect: effects.EffectSettings) -> FileResult:
    image = read_image(path)
    result = anonymizer.process(Frame(image, 0.0, 0, still=True), effect)
    anonymizer.reset()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise SinkError(f"{out}: cannot create the folder ({exc.strerror})") from exc
    ok, data = cv2.imencode(out.suffix or ".png", result.image)
    if not ok:
        raise SourceError(f"{out}: cannot encode an image with this extension")
    try:
        write_atomic(out, data.tobytes())
    except OSError as exc:
        raise SourceError(f"{out}: cannot write ({exc.strerror})") from exc
    return FileResult(path, out, 1, int(result.curtain is not None), faces=len(result.faces))


def mux_audio(original: Path, video: Path) -> None:
    """Copy the original's audio track into `video` with ffmpeg (from imageio-ffmpeg, or on PATH)."""
    try:
        import imageio_ffmpeg

        ffmpeg = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError):
        ffmpeg = shutil.which("ffmpeg")
    if not ffmpeg:
        raise SinkError(
            "--keep-audio needs ffmpeg: pip install 'face-anonymizer-camera[audio]' (imageio-ffmpeg) or install ffmpeg"
        )
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

"""Where frames come from: a webcam, a video file or an image, all behind one interface.

Every source returns `Frame`s already normalised (BGR uint8 HxWx3), so
grayscale cameras and RGBA PNGs stop here.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, Protocol

import cv2
import numpy as np

from vcam.frames import Frame, to_bgr

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"}
VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".gif", ".m4v", ".mpg", ".mpeg", ".wmv"}


class SourceError(Exception):
    """A source that cannot be opened or read; the message names it and says what to do."""


class Source(Protocol):
    """A stream of frames.

    Contract: `read` returns the next `Frame`, or None at the end of a finite
    source; it raises `SourceError` when a device fails (the live loop
    retries). `fps` is the nominal rate. `close` is called exactly once.
    """

    name: str
    fps: float
    recorded: bool
    """A file rather than a camera: its frames wait for the stage, so playing starts once the models are loaded."""

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) of the frames `read` will return."""
        ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


def opencv_can_take(name: str) -> bool:
    """False for names that are not valid UTF-8 (Linux allows them; OpenCV's video I/O segfaults on them)."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


@contextlib.contextmanager
def opencv_path(path: Path) -> Iterator[str]:
    """A name OpenCV's video I/O can open. It crashes (segfault) on names that are not valid UTF-8, which
    Linux allows; those are opened through /proc/self/fd (OpenCV opens its own descriptor, so ours is
    closed right after), elsewhere refused with a clear message."""
    name = str(path)
    if opencv_can_take(name):
        yield name
        return
    if not Path("/proc/self/fd").is_dir():
        raise SourceError(f"{path}: OpenCV needs a UTF-8 file name for videos; rename the file")
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror})") from exc
    try:
        yield f"/proc/self/fd/{fd}"
    finally:
        os.close(fd)


def normalise(image: np.ndarray) -> np.ndarray:
    """BGR uint8 HxWx3, keeping the size (sinks that need even sizes pad for themselves)."""
    return to_bgr(image)


def read_image(path: Path) -> np.ndarray:
    """Read an image file (any channels, 8 or 16 bit, non-ASCII paths) as BGR; SourceError if unreadable."""
    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise SourceError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data.size else None
    if image is None:
        raise SourceError(f"{path}: not a readable image (empty, corrupt or unsupported format)")
    try:
        return to_bgr(image)
    except ValueError as exc:
        raise SourceError(f"{path}: {exc}") from exc


@dataclass
class VideoFileSource:
    """Frames of a video file; `loop` restarts at the end, `pace` plays at the file's fps (live replay)."""

    path: Path
    loop: bool = False
    pace: bool = False
    recorded: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = str(self.path)
        if not self.path.is_file():
            raise SourceError(f"{self.path}: no such file")
        self._cap = self._open()
        fps = self._cap.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1.0 <= fps <= 240.0 else 30.0
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"{self.path}: no video frames could be decoded (corrupt or unsupported file)")
        self._pending: np.ndarray | None = first
        self._index = 0
        self._next_due: float | None = None

    def _open(self) -> cv2.VideoCapture:
        with opencv_path(self.path) as name:
            cap = cv2.VideoCapture(name)
        if not cap.isOpened():
            raise SourceError(f"{self.path}: cannot open as video (corrupt or unsupported format)")
        return cap

    @property
    def size(self) -> tuple[int, int]:
        return int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    @property
    def frame_count(self) -> int:
        """Frames the container claims (0 when it does not say); a truncated file decodes fewer."""
        return max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT)))

    def read(self) -> Frame | None:
        if self.pace:
            # Wait for the frame's time first and decode it then, as a camera's frame is decoded when it
            # arrives. Decoded ahead, a 720p MJPG frame (~5 ms) was decoded while the anonymizer worked on
            # the previous one, on the core the fast tier's second thread needs.
            now = time.monotonic()
            if self._next_due is None:
                self._next_due = now
            if self._next_due > now:
                time.sleep(self._next_due - now)
            self._next_due = max(self._next_due + 1.0 / self.fps, time.monotonic() - 1.0 / self.fps)
        if self._pending is not None:
            image, self._pending = self._pending, None
        else:
            ok, image = self._cap.read()
            if not ok or image is None:
                if not self.loop or self._index == 0:
                    return None
                self._cap.release()
                self._cap = self._open()
                ok, image = self._cap.read()
                if not ok:
                    return None
        frame = Frame(normalise(image), time.monotonic(), self._index)
        self._index += 1
        return frame

    def restart_clock(self) -> None:
        """Pace the next frame one frame interval from now: the stage held the first one back to check it in
        full (`LivePipeline`), and catching up would drop the frames in between."""
        self._next_due = time.monotonic() + 1.0 / self.fps if self.pace else None

    def seek(self, index: int) -> None:
        """Continue at frame `index`. OpenCV's FFmpeg backend seeks to the keyframe before it and decodes
        forward, so the frames match a straight read for constant-frame-rate files; `vcam anonymize`
        still compares a thumbnail of every frame at its chunks' seams (vcam.pipeline.chunks)."""
        self._pending = None
        if index and not self._cap.set(cv2.CAP_PROP_POS_FRAMES, index):
            raise SourceError(f"{self.path}: cannot seek to frame {index}")
        if not index:
            self._cap.release()
            self._cap = self._open()
        self._index = index

    def close(self) -> None:
        self._cap.release()


@dataclass
class ImageSource:
    """One still image served as a stream (`frames` times, or forever when None), paced at `fps`."""

    path: Path
    fps: float = 30.0
    frames: int | None = 1
    pace: bool = False
    recorded: ClassVar[bool] = True

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = str(self.path)
        self._image = normalise(read_image(self.path))
        self._index = 0

    @property
    def size(self) -> tuple[int, int]:
        return self._image.shape[1], self._image.shape[0]

    def read(self) -> Frame | None:
        if self.frames is not None and self._index >= self.frames:
            return None
        if self.pace and self._index:
            time.sleep(1.0 / self.fps)
        frame = Frame(self._image.copy(), time.monotonic(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        pass


@dataclass
class CameraSource:
    """A webcam by index or device path, asking for `width`x`height` at `fps`."""

    device: int | str = 0
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    recorded: ClassVar[bool] = False

    def __post_init__(self) -> None:
        self.name = f"camera {self.device}"
        self._index = 0
        self._cap = self._open()

    def _open(self) -> cv2.VideoCapture:
        cap = cv2.VideoCapture(self.device)
        if not cap.isOpened():
            cap.release()
            raise SourceError(
                f"no webcam at {self.device!r} (missing, unplugged or in use by another app). "
                "List cameras with `vcam doctor`, pick one with --camera N, or try the demo: `vcam run --demo`"
            )
        cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
        cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        cap.set(cv2.CAP_PROP_FPS, self.fps)
        cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
        got = cap.get(cv2.CAP_PROP_FPS)
        if 1.0 <= got <= 240.0:
            self.fps = got
        return cap

    @property
    def size(self) -> tuple[int, int]:
        """What the camera agreed to deliver (it may ignore the requested size)."""
        return int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT))

    def read(self) -> Frame | None:
        ok, image = self._cap.read()
        if not ok or image is None:
            raise SourceError(f"{self.name}: stopped delivering frames (unplugged or taken by another app)")
        frame = Frame(normalise(image), time.monotonic(), self._index)
        self._index += 1
        return frame

    def close(self) -> None:
        self._cap.release()


def open_source(
    spec: str | int | Path,
    *,
    loop: bool = False,
    pace: bool = False,
    width: int = 1280,
    height: int = 720,
    fps: float = 30.0,
) -> Source:
    """A camera index (``0``), a device path (``/dev/video0``), or a video/image file."""
    if isinstance(spec, int) or (isinstance(spec, str) and spec.isdigit()):
        return CameraSource(int(spec), width, height, fps)
    path = Path(spec)
    if str(spec).startswith("/dev/video"):
        return CameraSource(str(spec), width, height, fps)
    suffix = path.suffix.lower()
    if suffix in IMAGE_SUFFIXES:
        return ImageSource(path, fps=fps, frames=None if loop else 1, pace=pace)
    if suffix in VIDEO_SUFFIXES or path.is_file():
        return VideoFileSource(path, loop=loop, pace=pace)
    raise SourceError(f"{path}: no such file")


@dataclass(frozen=True, slots=True)
class CameraInfo:
    spec: str
    """What `open_source` takes: an index or a device path."""
    label: str


def list_cameras(sysfs: Path = Path("/sys/class/video4linux")) -> list[CameraInfo]:
    """The webcams to offer in the tray, without opening any (opening one lights its LED).

    On Linux the kernel names every capture node; virtual (v4l2loopback) devices, our own
    output among them, and the metadata nodes of UVC cameras (index > 0) are left out.
    Elsewhere OpenCV cannot list devices without opening them, so the first two indices are offered.
    """
    if not sysfs.is_dir():
        return [CameraInfo("0", "Camera 0 (default)"), CameraInfo("1", "Camera 1")]
    found = []
    for node in sorted(sysfs.glob("video*"), key=lambda p: int(p.name[5:]) if p.name[5:].isdigit() else 0):
        if "/virtual/" in str(node.resolve()):
            continue
        index = (node / "index").read_text().strip() if (node / "index").exists() else "0"
        if index != "0":
            continue
        name = (node / "name").read_text().strip() if (node / "name").exists() else node.name
        found.append(CameraInfo(f"/dev/{node.name}", f"{name} (/dev/{node.name})"))
    return found


def sample_frames(paths: list[Path], every_s: float) -> Iterator[tuple[Frame, str]]:
    """Each image, and a video's frames every `every_s`, each with where it came from (enrolment reads a
    few poses, not every frame). ValueError names a file that cannot be read."""
    for path in paths:
        if path.suffix.lower() in IMAGE_SUFFIXES:
            try:
                image = read_image(path)
            except SourceError as exc:
                raise ValueError(str(exc)) from exc
            yield Frame(image, 0.0, 0), path.name
            continue
        try:
            source = VideoFileSource(path)
        except SourceError as exc:
            raise ValueError(str(exc)) from exc
        try:
            step = max(1, round(every_s * source.fps))
            index = 0
            while (read := source.read()) is not None:
                if index % step == 0:
                    yield Frame(read.image, index / source.fps, index), f"{path.name} frame {index}"
                index += 1
        finally:
            source.close()

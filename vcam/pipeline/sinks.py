"""Where anonymized frames go: the virtual camera, a preview window, a file, or nowhere.

Contract of every sink (as pyvirtualcam's Backend states its own): `send`
takes a BGR uint8 HxWx3 frame of the size given at construction; a sink that
cannot deliver raises `SinkError` with a message a user can act on; `close`
is called exactly once.
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vcam.pipeline.sources import opencv_can_take

CARD_LABEL = "Face Anonymizer Camera"
MODPROBE = f'sudo modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="{CARD_LABEL}"'
PERMANENT = (
    "To load it at every boot: echo v4l2loopback | sudo tee /etc/modules-load.d/v4l2loopback.conf && "
    f"echo 'options v4l2loopback devices=1 exclusive_caps=1 card_label=\"{CARD_LABEL}\"' "
    "| sudo tee /etc/modprobe.d/v4l2loopback.conf"
)


class SinkError(Exception):
    """A sink that cannot be opened or written; the message says what is missing and how to fix it."""


class Sink(Protocol):
    name: str

    def send(self, image: np.ndarray) -> None: ...

    def close(self) -> None: ...


def find_labelled_device(sys_root: Path = Path("/sys/class/video4linux")) -> str | None:
    """The /dev/videoN whose v4l2loopback card label is "Face Anonymizer Camera", if any."""
    if not sys_root.is_dir():
        return None
    for entry in sorted(sys_root.iterdir()):
        try:
            if (entry / "name").read_text().strip() == CARD_LABEL:
                return f"/dev/{entry.name}"
        except OSError:
            continue
    return None


def no_device_help() -> str:
    """What to do when no virtual camera exists, per platform."""
    system = platform.system()
    if system == "Linux":
        return (
            "No virtual camera device. Install and load v4l2loopback:\n"
            "  sudo apt install v4l2loopback-dkms   (or your distribution's package)\n"
            f"  {MODPROBE}\n"
            f"{PERMANENT}\n"
            "Meanwhile try `vcam run --demo --output window` or `--output out.mp4`."
        )
    return (
        "No virtual camera device. Install OBS Studio (it provides the 'OBS Virtual Camera' driver; "
        "on Windows, start OBS's virtual camera once), then run vcam again. In your call app pick "
        "'OBS Virtual Camera'."
    )


def even_size(width: int, height: int) -> tuple[int, int]:
    return width + width % 2, height + height % 2


def pad_even(image: np.ndarray) -> np.ndarray:
    """Pad an odd-sized frame by one replicated row/column: I420 needs even sizes."""
    h, w = image.shape[:2]
    if h % 2 or w % 2:
        return cv2.copyMakeBorder(image, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    return image


class VirtualCameraSink:
    """A thin layer over `pyvirtualcam.Camera` that finds our device and explains failures.

    On Linux it publishes to the v4l2loopback device labelled "Face Anonymizer
    Camera" (or the first loopback device); elsewhere pyvirtualcam publishes to
    "OBS Virtual Camera", and `app_name` says so.
    """

    def __init__(
        self, width: int, height: int, fps: float, *, device: str | None = None, backend: str | None = None
    ) -> None:
        import pyvirtualcam

        self.width, self.height = even_size(width, height)
        if device is None and platform.system() == "Linux" and backend is None:
            device = find_labelled_device()
        try:
            self._cam = pyvirtualcam.Camera(
                self.width,
                self.height,
                fps,
                fmt=pyvirtualcam.PixelFormat.BGR,
                device=device,
                backend=backend,
                print_fps=False,
            )
        except Exception as exc:  # pyvirtualcam raises RuntimeError with its own per-backend reasons
            raise SinkError(f"{no_device_help()}\n(pyvirtualcam said: {exc})") from exc
        self.device = self._cam.device
        self.name = f"virtual camera {self.device}"
        self.app_name = self._app_name()

    def _app_name(self) -> str:
        if platform.system() == "Linux":
            label = find_labelled_device()
            return CARD_LABEL if label == self.device else f"the camera at {self.device}"
        return "OBS Virtual Camera"

    def send(self, image: np.ndarray) -> None:
        # pyvirtualcam only prints when a write fails, so notice a removed device ourselves (a stat, ~2 us).
        if os.path.isabs(str(self.device)) and not os.path.exists(self.device):
            raise SinkError(f"virtual camera {self.device} disappeared (v4l2loopback unloaded?). {MODPROBE}")
        try:
            self._cam.send(pad_even(image))
        except Exception as exc:
            raise SinkError(f"virtual camera {self.device}: {exc}") from exc

    def close(self) -> None:
        self._cam.close()


class WindowSink:
    """A window showing the output (in a child process, see `vcam.pipeline.preview`). SinkError where there is no
    display."""

    def __init__(self, title: str = "Face Anonymizer Camera (output)") -> None:
        from vcam.pipeline.preview import PreviewWindow, display_available

        if not display_available():
            raise SinkError("no display for a preview window (DISPLAY is not set); use --output FILE or --output null")
        self.name = "preview window"
        self._window = PreviewWindow(lambda: "", max_width=None, title=title)
        self._window.show()
        self._sent = False

    @property
    def closed_by_user(self) -> bool:
        return self._sent and not self._window.visible

    def send(self, image: np.ndarray) -> None:
        self._window.offer(image)
        self._sent = True

    def close(self) -> None:
        self._window.hide()


class VideoFileSink:
    """Writes an .mp4/.avi to a temporary name and renames it into place on close, so a crash leaves no half file."""

    def __init__(self, path: Path, width: int, height: int, fps: float) -> None:
        self.path = Path(path)
        self.name = str(self.path)
        # An ASCII temporary name: OpenCV cannot take non-UTF-8 names, and the final rename can.
        suffix = self.path.suffix if self.path.suffix.isascii() else ".mp4"
        self._tmp = self.path.with_name(f".vcam-partial-{os.getpid()}-{id(self):x}{suffix}")
        fourcc = cv2.VideoWriter_fourcc(*("mp4v" if self.path.suffix.lower() in (".mp4", ".m4v", ".mov") else "MJPG"))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot create the folder ({exc.strerror})") from exc
        if not opencv_can_take(str(self._tmp)):
            raise SinkError(f"{self.path}: OpenCV cannot write videos into a folder whose name is not UTF-8")
        # Video encoders need even sizes (OpenCV would silently drop the odd row/column): pad instead.
        self.size = even_size(width, height)
        self.resized = self.size != (width, height)
        self._writer = cv2.VideoWriter(str(self._tmp), fourcc, fps, self.size)
        if not self._writer.isOpened():
            raise SinkError(f"{self.path}: cannot write a video here (unwritable folder or unsupported extension)")
        self.frames = 0

    def send(self, image: np.ndarray) -> None:
        self._writer.write(pad_even(image))
        self.frames += 1

    def close(self, *, keep: bool = True) -> None:
        self._writer.release()
        if keep and self.frames:
            os.replace(self._tmp, self.path)
        else:
            self._tmp.unlink(missing_ok=True)


class NullSink:
    """Discards frames; counts them (benchmarks)."""

    name = "null"

    def __init__(self) -> None:
        self.frames = 0

    def send(self, image: np.ndarray) -> None:
        self.frames += 1

    def close(self) -> None:
        pass


@dataclass(frozen=True)
class SinkChoice:
    sink: Sink
    note: str


def demo_file() -> Path:
    """Where the demo writes its clip when there is neither a virtual camera nor a display: the user's
    videos folder (XDG_VIDEOS_DIR, ~/Videos, ...), where people look for videos; never the current folder."""
    import platformdirs

    return platformdirs.user_videos_path() / "vcam-demo.mp4"


def open_output(spec: str, width: int, height: int, fps: float, *, best_effort: bool = False) -> SinkChoice:
    """`virtual`, `window`, `null` or a file path. With `best_effort` (the demo), fall back
    from the virtual camera to a window to a file in the user's videos folder, and say which
    (with the whole fix for the missing virtual camera, once)."""
    if spec == "null":
        return SinkChoice(NullSink(), "frames are discarded (--output null)")
    if spec == "window":
        return SinkChoice(WindowSink(), "showing a preview window (press q to quit)")
    if spec != "virtual":
        return SinkChoice(VideoFileSink(Path(spec), width, height, fps), f"writing {spec}")
    try:
        sink = VirtualCameraSink(width, height, fps)
        return SinkChoice(sink, f"publishing to {sink.device}: in your call app pick '{sink.app_name}'")
    except SinkError as exc:
        if not best_effort:
            raise
        reason = str(exc)
    try:
        return SinkChoice(WindowSink(), f"{reason}\nShowing a preview window instead (press q to quit).")
    except SinkError:
        path = demo_file()
        return SinkChoice(
            VideoFileSink(path, width, height, fps),
            f"{reason}\nNo display either: writing the anonymized demo to {path}",
        )

"""The tray's "Show preview": the published (anonymized) frames in a window, with the live stats on top.

It shows exactly what the call app receives, never the raw camera. The window
runs in a child process (`python -m vcam.pipeline.preview`) fed through a pipe: the
tray's GTK main loop and OpenCV's Qt windows crash when they share a process
(measured: segfault on the first imshow), macOS wants GUI on a main thread,
and a crash of the preview must never take the camera down. The parent keeps
only the newest frame, downscaled, so a slow window cannot slow the camera.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import threading
from collections.abc import Callable

import cv2
import numpy as np

TITLE = "Face Anonymizer Camera - preview"
MAX_WIDTH = 640
_HEADER = struct.Struct("<III")


def display_available() -> bool:
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def overlay(image: np.ndarray, text: str) -> np.ndarray:
    """A copy of `image` with `text` on a dark band at the top (the published frame itself is not touched)."""
    out = image.copy()
    text = text.replace("·", "|").encode("ascii", "replace").decode()  # OpenCV's fonts are ASCII only
    scale = max(0.4, out.shape[1] / 1600)
    band = int(28 * scale / 0.5)
    out[:band] = (out[:band] * 0.35).astype(np.uint8)
    cv2.putText(out, text, (8, int(band * 0.7)), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return out


def encode(image: np.ndarray, text: str, max_width: int | None = MAX_WIDTH) -> bytes:
    """One message of the pipe protocol: header (width, height, text length), text, BGR pixels."""
    h, w = image.shape[:2]
    if max_width and w > max_width:
        image = cv2.resize(image, (max_width, round(h * max_width / w)), interpolation=cv2.INTER_AREA)
        h, w = image.shape[:2]
    data = text.encode("utf-8")
    return _HEADER.pack(w, h, len(data)) + data + np.ascontiguousarray(image).tobytes()


class PreviewWindow:
    """Open with `show()`, feed with `offer()`, close with `hide()`; `on_closed` fires when the user closes it."""

    def __init__(
        self,
        status_text: Callable[[], str],
        on_closed: Callable[[], None] | None = None,
        *,
        max_width: int | None = MAX_WIDTH,
        title: str = TITLE,
    ) -> None:
        self._status_text = status_text
        self._max_width = max_width
        self._title = title
        self._on_closed = on_closed
        self._cond = threading.Condition()
        self._frame: np.ndarray | None = None
        self._proc: subprocess.Popen | None = None
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def visible(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def show(self) -> None:
        if self.visible or not display_available():
            return
        self._stop.clear()
        command = [sys.executable, "-m", "vcam.pipeline.preview", self._title]
        self._proc = subprocess.Popen(command, stdin=subprocess.PIPE)
        self._thread = threading.Thread(target=self._feed, args=(self._proc,), name="vcam-preview", daemon=True)
        self._thread.start()

    def hide(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        proc, self._proc = self._proc, None
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2.0)
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=2.0)
            except subprocess.TimeoutExpired:
                proc.kill()

    def offer(self, image: np.ndarray, frame: object = None) -> None:
        """Queue `image` for the window (the newest wins); `frame` is accepted for the pipeline's hook and unused."""
        if self._proc is None:
            return
        with self._cond:
            self._frame = image
            self._cond.notify_all()

    def _feed(self, proc: subprocess.Popen) -> None:
        assert proc.stdin is not None
        while not self._stop.is_set() and proc.poll() is None:
            with self._cond:
                if self._frame is None:
                    self._cond.wait(0.2)
                frame, self._frame = self._frame, None
            if frame is None:
                continue
            try:
                proc.stdin.write(encode(frame, self._status_text(), self._max_width))
                proc.stdin.flush()
            except (BrokenPipeError, OSError):
                break
        if not self._stop.is_set() and self._on_closed is not None:
            self._on_closed()  # the user closed the window (or it died): untick "Show preview"


def _read_exact(stream, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def window_main(title: str = TITLE) -> int:
    """The child process: show frames from stdin until the pipe ends or the user closes the window."""
    stream = sys.stdin.buffer
    cv2.namedWindow(title, cv2.WINDOW_NORMAL | cv2.WINDOW_GUI_NORMAL)
    shown = False
    while True:
        header = _read_exact(stream, _HEADER.size)
        if header is None:
            break
        w, h, n = _HEADER.unpack(header)
        text = (_read_exact(stream, n) or b"").decode("utf-8", "replace")
        pixels = _read_exact(stream, w * h * 3)
        if pixels is None:
            break
        image = np.frombuffer(pixels, np.uint8).reshape(h, w, 3)
        cv2.imshow(title, overlay(image, text) if text else image)
        if not shown:
            cv2.resizeWindow(title, w, h)
            shown = True
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27) or cv2.getWindowProperty(title, cv2.WND_PROP_VISIBLE) < 1:
            break
    cv2.destroyAllWindows()
    return 0


if __name__ == "__main__":
    raise SystemExit(window_main(*sys.argv[1:2]))

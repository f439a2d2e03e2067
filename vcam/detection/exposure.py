"""What the detectors see in a dim, noisy room: a brightened, smoothed copy of the frame (the picture the user
publishes is not changed).

BlazeFace and CenterFace were trained on well-lit faces. In a room at a third of the light the camera's picture is
dark and full of the noise its gain adds, and both models lose faces a person still sees. A gamma lift brings the
faces' shading back into the range the models know, and a Gaussian blur first keeps the lift from feeding them
the noise: on `bench/conditions.py`'s dim room, readable face-frames 69 -> 19 with both, 128 with the lift alone.

Only a frame that is both dark and noisy is lifted. A dark but clean picture (a stage, a film) is how the scene
looks, not a camera short of light: lifting the stage clip in normal light hid more background (false-hide
frames 148 -> 161) and let one face-frame through, and lifting the darker photos of the image set grew the
hidden area of the middle image from 2.69x to 2.95x the faces. The noise estimate tells them apart: 0-0.4 grey
levels on every clip as recorded, 2.7-7.3 in the dim and dark rooms.

Cost, this machine: in good light the fast path gains 0.07 ms a 720p frame (0.19 at 1080p); a lifted frame costs
4.8 ms at 720p (11 ms at 1080p) for the blur and the table, in each detection pass that looks at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import cv2
import numpy as np


@dataclass(frozen=True)
class ExposureSettings:
    dark_below: float = 90.0
    """Mean luma (0-255) under which a frame may be lifted. The eval clips as recorded: 111-178 except the stage
    (15-37); the dim room (a third of the light): 50-110."""
    noisy_above: float = 2.5
    """... and noise (grey levels, `noise_level`) from which it is: 0-0.4 on the clips as recorded and at most 2.2
    on the photos (one grainy photo without faces: 5.2), 2.6 and more in the dim and dark rooms of
    bench/conditions.py."""
    target: float = 115.0
    """The mean luma the lift aims at: the middle of what the ordinary clips show."""
    max_lift: float = 2.6
    """At most this gamma divisor (gamma >= 1/2.6): beyond it the lift mostly magnifies what noise is left."""
    denoise_px: float = 2.0
    """Gaussian sigma of the smoothing before the lift. Dim room: 1 px left 65 readable face-frames, 2 px 19,
    3 px 38 (small faces lost); dark room: 3 px better (250 against 333), but 3 px let 4 face-frames through in
    normal light where 2 px let none."""
    too_dark_below: float = 40.0
    """A noisy frame darker than this is too dark to anonymize reliably: the stage hides more and tells the user
    (bench/conditions.py: the dark room, 20-35, leaks a quarter of its face-frames even lifted; the dim room
    outside the stage clip, 50-110, none)."""
    black_below: float = 12.0
    """A noisy frame darker than this is curtained live: what the detectors see there cannot be trusted."""
    stride: int = 16
    """Brightness and noise are read from every 16th row (and column, for brightness): judging the light costs
    0.07 ms a 720p frame in good light (noise is not read there), 0.24 ms in a dim one (0.15 / 0.59 at 1080p)."""


def mean_luma(image: np.ndarray, stride: int) -> float:
    """Mean luma of `image` (BGR), from a sparse grid of its pixels."""
    sample = image[::stride, ::stride].reshape(-1, 3).mean(axis=0)
    return float(0.114 * sample[0] + 0.587 * sample[1] + 0.299 * sample[2])


def noise_level(image: np.ndarray, stride: int, block: int = 32) -> float:
    """Sensor noise in grey levels: the second difference along every `stride`-th row, averaged over `block`-pixel
    runs, and the quietest tenth of those runs (scaled for Gaussian noise). Texture and edges are loud in places;
    noise is loud everywhere, so the quiet runs of a textured photo stay low while a noisy frame has none."""
    rows = cv2.cvtColor(np.ascontiguousarray(image[::stride]), cv2.COLOR_BGR2GRAY).astype(np.int16)
    second = np.abs(rows[:, :-2] - 2 * rows[:, 1:-1] + rows[:, 2:]).astype(np.float32)
    runs = second.shape[1] // block
    if runs == 0:
        return 0.0
    quiet = np.percentile(second[:, : runs * block].reshape(len(second), runs, block).mean(axis=2), 10)
    return float(quiet) * float(np.sqrt(np.pi / 2)) / float(np.sqrt(6.0))


class Light(Enum):
    GOOD = "good"
    """Bright or clean enough: the detectors see the frame as it is."""
    DIM = "dim"
    """Dark and noisy: the detectors see a smoothed, lifted copy."""
    DARK = "dark"
    """Too dark to anonymize reliably: lifted, hidden with more margin, and the user is told."""
    BLACK = "black"
    """Darker still: curtained live."""


TOO_DARK = "too dark to anonymize reliably: add light"


def light_of(image: np.ndarray, settings: ExposureSettings) -> tuple[Light, float]:
    """How far `image`'s light lets detection be trusted, and its mean luma. Noise is read only when the frame
    is dark (it costs more than the mean)."""
    luma = mean_luma(image, settings.stride)
    if luma >= settings.dark_below or noise_level(image, settings.stride) < settings.noisy_above:
        return Light.GOOD, luma
    if luma < settings.black_below:
        return Light.BLACK, luma
    return (Light.DARK if luma < settings.too_dark_below else Light.DIM), luma


class Exposure:
    """`view(image)`: what the detectors look at. One per detection thread (it keeps its lookup table)."""

    def __init__(self, settings: ExposureSettings | None = None) -> None:
        self.settings = settings or ExposureSettings()
        self.lifted = False
        """Whether the last frame was lifted (dark and noisy)."""
        self._gamma = 1.0
        self._lut: np.ndarray | None = None

    def view(self, image: np.ndarray, judged: tuple[Light, float] | None = None) -> np.ndarray:
        """`image` itself, or when it is dark and noisy a smoothed copy whose mean luma is lifted to about
        `target` by a gamma curve (one lookup table for all three channels: no colour shift). `judged`: the
        image's `light_of` with these settings where the caller has it already (the anonymizer judges every
        frame once, for its fast tier and its sweep)."""
        s = self.settings
        light, luma = judged if judged is not None else light_of(image, s)
        self.lifted = light is not Light.GOOD
        if not self.lifted:
            return image
        gamma = float(np.clip(np.log(s.target / 255.0) / np.log(max(luma, 1.0) / 255.0), 1 / s.max_lift, 1.0))
        gamma = round(gamma, 2)  # the table is rebuilt only when the light really changed
        if self._lut is None or gamma != self._gamma:
            self._lut = np.clip(255.0 * (np.arange(256) / 255.0) ** gamma + 0.5, 0, 255).astype(np.uint8)
            self._gamma = gamma
        return cv2.LUT(cv2.GaussianBlur(image, (0, 0), s.denoise_px), self._lut)

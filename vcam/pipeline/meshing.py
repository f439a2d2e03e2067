"""The face mesh step between tracking and hiding: which faces get a mesh, their smoothed expressions.

Only styles that use it pay for it: the avatar draws from the expression, and in files every style's shape
follows the mesh's outline where the mesh is sure (`vcam.pipeline.head_outline`; live keeps the ellipse, see
`Anonymizer.process`). A face the mesh
does not find (the model's presence score under `present`), is too small, or is beyond the `max_faces`
largest keeps its box's shape and a neutral avatar: the step can only make a face's shape follow the mesh,
never leave it uncovered.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from vcam.detection.exposure import ExposureSettings, Light, light_of
from vcam.detection.expression import ExpressionSmoother, read
from vcam.detection.mesh import PRESENT, EyeReader, FaceMesher
from vcam.frames import Face
from vcam.pipeline import effects


@dataclass(frozen=True, slots=True)
class MeshSettings:
    max_faces: int | None = 3
    """The largest faces of a frame that get a mesh, live: 1.4-1.8 ms each here (warp and model), so three stay
    within a 30 fps frame's share beside detection; the rest keep the box's shape and a neutral avatar. None:
    every face (files, which have no frame budget)."""
    min_px: float = 40.0
    """Smaller boxes get no mesh: on 36 px faces the model's points already wander by a few pixels, and the
    expression of a face that small is not readable in the picture anyway."""
    present: float = PRESENT
    """The model's face-presence score a mesh needs to be used (MediaPipe's own threshold)."""


FILES = MeshSettings(max_faces=None)
"""Files: every face large enough gets a mesh."""


@dataclass
class MeshStage:
    """Adds a mesh and a smoothed expression to the largest faces of each frame (one per stream: it keeps
    each track's filters)."""

    settings: MeshSettings = field(default_factory=MeshSettings)
    mesher: FaceMesher | None = None
    eye_reader: EyeReader | None = None
    smooth: bool = True
    """Smooth each track's expression over time (off for frames that are not a sequence)."""
    _smoother: ExpressionSmoother = field(default_factory=ExpressionSmoother)

    def attach(self, image: np.ndarray, faces: list[Face], t: float, *, expressions: bool = False) -> list[Face]:
        """The faces with their meshes; with `expressions`, also the iris model's eyelids and irises (2 ms a face
        more) and each face's smoothed expression, which only the avatar draws (an outline needs the mesh alone)."""
        if not faces:
            return faces
        if self.mesher is None:
            self.mesher = FaceMesher()
        if expressions and self.eye_reader is None:
            self.eye_reader = EyeReader()
        s = self.settings
        order = sorted(range(len(faces)), key=lambda i: faces[i].box[2] * faces[i].box[3], reverse=True)
        chosen = [i for i in order if faces[i].box[2] >= s.min_px][: s.max_faces]  # [:None] keeps all
        out = list(faces)
        for i in chosen:
            face = faces[i]
            try:
                mesh = self.mesher.mesh(image, face)
            except (ValueError, RuntimeError, cv2.error):
                mesh = None
            if mesh is None or mesh.score < s.present:
                continue
            if not expressions or self.eye_reader is None:
                out[i] = replace(face, mesh=mesh)
                continue
            try:
                mesh = replace(mesh, eyes=self.eye_reader.read(image, mesh))
            except (ValueError, RuntimeError, cv2.error):
                pass  # no eyelids or irises: the mesh's own eyes and a neutral gaze
            expression = read(mesh)
            if self.smooth and face.track_id >= 0:
                expression = self._smoother(face.track_id, expression, t, mesh)
            out[i] = replace(face, mesh=mesh, expression=expression)
        return out

    def reset(self) -> None:
        """Forget every track's expression (a new file, a new scene's tracks)."""
        self._smoother = ExpressionSmoother()

    def hide(
        self,
        image: np.ndarray,
        faces: list[Face],
        effect: effects.EffectSettings,
        t: float,
        light: Light | None = None,
    ) -> tuple[np.ndarray, list[Face]]:
        """`effects.apply`, with each face's mesh (and expression) first where the effect uses them; returns the
        picture and the faces as hidden (with their meshes: `effects.hidden_mask` of them is what was hidden).
        `light`: the frame's, where the caller already judged it (judged here otherwise, only when it matters)."""
        if effect.mesh_outline and faces:
            if light is None:
                light = light_of(image, ExposureSettings())[0]
            if light is not Light.GOOD:
                # In poor light the mesh is less sure than its score says: bench/conditions.py's dim, dark and
                # backlit rooms each lost an image face (the dim room also a face-frame) to the outline.
                effect = replace(effect, mesh_outline=False)
        drawn_from_mesh = effect.style in effects.MESH_STYLES
        if drawn_from_mesh or effect.mesh_outline:
            faces = self.attach(image, faces, t, expressions=drawn_from_mesh)
        return effects.apply(image, faces, effect), faces

    def close(self) -> None:
        if self.mesher is not None:
            self.mesher.close()
            self.mesher = None
        if self.eye_reader is not None:
            self.eye_reader.close()
            self.eye_reader = None

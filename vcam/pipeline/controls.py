"""Live settings shared by the tray, the CLI, the config file and the pipeline.

Writers call `update`; the pipeline takes one consistent `snapshot` per
frame, so a change applies on the next frame without a restart.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace

from vcam.detection.scan import RANGES
from vcam.pipeline.effects import STYLES, EffectSettings

SHAPES = ("mesh", "ellipse")
"""What is hidden around a face: its head's outline from the face mesh, or the box's ellipse."""
MODES = ("everyone", "all-but-me")
"""Hide every face, or every face but the enrolled user's (`vcam enroll`)."""


@dataclass(frozen=True, slots=True)
class ControlState:
    enabled: bool = True
    style: str = "blur"
    intensity: int = 70
    detection_range: str = "auto"
    margin: float = 1.45
    camera: str = "0"
    """Webcam index or device path; a change makes the live pipeline reopen its source."""
    preview: bool = False
    mode: str = "everyone"
    """One of MODES; "all-but-me" shows only the enrolled user's face (vcam.identity.gate)."""

    def effect(self) -> EffectSettings:
        return EffectSettings(
            style=self.style,  # type: ignore[arg-type]
            intensity=self.intensity,
            margin=self.margin,
        )


def validate(name: str, value: object) -> object:
    """Check one control value; raise ValueError with a message naming the setting and the allowed values."""
    if name == "enabled":
        if not isinstance(value, bool):
            raise ValueError("enabled must be true or false")
    elif name == "style":
        if value not in STYLES:
            raise ValueError(f"style must be one of {', '.join(STYLES)} (got {value!r})")
    elif name == "shape":
        if value not in SHAPES:
            raise ValueError(f"shape must be one of {', '.join(SHAPES)} (got {value!r})")
    elif name == "intensity":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 100:
            raise ValueError(f"intensity must be a whole number from 0 to 100 (got {value!r})")
    elif name == "detection_range":
        if value not in RANGES:
            raise ValueError(f"detection range must be one of {', '.join(RANGES)} (got {value!r})")
    elif name == "preview":
        if not isinstance(value, bool):
            raise ValueError("preview must be true or false")
    elif name == "camera":
        if not isinstance(value, str) or not value.strip():
            raise ValueError(f"camera must be a webcam index or device path (got {value!r})")
    elif name == "mode":
        if value not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)} (got {value!r})")
    elif name == "margin":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1.0 <= value <= 3.0:
            raise ValueError(f"margin must be a number from 1.0 to 3.0 (got {value!r})")
    else:
        raise ValueError(f"unknown setting {name!r}; known: {', '.join(f.name for f in fields(ControlState))}")
    return value


class LiveControls:
    """Thread-safe holder of the current `ControlState`, with change listeners."""

    def __init__(self, state: ControlState | None = None) -> None:
        self._state = state or ControlState()
        self._lock = threading.Lock()
        self._listeners: list[Callable[[ControlState], None]] = []

    def snapshot(self) -> ControlState:
        with self._lock:
            return self._state

    def update(self, **changes: object) -> ControlState:
        for name, value in changes.items():
            validate(name, value)
        with self._lock:
            self._state = replace(self._state, **changes)  # type: ignore[arg-type]
            state, listeners = self._state, list(self._listeners)
        for listener in listeners:
            listener(state)
        return state

    def subscribe(self, listener: Callable[[ControlState], None]) -> None:
        with self._lock:
            self._listeners.append(listener)

    def as_dict(self) -> dict[str, object]:
        return asdict(self.snapshot())

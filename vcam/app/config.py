"""Settings from a TOML file in the user's config folder; CLI flags override them.

A bad key or value is reported by name and replaced by its default; the
user's file is never rewritten because of it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path

import platformdirs
import tomlkit

from vcam.atomic_write import write_atomic
from vcam.pipeline.controls import validate as validate_control


@dataclass(frozen=True, slots=True)
class Config:
    """Everything `vcam run` can be told; each field is also a key of config.toml."""

    camera: str = "0"
    width: int = 1280
    height: int = 720
    fps: float = 30.0
    output: str = "virtual"
    style: str = "blur"
    intensity: int = 70
    detection_range: str = "auto"
    threshold: float = 0.4
    hold_ms: int = 500
    margin: float = 1.45
    shape: str = "mesh"
    enabled: bool = True
    mode: str = "everyone"


def config_path() -> Path:
    return Path(platformdirs.user_config_dir("vcam", appauthor=False)) / "config.toml"


def check(name: str, value: object) -> object:
    """Validate one config value; ValueError names what is wrong."""
    if name in ("style", "intensity", "detection_range", "margin", "shape", "enabled", "mode"):
        return validate_control(name, value)
    if name in ("width", "height"):
        if isinstance(value, bool) or not isinstance(value, int) or not 16 <= value <= 7680:
            raise ValueError(f"{name} must be a whole number of pixels from 16 to 7680 (got {value!r})")
    elif name == "fps":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 1 <= value <= 120:
            raise ValueError(f"fps must be a number from 1 to 120 (got {value!r})")
        return float(value)
    elif name == "threshold":
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0.05 <= value <= 0.95:
            raise ValueError(f"threshold must be a number from 0.05 to 0.95 (got {value!r})")
        return float(value)
    elif name == "hold_ms":
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10_000:
            raise ValueError(f"hold_ms must be a whole number of milliseconds from 0 to 10000 (got {value!r})")
    elif name in ("camera", "output"):
        if isinstance(value, int) and not isinstance(value, bool) and name == "camera":
            return str(value)
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string (got {value!r})")
    else:
        raise ValueError(f"unknown key {name!r}")
    return value


def load(path: Path | None = None) -> tuple[Config, list[str]]:
    """Read the config file; return the config and one warning per bad key (which fell back to its default)."""
    path = path or config_path()
    if not path.exists():
        return Config(), []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Config(), [f"{path}: cannot parse ({exc}); using defaults, the file is left as it is"]
    warnings, good = [], {}
    known = {f.name for f in fields(Config)}
    for key, value in data.items():
        if key not in known:
            warnings.append(f"{path}: unknown key {key!r} ignored (known: {', '.join(sorted(known))})")
            continue
        try:
            good[key] = check(key, value)
        except ValueError as exc:
            warnings.append(f"{path}: {exc}; using the default {getattr(Config(), key)!r}")
    return replace(Config(), **good), warnings


def save_changes(changes: dict[str, object], path: Path | None = None) -> str | None:
    """Persist live changes (from the tray or `vcam ctl`) into the user's file: only the changed keys are
    set, everything else (comments, order, blank lines, other keys) stays as the user wrote it.

    A file with problems is never rewritten: the change still applies to the running camera, and the
    returned message says why it was not saved. Returns None when saved.
    """
    path = path or config_path()
    _, warnings = load(path)
    if warnings:
        return f"settings not saved: fix {path} first ({warnings[0]})"
    try:
        set_keys({k: check(k, v) for k, v in changes.items()}, path)
    except (OSError, ValueError) as exc:
        return f"settings not saved to {path}: {exc}"
    return None


HEADER = "# Face Anonymizer Camera settings (vcam). Keys: see README.\n"


def set_keys(values: dict[str, object], path: Path | None = None) -> Path:
    """Set `values` in the TOML file at `path`, keeping the rest of it as written (tomlkit keeps comments and
    layout, which the standard library's tomllib cannot write). A new file starts with a one-line header.

    Written atomically (temporary file, then rename), so a crash never leaves half a file; owner-only.
    """
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    text = path.read_text(encoding="utf-8") if path.exists() else HEADER
    document = tomlkit.parse(text)
    for key, value in values.items():
        document[key] = value
    write_atomic(path, tomlkit.dumps(document).encode("utf-8"), mode=0o600)
    return path

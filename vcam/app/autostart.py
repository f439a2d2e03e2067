"""Start at login: an XDG autostart entry (Linux), a LaunchAgent (macOS) or a Run key (Windows).

The command started at login is the absolute path of the installed `vcam`
executable, so a virtual-environment install works without activating it.
Content is produced by pure functions (tested for every OS); the file and
registry writes sit behind `Autostart`, whose registry access is a seam.
"""

from __future__ import annotations

import os
import plistlib
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from vcam.atomic_write import write_atomic

APP_ID = "face-anonymizer-camera"
LABEL = "org.vcam.face-anonymizer-camera"
NAME = "Face Anonymizer Camera"
RUN_KEY = r"Software\Microsoft\Windows\CurrentVersion\Run"


def vcam_command() -> list[str]:
    """The absolute command that starts the tray: the `vcam` script beside this interpreter, else `python -m vcam`."""
    script = Path(sys.executable).with_name("vcam.exe" if sys.platform == "win32" else "vcam")
    if script.exists():
        return [str(script.absolute())]
    found = shutil.which("vcam")
    if found:
        return [str(Path(found).absolute())]
    return [str(Path(sys.executable).absolute()), "-m", "vcam"]


def desktop_entry(command: list[str]) -> str:
    """An XDG autostart `.desktop` file (freedesktop Desktop Entry spec; Exec arguments quoted)."""
    exec_line = " ".join(_desktop_quote(arg) for arg in command)
    return (
        "[Desktop Entry]\n"
        "Type=Application\n"
        f"Name={NAME}\n"
        "Comment=Virtual webcam that hides every face\n"
        f"Exec={exec_line}\n"
        "Terminal=false\n"
        "X-GNOME-Autostart-enabled=true\n"
    )


def launch_agent(command: list[str]) -> bytes:
    """A macOS LaunchAgent plist that runs the tray once at login."""
    return plistlib.dumps(
        {"Label": LABEL, "ProgramArguments": command, "RunAtLoad": True, "ProcessType": "Interactive"}
    )


def run_value(command: list[str]) -> str:
    """The Windows Run-key command line (each argument double-quoted)."""
    return " ".join(f'"{arg}"' for arg in command)


def _desktop_quote(arg: str) -> str:
    if not any(c in arg for c in " \t\n\"'\\><~|&;$*?#()`"):
        return arg
    escaped = arg.replace("\\", "\\\\").replace('"', '\\"').replace("`", "\\`").replace("$", "\\$")
    return f'"{escaped}"'


class Registry(Protocol):
    """The three Run-key operations we need; `WinRegistry` is the real one, tests pass a dict-backed double."""

    def get(self, name: str) -> str | None: ...
    def set(self, name: str, value: str) -> None: ...
    def delete(self, name: str) -> None: ...


class WinRegistry:
    """HKCU Run key through winreg (Windows only)."""

    def get(self, name: str) -> str | None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
                return str(winreg.QueryValueEx(key, name)[0])
        except FileNotFoundError:
            return None

    def set(self, name: str, value: str) -> None:
        import winreg

        with winreg.CreateKey(winreg.HKEY_CURRENT_USER, RUN_KEY) as key:
            winreg.SetValueEx(key, name, 0, winreg.REG_SZ, value)

    def delete(self, name: str) -> None:
        import winreg

        try:
            with winreg.OpenKey(winreg.HKEY_CURRENT_USER, RUN_KEY, 0, winreg.KEY_SET_VALUE) as key:
                winreg.DeleteValue(key, name)
        except FileNotFoundError:
            pass


@dataclass
class Autostart:
    """Enable, disable and query start-at-login for one OS (`platform` as in `sys.platform`)."""

    platform: str = sys.platform
    home: Path | None = None
    registry: Registry | None = None
    command: list[str] | None = None

    def _home(self) -> Path:
        return self.home or Path.home()

    def location(self) -> str:
        if self.platform == "win32":
            return f"HKCU\\{RUN_KEY}\\{NAME}"
        if self.platform == "darwin":
            return str(self._home() / "Library" / "LaunchAgents" / f"{LABEL}.plist")
        config = os.environ.get("XDG_CONFIG_HOME") if self.home is None else None
        base = Path(config) if config else self._home() / ".config"
        return str(base / "autostart" / f"{APP_ID}.desktop")

    def _registry(self) -> Registry:
        return self.registry or WinRegistry()

    def enabled(self) -> bool:
        if self.platform == "win32":
            return self._registry().get(NAME) is not None
        return Path(self.location()).exists()

    def enable(self) -> str:
        """Install the login entry; returns where it went."""
        command = self.command or vcam_command()
        if self.platform == "win32":
            self._registry().set(NAME, run_value(command))
            return self.location()
        path = Path(self.location())
        data = launch_agent(command) if self.platform == "darwin" else desktop_entry(command).encode()
        write_atomic(path, data)
        return str(path)

    def disable(self) -> str:
        if self.platform == "win32":
            self._registry().delete(NAME)
        else:
            Path(self.location()).unlink(missing_ok=True)
        return self.location()

    def describe(self) -> str:
        state = "enabled" if self.enabled() else "disabled"
        return f"start at login: {state} ({self.location()}); command: {shlex.join(self.command or vcam_command())}"

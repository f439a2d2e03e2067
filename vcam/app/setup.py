"""`vcam setup`: the virtual camera device and the app launcher entry in one confirmed step (Linux).

What it does is shown first, asked once, and only then run: the v4l2loopback steps as root through
`pkexec` (a graphical password prompt, as OBS does for its virtual camera) or `sudo` in a terminal, in one
privileged shell so there is one prompt; the launcher entry and its icon as the user. Nothing runs as
root without that confirmation; `--dry-run` prints the commands. The privileged runner is a parameter, so
the tests replace it with a recorder.
"""

from __future__ import annotations

import os
import platform
import shlex
import shutil
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vcam.app import autostart
from vcam.atomic_write import write_atomic
from vcam.pipeline.sinks import CARD_LABEL, find_labelled_device

OPTIONS = f'devices=1 exclusive_caps=1 card_label="{CARD_LABEL}"'
MODPROBE_CONF = Path("/etc/modprobe.d/v4l2loopback.conf")
MODULES_LOAD_CONF = Path("/etc/modules-load.d/v4l2loopback.conf")
ICON_NAME = autostart.APP_ID
ICON_SIZE = 256


@dataclass(frozen=True, slots=True)
class System:
    """What `vcam setup` looks at: the module's state and the user's folders (a seam for the tests)."""

    module_available: bool
    module_loaded: bool
    labelled_device: str | None
    data_home: Path
    persistent: bool = False
    """Both boot files already load the module with our device."""
    installer: str | None = None
    """The root command that installs the module's package on this distribution (`install_command`), if known."""

    @staticmethod
    def here() -> System:
        data = os.environ.get("XDG_DATA_HOME")
        return System(
            module_available=_module_available(),
            module_loaded=Path("/sys/module/v4l2loopback").exists(),
            labelled_device=find_labelled_device(),
            data_home=Path(data) if data else Path.home() / ".local" / "share",
            persistent=_reads(MODPROBE_CONF, CARD_LABEL) and _reads(MODULES_LOAD_CONF, "v4l2loopback"),
            installer=install_command(shutil.which),
        )


@dataclass
class Plan:
    """The root steps (one shell script), the files written as the user, and hints printed only."""

    root_steps: list[tuple[str, str]] = field(default_factory=list)
    """Each root command, and what it is for (printed beside it)."""
    user_files: list[Path] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    @property
    def root_script(self) -> list[str]:
        return [command for command, _ in self.root_steps]


INSTALLERS = (
    ("apt-get", "apt-get install -y v4l2loopback-dkms"),
    ("dnf", "dnf install -y akmod-v4l2loopback"),
    ("pacman", "pacman -S --needed --noconfirm v4l2loopback-dkms"),
    ("zypper", "zypper --non-interactive install v4l2loopback-kmp-default"),
)
"""Each package manager, and how it installs v4l2loopback (Fedora's package is in RPM Fusion)."""


def install_command(which: Callable[[str], str | None]) -> str | None:
    """The first known package manager on PATH (`which`), as the root command that installs the module."""
    return next((cmd for tool, cmd in INSTALLERS if which(tool)), None)


def plan(system: System, command: Sequence[str]) -> Plan:
    """What setup will do on `system`; `command` starts vcam from the launcher. The whole plan (install, load,
    persist) on any machine, so `--dry-run` shows what the real run would do before the module is there."""
    out = Plan()
    if system.labelled_device is None:
        if not system.module_available:
            if system.installer:
                out.root_steps.append((system.installer, "install the v4l2loopback module"))
            else:
                out.hints.append(
                    "the v4l2loopback module is not installed and no known package manager was found: install "
                    "it (Debian/Ubuntu: v4l2loopback-dkms, Fedora: akmod-v4l2loopback, Arch: v4l2loopback-dkms); "
                    "the steps below then load it"
                )
        elif system.module_loaded:
            # Loaded by someone else without our device: reload with ours (fails, harmlessly, if in use).
            out.root_steps.append(("modprobe -r v4l2loopback", "unload the module loaded without our device"))
        out.root_steps.append((f"modprobe v4l2loopback {OPTIONS}", f'load it now, with the "{CARD_LABEL}" device'))
    if not system.persistent:
        options_line = f"options v4l2loopback {OPTIONS}"
        name_it = f"printf '%s\\n' {shlex.quote(options_line)} > {MODPROBE_CONF}"
        out.root_steps.append((name_it, "give the device its name at every boot"))
        out.root_steps.append((f"printf '%s\\n' v4l2loopback > {MODULES_LOAD_CONF}", "load the module at every boot"))
    out.user_files = [desktop_file(system), icon_file(system)]
    return out


def desktop_file(system: System) -> Path:
    return system.data_home / "applications" / f"{autostart.APP_ID}.desktop"


def icon_file(system: System) -> Path:
    return system.data_home / "icons" / "hicolor" / f"{ICON_SIZE}x{ICON_SIZE}" / "apps" / f"{ICON_NAME}.png"


def launcher_entry(command: Sequence[str]) -> str:
    """The app launcher's entry: the autostart entry's fields plus the icon and the menu category."""
    entry = autostart.desktop_entry(list(command)).replace("X-GNOME-Autostart-enabled=true\n", "")
    return entry + f"Icon={ICON_NAME}\nCategories=AudioVideo;Video;\nStartupNotify=false\n"


def elevator(*, has_display: bool, interactive: bool) -> list[str] | None:
    """How to become root: pkexec in a desktop session, sudo in a terminal, else None."""
    if os.geteuid() == 0:
        return []
    if has_display and shutil.which("pkexec"):
        return ["pkexec"]
    if interactive and shutil.which("sudo"):
        return ["sudo"]
    return None


Runner = Callable[[list[str]], int]


def run_setup(
    *,
    dry_run: bool,
    assume_yes: bool,
    system: System | None = None,
    ask: Callable[[str], str] = input,
    run_root: Runner | None = None,
    say: Callable[[str], None] = print,
    verify: Callable[[], str | None] = find_labelled_device,
) -> int:
    """Show the plan, ask once, run it, verify. Returns the exit status."""
    if platform.system() != "Linux" and system is None:
        say(
            "vcam setup is for Linux (v4l2loopback). On macOS and Windows install OBS Studio: its "
            "'OBS Virtual Camera' is the device vcam publishes to."
        )
        return 0
    system = system or System.here()
    command = autostart.vcam_command()
    steps = plan(system, command)
    say("vcam setup will:")
    for hint in steps.hints:
        say(f"  - note: {hint}")
    if steps.root_script:
        say("  - run as root (one password prompt):")
        for command, purpose in steps.root_steps:
            say(f"      {command}    # {purpose}")
    elif system.labelled_device:
        say(f"  - nothing as root: the virtual camera is {system.labelled_device}")
    for path in steps.user_files:
        say(f"  - write {path}")
    if dry_run:
        return 0
    if not assume_yes and ask("Go ahead? [y/N] ").strip().lower() not in ("y", "yes"):
        say("Nothing changed.")
        return 1
    if steps.root_script:
        runner = run_root or _default_runner(say)
        if runner is None:
            return 2
        status = runner(["sh", "-c", "set -e\n" + "\n".join(steps.root_script)])
        if status != 0:
            say(f"The root steps failed (exit {status}); nothing else was changed. `vcam doctor` shows why.")
            return 1
    _write_launcher(system, command)
    device = verify()
    if device:
        say(f'Done. The virtual camera is {device}; pick "{CARD_LABEL}" in your call app.')
        say('"Face Anonymizer Camera" is in your app launcher.')
        return 0
    say("The launcher entry is written, but no virtual camera was found yet: see `vcam doctor`.")
    return 1


def _write_launcher(system: System, command: Sequence[str]) -> None:
    from vcam.app.icons import icon_image
    from vcam.pipeline.live import ANONYMIZING

    icon = icon_file(system)
    icon.parent.mkdir(parents=True, exist_ok=True)
    icon_image(ANONYMIZING).resize((ICON_SIZE, ICON_SIZE)).save(icon)
    write_atomic(desktop_file(system), launcher_entry(command).encode())


def _default_runner(say: Callable[[str], None]) -> Runner | None:
    has_display = bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    prefix = elevator(has_display=has_display, interactive=sys.stdin.isatty())
    if prefix is None:
        say("Cannot become root here (no pkexec in a desktop session, no sudo in a terminal): run the root")
        say("steps above yourself in a root shell, then `vcam setup` again for the launcher entry.")
        return None
    return lambda argv: subprocess.run([*prefix, *argv]).returncode


def _reads(path: Path, text: str) -> bool:
    try:
        return text in path.read_text(encoding="utf-8")
    except OSError:
        return False


def _module_available() -> bool:
    modinfo = shutil.which("modinfo") or "/sbin/modinfo"
    try:
        return subprocess.run([modinfo, "v4l2loopback"], capture_output=True).returncode == 0
    except OSError:
        return Path("/sys/module/v4l2loopback").exists()

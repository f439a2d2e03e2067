"""`vcam doctor`: checks the machine and says how to fix what is missing."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass
from pathlib import Path

from vcam import assets, sandbox
from vcam.pipeline.preview import display_available
from vcam.pipeline.sinks import CARD_LABEL, MODPROBE, PERMANENT, find_labelled_device


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""


def list_cameras(sys_root: Path = Path("/sys/class/video4linux")) -> list[tuple[str, str]]:
    """(device, card name) of every video4linux device, loopback ones included."""
    if not sys_root.is_dir():
        return []
    out = []
    for entry in sorted(sys_root.iterdir()):
        try:
            out.append((f"/dev/{entry.name}", (entry / "name").read_text().strip()))
        except OSError:
            continue
    return out


def _recognizer_check() -> Check:
    """The mode "hide everyone but me" needs dlib; without it that mode hides everyone (fail closed)."""
    try:
        import dlib
    except ImportError:
        return Check(
            "face recognition (hide everyone but me)",
            False,
            "dlib is not installed: that mode hides everyone",
            "pip install dlib-bin (Linux, Windows) or pip install dlib (macOS, compiles)",
        )
    return Check("face recognition (hide everyone but me)", True, f"dlib {dlib.__version__}")


def run_checks(sandboxed: sandbox.SandboxStatus | None = None) -> list[Check]:
    """Every check; `sandboxed` is what `sandbox.install()` reported for this process, if it ran."""
    checks = []
    for m in assets.check_models():
        checks.append(
            Check(
                f"model {m.name}",
                m.ok,
                f"{m.path}: {m.detail}",
                ""
                if m.ok
                else "reinstall face-anonymizer-camera, or run `python assets/fetch_models.py` in a checkout",
            )
        )
    try:
        import cv2

        checks.append(Check("OpenCV", True, f"cv2 {cv2.__version__}"))
    except ImportError as exc:
        checks.append(Check("OpenCV", False, str(exc), "pip install opencv-contrib-python"))
    checks.append(_runtime_check())
    checks.append(_recognizer_check())
    checks.append(_sandbox_check(sandboxed))
    if platform.system() == "Linux":
        devices = list_cameras()
        webcams = [d for d in devices if d[1] != CARD_LABEL and "loopback" not in d[1].lower()]
        checks.append(
            Check(
                "webcam",
                bool(webcams),
                ", ".join(f"{d} ({n})" for d, n in webcams) or "no webcam found in /sys/class/video4linux",
                "" if webcams else "plug in a webcam, or try `vcam run --demo`",
            )
        )
        loaded = Path("/sys/module/v4l2loopback").exists()
        checks.append(
            Check(
                "v4l2loopback loaded",
                loaded,
                "module loaded" if loaded else "module not loaded",
                "" if loaded else f"sudo apt install v4l2loopback-dkms && {MODPROBE}",
            )
        )
        labelled = find_labelled_device()
        checks.append(
            Check(
                f'device labelled "{CARD_LABEL}"',
                labelled is not None,
                labelled or "none",
                "" if labelled else f"{MODPROBE}\n      {PERMANENT}",
            )
        )
        caps = Path("/sys/module/v4l2loopback/parameters/exclusive_caps")
        if caps.exists():
            value = caps.read_text().strip()
            ok = value.startswith("Y") or value.startswith("1")
            checks.append(
                Check(
                    "exclusive_caps",
                    ok,
                    value,
                    ""
                    if ok
                    else "reload with exclusive_caps=1 (Chrome and "
                    "Zoom list only devices that announce capture-only): " + MODPROBE,
                )
            )
    else:
        checks.append(
            Check(
                "virtual camera",
                True,
                "pyvirtualcam publishes to 'OBS Virtual Camera' on this system",
                "install OBS Studio if your call app does not list 'OBS Virtual Camera'",
            )
        )
    checks.append(_tray_check())
    return checks


def _runtime_check() -> Check:
    """The BlazeFace runtime: LiteRT's interpreter (mediapipe is never imported: it carries telemetry)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        import ai_edge_litert.interpreter  # noqa: F401

        return Check("detector runtime", True, f"LiteRT {version('ai-edge-litert')} (no mediapipe, no telemetry)")
    except (ImportError, PackageNotFoundError) as exc:
        fix = "pip install ai-edge-litert (or reinstall face-anonymizer-camera)"
        return Check("detector runtime", False, str(exc), fix)


def _sandbox_check(sandboxed: sandbox.SandboxStatus | None) -> Check:
    reason = sandbox.unsupported()
    if reason:
        # macOS/Windows: nothing to fix, the clean runtime is the guarantee; another Linux CPU: say so.
        return Check("network sandbox", platform.system() != "Linux", reason.detail)
    if sandboxed is None:
        return Check("network sandbox", False, "not installed in this process", "run it as the `vcam` command")
    return Check(
        "network sandbox",
        sandboxed.active,
        sandboxed.detail,
        "" if sandboxed.active else "a kernel without seccomp filters (CONFIG_SECCOMP_FILTER) cannot enforce it",
    )


def _tray_check() -> Check:
    backend = os.environ.get("PYSTRAY_BACKEND")
    if platform.system() != "Linux":
        return Check("tray", True, "pystray native backend")
    if not display_available():
        return Check(
            "tray", False, "no display: pystray cannot show an icon", "run inside a desktop session, or use --no-tray"
        )
    try:
        import gi  # noqa: F401

        return Check("tray", True, f"pystray backend {backend or 'appindicator/gtk'} (PyGObject present)")
    except ImportError:
        return Check(
            "tray",
            False,
            "only pystray's xorg backend (no menus)",
            "sudo apt install python3-gi gir1.2-ayatanaappindicator3-0.1, then pip install 'pygobject<3.51'",
        )


def main(sandboxed: sandbox.SandboxStatus | None = None) -> int:
    checks = run_checks(sandboxed)
    for c in checks:
        print(f"[{'ok' if c.ok else '!!'}] {c.name}: {c.detail}")
        if not c.ok and c.fix:
            print(f"      fix: {c.fix}")
    essential = [c for c in checks if c.name.startswith(("model", "OpenCV", "detector runtime"))]
    return 0 if all(c.ok for c in essential) else 1

"""The real tray on a real X server: Xvfb + trayer (a system-tray host) + a D-Bus session.

The icon must dock, its menu must open on a click, and menu choices made with
the keyboard must change the running pipeline (checked through `vcam ctl`).
Skipped with the reason where the tools are missing locally; CI sets
VCAM_REQUIRE_TRAY=1 so that a missing tool fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import ROOT, STILL

from vcam.app import config

TOOLS = ("Xvfb", "trayer", "xdotool", "xwininfo", "dbus-run-session")


def _missing() -> list[str]:
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if subprocess.run([sys.executable, "-c", "import gi"], capture_output=True).returncode:
        missing.append("PyGObject (pip install 'vcam[tray]')")
    return missing


@pytest.fixture
def xserver(tmp_path):
    missing = _missing()
    if missing:
        if os.environ.get("VCAM_REQUIRE_TRAY"):
            pytest.fail(f"tray smoke test needs {', '.join(missing)}")
        pytest.skip(f"tray host missing here: {', '.join(missing)}")
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
        pass_fds=(write,),
        stderr=subprocess.DEVNULL,
    )
    os.close(write)
    with os.fdopen(read) as fh:
        display = ":" + fh.readline().strip()
    env = {**os.environ, "DISPLAY": display, "XDG_RUNTIME_DIR": str(tmp_path / "rt"), "HOME": str(tmp_path)}
    env.pop("XDG_CONFIG_HOME", None)
    env["PYTHONPATH"] = str(ROOT)
    (tmp_path / "rt").mkdir(mode=0o700)
    trayer = subprocess.Popen(
        ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request", "--height", "32"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    yield env
    trayer.terminate()
    xvfb.terminate()
    trayer.wait(5)
    xvfb.wait(5)


def _icon_geometry(env) -> tuple[int, int, int, int] | None:
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
    for line in tree.splitlines():
        if '"Face Anonymizer Camera:' in line:
            m = re.search(r"(\d+)x(\d+)\+-?\d+\+-?\d+\s+\+(-?\d+)\+(-?\d+)", line)
            if m:
                w, h, x, y = map(int, m.groups())
                return x, y, w, h
    return None


def _ctl(env, *args) -> str:
    run = subprocess.run([sys.executable, "-m", "vcam", "ctl", *args], env=env, capture_output=True, text=True)
    return run.stdout


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_tray_docks_and_its_menu_drives_the_pipeline(xserver, tmp_path):
    env = xserver
    log = tmp_path / "vcam.log"
    with open(log, "w") as out:
        app = subprocess.Popen(
            # -X faulthandler: if it ever fails to quit, SIGABRT makes it print every thread's stack.
            ["dbus-run-session", "--", sys.executable, "-X", "faulthandler", "-m", "vcam", "run", "--demo"]
            + ["--output", "null"],
            env=env,
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        x, y, w, h = _wait(lambda: _icon_geometry(env), 60, "the icon to dock in trayer")
        assert w >= 16 and h >= 16
        _wait(lambda: "Anonymizing" in _ctl(env, "status"), 60, "anonymization to start")
        xdo = lambda *a: subprocess.run(["xdotool", *a], env=env, check=True)  # noqa: E731

        def choose(*keys: str) -> None:
            xdo("mousemove", str(x + w // 2), str(y + h // 2), "click", "1")
            time.sleep(1.0)
            xdo("key", "--delay", "150", *keys)

        # First sensitive item (the status line is not): "Anonymize faces" -> pauses.
        choose("Down", "Return")
        _wait(lambda: "enabled = False" in _ctl(env, "status"), 10, "the pause to reach the pipeline")
        assert "PAUSED" in _wait(lambda: _icon_geometry(env) and _title(env), 5, "the icon title")
        shot = os.environ.get("VCAM_SCREENSHOT")
        # Style (third item) > Pixelate (second radio item).
        choose("Down", "Down", "Down", "Right", "Down")
        if shot and shutil.which("import"):
            time.sleep(0.5)
            subprocess.run(["import", "-window", "root", "-crop", "560x300+720+0", shot], env=env, check=True)
        xdo("key", "Return")
        _wait(lambda: "style = pixelate" in _ctl(env, "status"), 10, "the style change")
        choose("Down", "Return")
        _wait(lambda: "enabled = True" in _ctl(env, "status"), 10, "anonymization to resume")
        # "Hide everyone but me" (sixth sensitive item: the demo has no Camera menu; separators are skipped).
        choose(*["Down"] * 6, "Return")
        _wait(lambda: "mode = all-but-me" in _ctl(env, "status"), 10, "the mode change")
        assert "no face enrolled: everyone hidden" in _ctl(env, "status")
        # Quit is the last item.
        choose("Up", "Return")
        quit_at = time.monotonic()
        assert _wait_or_dump(app, log, 10) == 0, log.read_text()[-2000:]
        print(f"quit took {time.monotonic() - quit_at:.2f} s; {log.read_text().count('tray icon shown')} icon")
        assert "tray icon shown" in log.read_text()
        saved_path = Path(env["HOME"]) / ".config" / "vcam" / "config.toml"
        assert 'style = "pixelate"' in saved_path.read_text()
        # The pause was never saved (changes are written key by key now: `enabled` is simply absent).
        saved, warnings = config.load(saved_path)
        assert not warnings and saved.enabled and saved.style == "pixelate"
    finally:
        if app.poll() is None:
            app.kill()


def _wait_or_dump(app: subprocess.Popen, log: Path, timeout: float) -> int:
    """The exit code; if the app has not exited in `timeout`, fail with the stacks of all its threads."""
    try:
        return app.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        children = Path(f"/proc/{app.pid}/task/{app.pid}/children")
        for pid in children.read_text().split() if children.exists() else []:
            os.kill(int(pid), signal.SIGABRT)
        time.sleep(3)
        pytest.fail(f"still running {timeout:.0f} s after Quit; its threads:\n{log.read_text()[-6000:]}")


def _title(env) -> str:
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
    return next((line for line in tree.splitlines() if '"Face Anonymizer Camera:' in line), "")


def _window_titled(env, title: str) -> bool:
    tree = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True).stdout
    return f'"{title}"' in tree


def test_preview_window_opens_and_closes_on_command(xserver, sample_path, tmp_path):
    """`vcam ctl show` opens the preview (a child process, so its Qt never meets the tray's GTK); off closes it."""
    env = xserver
    still = str(sample_path / STILL)
    app = subprocess.Popen(
        [sys.executable, "-m", "vcam", "run", "--input", still, "--output", "window", "--no-tray"],
        env=env,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait(lambda: _window_titled(env, "Face Anonymizer Camera (output)"), 60, "the output window")
        _wait(lambda: "Anonymizing" in _ctl(env, "status"), 60, "anonymization to start")
        _ctl(env, "show")
        _wait(lambda: _window_titled(env, "Face Anonymizer Camera - preview"), 30, "the preview window")
        _ctl(env, "set", "preview", "off")
        _wait(lambda: not _window_titled(env, "Face Anonymizer Camera - preview"), 10, "the preview to close")
        assert app.poll() is None, "closing the preview must not stop the camera"
        _ctl(env, "quit")
        assert app.wait(timeout=10) == 0
    finally:
        if app.poll() is None:
            app.kill()

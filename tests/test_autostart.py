"""Start at login for each OS: files written into a temporary HOME and parsed back; the registry through its seam."""

from __future__ import annotations

import configparser
import os
import plistlib
import shlex
import subprocess
import sys

from conftest import ROOT

from vcam.app.autostart import NAME, Autostart, desktop_entry, vcam_command

COMMAND = ["/home/ann/my venv/bin/vcam"]


def test_linux_desktop_entry(tmp_path):
    auto = Autostart(platform="linux", home=tmp_path, command=COMMAND)
    assert not auto.enabled()
    path = tmp_path / ".config" / "autostart" / "face-anonymizer-camera.desktop"
    assert auto.enable() == str(path)
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str
    entry.read(path)
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application"
    assert desktop["Name"] == NAME
    assert desktop["X-GNOME-Autostart-enabled"] == "true"
    assert shlex.split(desktop["Exec"]) == COMMAND, "a path with a space must survive quoting"
    assert auto.enabled()
    auto.disable()
    assert not auto.enabled() and not path.exists()


def test_macos_launch_agent(tmp_path):
    auto = Autostart(platform="darwin", home=tmp_path, command=COMMAND)
    auto.enable()
    path = tmp_path / "Library" / "LaunchAgents" / "org.vcam.face-anonymizer-camera.plist"
    plist = plistlib.loads(path.read_bytes())
    assert plist["Label"] == "org.vcam.face-anonymizer-camera"
    assert plist["ProgramArguments"] == COMMAND
    assert plist["RunAtLoad"] is True
    auto.disable()
    assert not path.exists()


class DictRegistry:
    """The Run key as a dict: the test double at the winreg seam."""

    def __init__(self):
        self.values = {}

    def get(self, name):
        return self.values.get(name)

    def set(self, name, value):
        self.values[name] = value

    def delete(self, name):
        self.values.pop(name, None)


def test_windows_run_key():
    reg = DictRegistry()
    auto = Autostart(platform="win32", registry=reg, command=[r"C:\Users\Ann\venv\Scripts\vcam.exe"])
    assert not auto.enabled()
    auto.enable()
    assert reg.values == {NAME: r'"C:\Users\Ann\venv\Scripts\vcam.exe"'}
    assert auto.enabled()
    auto.disable()
    assert reg.values == {}


def test_command_is_absolute_and_exists():
    command = vcam_command()
    assert os.path.isabs(command[0]) and os.access(command[0], os.X_OK)
    assert f"Exec={command[0]}" in desktop_entry(command) or " " in command[0]


def test_cli_autostart_in_temporary_home(tmp_path):
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT), "DISPLAY": ""}
    env.pop("XDG_CONFIG_HOME", None)

    def run(*args):
        return subprocess.run(
            [sys.executable, "-m", "vcam", "autostart", *args], env=env, capture_output=True, text=True
        )

    assert "disabled" in run("status").stdout
    assert run("enable").returncode == 0
    entry = configparser.ConfigParser(interpolation=None)
    entry.read(tmp_path / ".config" / "autostart" / "face-anonymizer-camera.desktop")
    exec_line = shlex.split(entry["Desktop Entry"]["Exec"])
    assert os.path.isabs(exec_line[0]) and os.access(exec_line[0], os.X_OK)
    assert "enabled" in run("status").stdout
    assert run("disable").returncode == 0
    assert "disabled" in run("status").stdout

"""config.toml is the user's: a change from the tray or `vcam ctl` sets its keys and keeps the rest."""

from __future__ import annotations

import stat
import subprocess
import sys

from conftest import ROOT

from vcam.app import config

USERS_FILE = """\
# my camera settings
style = "pixelate"   # pixelate for calls with clients

# the laptop's second camera
camera = "1"
intensity = 40
"""


def test_a_change_keeps_the_users_comments_order_and_other_keys(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(USERS_FILE)
    assert config.save_changes({"intensity": 85, "detection_range": "far"}, path) is None
    text = path.read_text()
    assert text.startswith(USERS_FILE.replace("intensity = 40", "intensity = 85"))
    assert text.rstrip().endswith('detection_range = "far"')
    saved, warnings = config.load(path)
    assert not warnings and (saved.intensity, saved.detection_range, saved.style) == (85, "far", "pixelate")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_a_first_change_creates_a_small_file(tmp_path):
    path = tmp_path / "sub" / "config.toml"
    assert config.save_changes({"style": "solid"}, path) is None
    assert path.read_text() == config.HEADER + 'style = "solid"\n'


def test_a_file_with_errors_is_never_rewritten(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(USERS_FILE + "intensity_typo = 3\n")
    before = path.read_bytes()
    note = config.save_changes({"intensity": 85}, path)
    assert note and "intensity_typo" in note and str(path) in note
    assert path.read_bytes() == before


def test_help_prints_the_settings_path_on_one_line(tmp_path):
    env = {"HOME": str(tmp_path), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-m", "vcam", "--help"], env=env, capture_output=True, text=True).stdout
    assert f"settings: {tmp_path}/.config/vcam/config.toml\n" in out

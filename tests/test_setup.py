"""`vcam setup`: shows its plan, asks once, runs the root steps in one privileged shell (a recorder here),
writes the launcher entry, and verifies; nothing runs as root without the confirmation."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from vcam import assets
from vcam.app import setup
from vcam.pipeline.sinks import CARD_LABEL

DEVICE = "/dev/video9"


class Recorder:
    """Stands in for pkexec/sudo: records each privileged command and answers with `status`."""

    def __init__(self, status: int = 0) -> None:
        self.calls: list[list[str]] = []
        self.status = status

    def __call__(self, argv: list[str]) -> int:
        self.calls.append(argv)
        return self.status


def system(tmp_path: Path, **changes) -> setup.System:
    base = dict(module_available=True, module_loaded=False, labelled_device=None, data_home=tmp_path / "share")
    return setup.System(**{**base, **changes})


def run(tmp_path, *, answer="y", dry_run=False, recorder=None, verify=lambda: DEVICE, **changes):
    lines: list[str] = []
    recorder = recorder or Recorder()
    status = setup.run_setup(
        dry_run=dry_run,
        assume_yes=False,
        system=system(tmp_path, **changes),
        ask=lambda prompt: lines.append(prompt) or answer,
        run_root=recorder,
        say=lines.append,
        verify=verify,
    )
    return status, "\n".join(lines), recorder


def test_dry_run_prints_every_step_and_changes_nothing(tmp_path):
    status, out, recorder = run(tmp_path, dry_run=True)
    assert status == 0 and recorder.calls == []
    assert f'modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="{CARD_LABEL}"' in out
    assert "/etc/modprobe.d/v4l2loopback.conf" in out and "/etc/modules-load.d/v4l2loopback.conf" in out
    assert "face-anonymizer-camera.desktop" in out and "Go ahead" not in out
    assert not (tmp_path / "share").exists()


def test_no_answer_runs_nothing_as_root(tmp_path):
    status, out, recorder = run(tmp_path, answer="")
    assert status == 1 and recorder.calls == [] and "Nothing changed" in out
    assert not (tmp_path / "share").exists()


def test_yes_runs_one_privileged_shell_then_writes_the_launcher_and_verifies(tmp_path):
    status, out, recorder = run(tmp_path)
    assert status == 0 and DEVICE in out
    (argv,) = recorder.calls
    assert argv[:2] == ["sh", "-c"]
    script = argv[2]
    assert script.startswith("set -e\n")
    assert f'modprobe v4l2loopback devices=1 exclusive_caps=1 card_label="{CARD_LABEL}"' in script
    assert "> /etc/modprobe.d/v4l2loopback.conf" in script and "> /etc/modules-load.d/v4l2loopback.conf" in script
    # The boot files the script writes hold what modprobe needs (run the printf lines into a scratch folder).
    scratch = tmp_path / "etc"
    for line in script.splitlines()[1:]:
        if line.startswith("printf"):
            line = line.replace("/etc/", f"{scratch}/")
            (scratch / Path(line.rsplit("> ", 1)[1]).parent.name).mkdir(parents=True, exist_ok=True)
            subprocess.run(["sh", "-c", line], check=True)
    assert (scratch / "modprobe.d" / "v4l2loopback.conf").read_text() == (
        f'options v4l2loopback devices=1 exclusive_caps=1 card_label="{CARD_LABEL}"\n'
    )
    assert (scratch / "modules-load.d" / "v4l2loopback.conf").read_text() == "v4l2loopback\n"
    entry = (tmp_path / "share" / "applications" / "face-anonymizer-camera.desktop").read_text()
    assert "Name=Face Anonymizer Camera\n" in entry and "Icon=face-anonymizer-camera\n" in entry
    assert "Exec=" in entry and "X-GNOME-Autostart" not in entry
    icon = tmp_path / "share" / "icons" / "hicolor" / "256x256" / "apps" / "face-anonymizer-camera.png"
    assert icon.stat().st_size > 0


def test_a_module_loaded_without_our_device_is_reloaded_with_it(tmp_path):
    _, _, recorder = run(tmp_path, module_loaded=True)
    lines = recorder.calls[0][2].splitlines()
    assert lines[1] == "modprobe -r v4l2loopback" and lines[2].startswith("modprobe v4l2loopback ")


def test_an_existing_persistent_device_needs_no_root(tmp_path):
    status, out, recorder = run(tmp_path, module_loaded=True, labelled_device=DEVICE, persistent=True)
    assert status == 0 and recorder.calls == [] and "nothing as root" in out


def test_a_missing_module_is_installed_loaded_and_persisted_in_the_one_root_shell(tmp_path):
    installer = setup.install_command(lambda tool: "/usr/bin/apt-get" if tool == "apt-get" else None)
    status, out, recorder = run(tmp_path, dry_run=True, module_available=False, installer=installer)
    assert status == 0 and recorder.calls == []
    for step in (
        "apt-get install -y v4l2loopback-dkms",
        "modprobe v4l2loopback devices=1",
        "modprobe.d",
        "modules-load.d",
    ):
        assert step in out, out
    assert "install the v4l2loopback module" in out and "at every boot" in out
    status, out, recorder = run(tmp_path, module_available=False, installer=installer, verify=lambda: DEVICE)
    lines = recorder.calls[0][2].splitlines()
    assert lines[1] == "apt-get install -y v4l2loopback-dkms" and lines[2].startswith("modprobe v4l2loopback ")
    assert status == 0


def test_without_a_known_package_manager_the_plan_still_shows_load_and_persist(tmp_path):
    assert setup.install_command(lambda tool: None) is None
    status, out, recorder = run(tmp_path, dry_run=True, module_available=False, installer=None)
    assert status == 0 and "no known package manager" in out and "v4l2loopback-dkms" in out
    assert "modprobe v4l2loopback devices=1" in out and "modules-load.d" in out


def test_setup_dry_run_on_this_machine_prints_the_whole_plan(tmp_path):
    """The real command, on a machine with or without the module: install (or its hint), load and persist."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path)}
    cmd = [sys.executable, "-m", "vcam", "setup", "--dry-run"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=60).stdout
    if sys.platform != "linux":
        pytest.skip("vcam setup is for Linux")
    assert "v4l2loopback" in out and "modules-load.d" in out and "face-anonymizer-camera.desktop" in out, out


def test_failed_root_steps_stop_before_anything_else(tmp_path):
    status, out, _ = run(tmp_path, recorder=Recorder(status=126))
    assert status == 1 and "exit 126" in out
    assert not (tmp_path / "share").exists()


@pytest.mark.skipif(sys.platform != "linux", reason="no_new_privs is Linux")
def test_setup_is_not_sandboxed_so_pkexec_and_sudo_can_become_root(tmp_path):
    code = (
        "import sys; from vcam.app import cli; sys.argv = ['vcam', 'setup', '--dry-run']; cli.entry(); "
        "print([l for l in open('/proc/self/status') if l.startswith('NoNewPrivs')][0])"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "XDG_DATA_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60).stdout
    assert "NoNewPrivs:\t0" in out, out


@pytest.mark.skipif(shutil.which("pipx") is None, reason="pipx is in the test extra: pip install '.[test]'")
def test_pipx_install_gives_a_working_vcam_with_its_models(tmp_path):
    """The README's `pipx install .`: its own venv, `vcam` on PATH, the models inside the package."""
    home = tmp_path / "pipx"
    env = {**os.environ, "PIPX_HOME": str(home), "PIPX_BIN_DIR": str(home / "bin"), "HOME": str(tmp_path)}
    pipx = shutil.which("pipx") or "pipx"
    proc = subprocess.run([pipx, "install", str(ROOT)], env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-2000:]
    doctor = subprocess.run(
        [str(home / "bin" / "vcam"), "doctor"], env=env, capture_output=True, text=True, timeout=120
    )
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    # Every bundled model, inside the installed package (BlazeFace x2, face mesh, iris, CenterFace, dlib's two).
    assert doctor.stdout.count("sha256 ok") == len(assets.MODEL_SHA256) == 7 and str(home) in doctor.stdout
    assert "[ok] face recognition (hide everyone but me): dlib" in doctor.stdout


def test_the_distribution_is_face_anonymizer_camera_with_the_package_version():
    """`pip show face-anonymizer-camera` works, and the version is written once (vcam/__init__.py)."""
    from importlib.metadata import version

    import vcam

    assert version("face-anonymizer-camera") == vcam.__version__

"""No network, checked where it happens: the kernel's syscalls (strace -f), not Python's audit hook.

mediapipe 1.x's native library sent DNS queries for play.googleapis.com on every run, invisible to
tests/test_privacy.py's audit hook. Here each vcam command runs under `strace -f` (native code and
child processes included) and may not create a single AF_INET or AF_INET6 socket, nor connect
anywhere but to a Unix socket. Then the sandbox itself: inside it an internet socket fails with
EPERM while AF_UNIX works, in every thread and in children, and mediapipe's own uploader is refused.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import STILL

from vcam import sandbox

HERE = Path(__file__).resolve().parent
VCAM = str(Path(sys.executable).with_name("vcam"))
CLIP = "../../assets/demo/intel-sv__head-pose-face-detection-female-and-male.mp4"
IMAGE = STILL
INTERNET = re.compile(r"socket\((AF_INET|AF_INET6|AF_PACKET)\b")
CONNECT = re.compile(r"connect\(\d+, \{sa_family=(\w+)")

pytestmark = pytest.mark.skipif(sys.platform != "linux" or sandbox.unsupported() is not None, reason="Linux only")


@pytest.fixture(scope="module")
def strace() -> str:
    path = shutil.which("strace")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("strace is required in CI (apt-get install strace)")
        pytest.skip("strace not installed (apt-get install strace)")
    return path


def traced(strace: str, tmp_path: Path, args: list[str], *, timeout: float = 180) -> tuple[str, str]:
    """Run `vcam ARGS` under strace -f; return (trace of socket/connect calls, stderr)."""
    log = tmp_path / "strace.log"
    out = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=socket,connect,sendto,sendmmsg", "-o", str(log), VCAM, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    return log.read_text(), out.stderr


def assert_offline(trace: str) -> None:
    internet = [line for line in trace.splitlines() if INTERNET.search(line)]
    assert internet == [], internet
    connects = CONNECT.findall(trace)
    assert set(connects) <= {"AF_UNIX"}, connects


def test_run_creates_no_internet_socket(strace, sample_path, tmp_path):
    trace, _ = traced(
        strace,
        tmp_path,
        ["run", "--no-tray", "--input", str(sample_path / CLIP), "--output", "null", "--seconds", "10"],
    )
    assert "socket(AF_UNIX" in trace, "the control socket shows the trace is live"
    assert_offline(trace)


def test_anonymize_image_and_video_create_no_internet_socket(strace, sample_path, tmp_path):
    """Through two worker processes (strace -f follows them): they inherit the sandbox."""
    args = ["anonymize", str(sample_path / IMAGE), str(sample_path / CLIP), "-o", "out", "--workers", "2"]
    trace, _ = traced(strace, tmp_path, [*args, "--report", "report.json"])
    assert len(list((tmp_path / "out").iterdir())) == 2
    assert json.loads((tmp_path / "report.json").read_text())["runner"] == "2 local processes"
    assert_offline(trace)


def test_face_recognition_creates_no_internet_socket(strace, sample_path, tmp_path, monkeypatch):
    """dlib's recognizer ("hide everyone but me") under strace -f: enrolment from a clip and a file run with
    --show-enrolled."""
    import cv2
    import numpy as np
    from conftest import sample_boxes

    from vcam.frames import Face
    from vcam.identity.impostors import calibrate
    from vcam.identity.recognizer import Recognizer
    from vcam.identity.store import EnrolmentStore

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    image = cv2.imread(str(sample_path / IMAGE))
    man = sample_boxes(IMAGE)[1]
    embeddings = Recognizer().embed(image, [Face(tuple(man), 1.0)])
    EnrolmentStore(tmp_path / "data" / "vcam" / "enrolled-face.json").save(embeddings, calibrate(embeddings))
    trace, _ = traced(strace, tmp_path, ["anonymize", "--show-enrolled", str(sample_path / IMAGE), "-o", "o.png"])
    assert_offline(trace)
    log = tmp_path / "enroll.log"
    subprocess.run(  # refused (two people), but the recognizer loaded and the clip was read
        [strace, "-f", "-qq", "-e", "trace=socket,connect", "-o", str(log), VCAM, "enroll", "--from", CLIP],
        capture_output=True,
        timeout=300,
        cwd=sample_path,
    )
    assert_offline(log.read_text())
    assert np.isfinite(EnrolmentStore(tmp_path / "data" / "vcam" / "enrolled-face.json").load().embeddings).all()


def test_doctor_reports_the_sandbox_and_creates_no_internet_socket(strace, tmp_path):
    log = tmp_path / "strace.log"
    out = subprocess.run(
        [strace, "-f", "-qq", "-e", "trace=socket,connect", "-o", str(log), VCAM, "doctor"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "[ok] network sandbox: seccomp filter active" in out.stdout, out.stdout
    assert "LiteRT" in out.stdout
    assert_offline(log.read_text())


def test_eval_creates_no_internet_socket(strace, sample_path, tmp_path):
    trace, _ = traced(
        strace,
        tmp_path,
        ["eval", "--eval-dir", str(sample_path), "--configs", "default", "--images", "2", "--videos", "eat"],
        timeout=600,
    )
    assert_offline(trace)


def test_running_camera_is_in_seccomp_filter_mode(sample_path, tmp_path):
    env = dict(os.environ, XDG_RUNTIME_DIR=str(tmp_path))
    child = subprocess.Popen(
        [VCAM, "run", "--no-tray", "--input", str(sample_path / CLIP), "--output", "null"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        time.sleep(4)
        assert child.poll() is None, child.stderr.read()
        status = Path(f"/proc/{child.pid}/status").read_text()
        assert re.search(r"^Seccomp:\s+2$", status, re.M), status
        assert re.search(r"^NoNewPrivs:\s+1$", status, re.M), status
    finally:
        child.send_signal(signal.SIGINT)
        child.communicate(timeout=30)
    assert child.returncode == 0


SANDBOXED = r"""
import socket, subprocess, sys, threading
from vcam import sandbox
done = threading.Event(); go = threading.Event(); seen = {}
def early_thread():  # started before the filter: TSYNC must cover it too
    go.wait()
    try:
        socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
        seen["thread"] = "created"
    except PermissionError:
        seen["thread"] = "EPERM"
t = threading.Thread(target=early_thread); t.start()
status = sandbox.install()
assert status.active, status
go.set(); t.join()
for family in (socket.AF_INET, socket.AF_INET6):
    try:
        socket.socket(family, socket.SOCK_DGRAM)
        print("internet socket created")
    except PermissionError:
        pass
a, b = socket.socketpair(socket.AF_UNIX)
a.sendall(b"ok"); assert b.recv(2) == b"ok"
child = subprocess.run([sys.executable, "-c", "import socket; socket.socket()"], capture_output=True, text=True)
print("thread", seen["thread"], "child", "PermissionError" in child.stderr)
"""


def test_inside_the_sandbox_internet_sockets_fail_and_unix_sockets_work():
    out = subprocess.run([sys.executable, "-c", SANDBOXED], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["thread", "EPERM", "child", "True"], out.stdout


def test_the_sandbox_refuses_mediapipes_uploader(strace, sample_path, tmp_path):
    """The offender itself, run inside the sandbox: its internet sockets fail, none is created."""
    pytest.importorskip("mediapipe")
    log = tmp_path / "strace.log"
    out = subprocess.run(
        [
            strace,
            "-f",
            "-qq",
            "-e",
            "trace=socket",
            "-o",
            str(log),
            sys.executable,
            str(HERE / "mediapipe_reference.py"),
            "far",
            "0.4",
            str(sample_path / IMAGE),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    attempts = [line for line in log.read_text().splitlines() if INTERNET.search(line)]
    assert attempts, "mediapipe 1.x tries to reach the network (if this fails, it stopped: good news)"
    assert all("= -1 EPERM" in line for line in attempts), attempts


def test_vcam_never_imports_mediapipe(sample_path, tmp_path):
    code = (
        "import sys; from vcam.app.cli import main; "
        "import vcam.evaluation.evaluate, vcam.evaluation.methods, vcam.app.service; "
        f"rc = main(['anonymize', {str(sample_path / IMAGE)!r}, '-o', {str(tmp_path / 'o.png')!r}]); "
        "print(rc, 'mediapipe' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["0", "False"], out.stderr[-2000:]


QUIET = r"""
import os, sys, threading, time
from vcam.detection.detect import BlazeFaceDetector, quiet_native_stderr
with quiet_native_stderr():
    t = threading.Thread(target=lambda: print("other thread line", file=sys.stderr, flush=True))
    t.start(); t.join()
    BlazeFaceDetector()  # LiteRT prints its XNNPACK INFO line here
os.write(2, b"after\n")
"""


def test_native_log_noise_is_dropped_and_other_output_kept():
    out = subprocess.run([sys.executable, "-c", QUIET], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stderr.splitlines() == ["other thread line", "after"], out.stderr

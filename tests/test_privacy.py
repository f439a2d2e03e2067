"""Privacy: a live run writes nothing but what the user asked for and opens no socket but the control channel.

The run happens in a child process with HOME, the temp folder, the runtime folder and the working folder
pointed at empty folders, and a Python audit hook recording every socket and every file opened for writing.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

from conftest import ROOT
from test_control import STILL

HARNESS = r"""
import json, os, sys
events = []
WRITE = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
def hook(event, args):
    if event == "socket.__new__":
        events.append(["socket", int(args[1])])
    elif event in ("socket.connect", "socket.bind", "socket.sendto", "socket.getaddrinfo"):
        events.append([event, str(args[1] if len(args) > 1 else args[0])])
    elif event == "open":
        path, mode, flags = args
        writing = any(c in mode for c in "wax+") if isinstance(mode, str) else bool(flags & WRITE)
        if writing:
            events.append(["write", str(path)])
sys.addaudithook(hook)
from vcam.app.cli import main
code = main(sys.argv[1:], sandbox=True)
sys.__stdout__.write("AUDIT" + json.dumps(events) + "\n")
sys.exit(code)
"""


def tree(folder) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_live_run_writes_nothing_and_opens_only_the_control_socket(sample_path, tmp_path):
    folders = {name: tmp_path / name for name in ("home", "tmp", "rt", "cwd")}
    for folder in folders.values():
        folder.mkdir(mode=0o700)
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env.update(
        HOME=str(folders["home"]),
        TMPDIR=str(folders["tmp"]),
        XDG_RUNTIME_DIR=str(folders["rt"]),
        PYTHONPATH=str(ROOT),
        DISPLAY="",
    )
    args = ["run", "--input", str(sample_path / STILL), "--output", "null", "--no-tray", "--stats"]
    child = subprocess.Popen(
        [sys.executable, "-c", HARNESS, *args],
        cwd=folders["cwd"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)
    assert child.poll() is None, child.communicate()[1][-2000:]
    child.send_signal(signal.SIGINT)
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err[-2000:]
    events = json.loads(next(line[5:] for line in out.splitlines() if line.startswith("AUDIT")))

    sockets = [e for e in events if e[0] == "socket"]
    assert sockets and all(family == 1 for _, family in sockets), f"only AF_UNIX sockets: {sockets}"
    socket_path = str(folders["rt"] / "vcam" / "control.sock")
    assert [e for e in events if e[0].startswith("socket.")] == [["socket.bind", socket_path]]
    writes = {path for kind, path in events if kind == "write"}
    # os.devnull: native log noise of the model loaders is silenced into it.
    assert writes <= {str(folders["rt"] / "vcam" / "instance.lock"), os.devnull}, writes
    assert tree(folders["home"]) == [] and tree(folders["tmp"]) == [] and tree(folders["cwd"]) == []
    assert tree(folders["rt"]) == ["vcam", "vcam/instance.lock"]

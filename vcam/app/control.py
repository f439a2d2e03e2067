"""The local control channel: `vcam ctl ...` and a second `vcam` start talk to the running camera.

Reachable by the current user only. Where the OS has Unix sockets, the socket
lives in a folder only the owner may enter (0700) and is itself 0600; the
server also checks the peer's uid where the OS reports it. Elsewhere (Windows)
it listens on loopback and every request must carry a random secret from a
file in the user's own config folder.

The protocol is one JSON object per connection, one JSON answer back. Only the
commands in `COMMANDS` exist; anything else, oversized or malformed gets an
error answer and never reaches the camera.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import stat
import struct
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import platformdirs

COMMANDS = ("status", "on", "off", "toggle", "set", "show", "quit", "enroll", "forget")
MAX_REQUEST = 4096
Handler = Callable[[dict], dict]


class ControlError(Exception):
    """The running camera could not be reached, or it refused the request."""


def runtime_dir() -> Path:
    """The per-user folder for the socket and lock, created 0700 and checked to be ours alone."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # platformdirs warns when XDG_RUNTIME_DIR is unset; its fallback is fine
        path = Path(platformdirs.user_runtime_dir("vcam", appauthor=False))
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    if hasattr(os, "getuid"):
        info = path.stat()
        if info.st_uid != os.getuid():
            raise ControlError(f"{path} belongs to another user; refusing to use it for the control socket")
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(path, 0o700)
    return path


@dataclass(frozen=True)
class Endpoint:
    """Where the running instance listens: a Unix socket path, or a loopback port plus secret file."""

    folder: Path
    use_unix: bool = hasattr(socket, "AF_UNIX")

    @property
    def socket_path(self) -> Path:
        return self.folder / "control.sock"

    @property
    def secret_path(self) -> Path:
        return self.folder / "control.secret"

    @property
    def lock_path(self) -> Path:
        return self.folder / "instance.lock"

    @classmethod
    def default(cls) -> Endpoint:
        return cls(runtime_dir())


def parse_request(raw: bytes) -> dict:
    """Decode and validate one request; ValueError says what is wrong. Never trusts the sender."""
    if len(raw) > MAX_REQUEST:
        raise ValueError("request too large")
    try:
        req = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ValueError("request is not JSON") from None
    if not isinstance(req, dict) or req.get("cmd") not in COMMANDS:
        raise ValueError(f"unknown command; known: {', '.join(COMMANDS)}")
    if req["cmd"] == "set":
        if not isinstance(req.get("key"), str) or "value" not in req:
            raise ValueError("set needs a key and a value")
    if req["cmd"] == "enroll":
        seconds = req.get("seconds", 6.0)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 1 <= seconds <= 120:
            raise ValueError("enroll needs seconds from 1 to 120")
    return req


class ControlServer:
    """Answers control requests on a background thread until `close`."""

    def __init__(self, endpoint: Endpoint, handler: Handler) -> None:
        self.endpoint = endpoint
        self._handler = handler
        self._secret: str | None = None
        if endpoint.use_unix:
            path = endpoint.socket_path
            path.unlink(missing_ok=True)  # stale socket of a crashed instance; the instance lock is held by now
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            old = os.umask(0o177)
            try:
                self._sock.bind(str(path))
            finally:
                os.umask(old)
            os.chmod(path, 0o600)
        else:
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._sock.bind(("127.0.0.1", 0))
            self._secret = secrets.token_hex(16)
            port = self._sock.getsockname()[1]
            _write_private(endpoint.secret_path, json.dumps({"port": port, "secret": self._secret}))
        self._sock.listen(4)
        self._sock.settimeout(0.2)
        self._closed = threading.Event()
        self.rejected = 0
        self._thread = threading.Thread(target=self._serve, name="vcam-control", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with conn:
                conn.settimeout(1.0)
                try:
                    answer = self._answer(conn)
                except OSError:
                    continue
                with contextlib.suppress(OSError):
                    conn.sendall(json.dumps(answer).encode() + b"\n")

    def _answer(self, conn: socket.socket) -> dict:
        if self.endpoint.use_unix and not _same_user(conn):
            self.rejected += 1
            return {"ok": False, "error": "permission denied"}
        raw = _read_request(conn)
        try:
            req = parse_request(raw)
            if self._secret is not None and not secrets.compare_digest(str(req.get("secret", "")), self._secret):
                raise ValueError("permission denied")
        except ValueError as exc:
            self.rejected += 1
            return {"ok": False, "error": str(exc)}
        try:
            return self._handler(req)
        except ValueError as exc:
            return {"ok": False, "error": str(exc)}
        except Exception as exc:  # noqa: BLE001 - a bad request must never take the camera down
            return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}

    def close(self) -> None:
        self._closed.set()
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a blocked accept() at once
        self._sock.close()
        self._thread.join(timeout=2.0)
        if self.endpoint.use_unix:
            self.endpoint.socket_path.unlink(missing_ok=True)
        else:
            self.endpoint.secret_path.unlink(missing_ok=True)


def request(endpoint: Endpoint, req: dict, timeout: float = 3.0) -> dict:
    """Send one request to the running camera; ControlError when none runs or it refused."""
    try:
        if endpoint.use_unix:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            address: object = str(endpoint.socket_path)
        else:
            info = json.loads(endpoint.secret_path.read_text())
            req = {**req, "secret": info["secret"]}
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            address = ("127.0.0.1", int(info["port"]))
        with sock:
            sock.settimeout(timeout)
            sock.connect(address)
            sock.sendall(json.dumps(req).encode() + b"\n")
            sock.shutdown(socket.SHUT_WR)
            answer = json.loads(_read_request(sock) or b"{}")
    except (FileNotFoundError, ConnectionRefusedError):
        raise ControlError("Face Anonymizer Camera is not running (start it with: vcam)") from None
    except PermissionError:
        raise ControlError("permission denied: the running camera belongs to another user") from None
    except (OSError, ValueError, KeyError) as exc:
        raise ControlError(f"cannot talk to the running camera: {exc}") from None
    if not answer.get("ok"):
        raise ControlError(answer.get("error", "the running camera refused the request"))
    return answer


class InstanceLock:
    """Held for the life of the camera so that a second start does not fight for the webcam."""

    def __init__(self, endpoint: Endpoint) -> None:
        self._path = endpoint.lock_path
        self._fh = None

    def acquire(self) -> bool:
        fh = open(self._path, "a+")  # noqa: SIM115 - held open for the process's life
        try:
            if sys.platform == "win32":
                import msvcrt

                msvcrt.locking(fh.fileno(), msvcrt.LK_NBLCK, 1)
            else:
                import fcntl

                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            fh.close()
            return False
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def _read_request(conn: socket.socket) -> bytes:
    chunks, size = [], 0
    while size <= MAX_REQUEST:
        chunk = conn.recv(1024)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if b"\n" in chunk:
            break
    return b"".join(chunks).strip()


def _same_user(conn: socket.socket) -> bool:
    """The peer's uid, where the kernel reports it (Linux SO_PEERCRED); elsewhere the 0700 folder decides."""
    if not hasattr(socket, "SO_PEERCRED"):
        return True
    creds = conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return uid == os.getuid()


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)

"""No network, enforced by the kernel (Linux): a seccomp filter that refuses internet sockets.

A privacy camera must never talk to the network, and a Python audit hook cannot promise that: it
never sees what native libraries do (that is how mediapipe 1.x's telemetry uploader went unnoticed).
`install()` asks the kernel to refuse, for this process, every thread of it and every child it
starts (the preview window), the creation of any socket that is not AF_UNIX (control socket,
D-Bus for the tray) or AF_NETLINK (local kernel queries): ``socket(AF_INET | AF_INET6 | AF_PACKET
| ..., ...)`` fails with EPERM, so no library, present or future, can reach the network.

The filter is a small classic-BPF program (below, instruction by instruction) loaded with
``seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC)`` after ``PR_SET_NO_NEW_PRIVS``,
through ctypes: libseccomp's Python binding is not on PyPI as a wheel that installs on a fresh
machine, and the program is fourteen instructions. It also refuses ``io_uring_setup`` (io_uring can
create sockets without the socket syscall) and, on x86_64, x32-ABI syscalls (another syscall table
with the same architecture tag). Supported: x86_64 and aarch64; elsewhere `install()` reports why
it is inactive and changes nothing. macOS and Windows have no equivalent: there the runtime that
contains no uploader (`vcam.detection.detect`) is the guarantee.
"""

from __future__ import annotations

import ctypes
import errno
import platform
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class SandboxStatus:
    """Whether this process runs under the no-network filter, and why (not)."""

    active: bool
    detail: str


@dataclass(frozen=True, slots=True)
class _Arch:
    audit_arch: int  # AUDIT_ARCH_* from <linux/audit.h>
    nr_socket: int
    nr_io_uring_setup: int
    nr_seccomp: int
    x32_bit: int  # syscall numbers with this bit belong to another ABI (x32); 0 where there is none


_ARCHES = {
    "x86_64": _Arch(audit_arch=0xC000003E, nr_socket=41, nr_io_uring_setup=425, nr_seccomp=317, x32_bit=0x40000000),
    "aarch64": _Arch(audit_arch=0xC00000B7, nr_socket=198, nr_io_uring_setup=425, nr_seccomp=277, x32_bit=0),
}
_MACHINE_ALIASES = {"amd64": "x86_64", "arm64": "aarch64"}

# <linux/filter.h>, <linux/seccomp.h>, <linux/prctl.h>
_BPF_LD_W_ABS = 0x00 | 0x00 | 0x20  # BPF_LD | BPF_W | BPF_ABS
_BPF_JEQ_K = 0x05 | 0x10 | 0x00  # BPF_JMP | BPF_JEQ | BPF_K
_BPF_JGE_K = 0x05 | 0x30 | 0x00  # BPF_JMP | BPF_JGE | BPF_K
_BPF_RET_K = 0x06 | 0x00  # BPF_RET | BPF_K
_SECCOMP_RET_ALLOW = 0x7FFF0000
_SECCOMP_RET_ERRNO = 0x00050000
_SECCOMP_SET_MODE_FILTER = 1
_SECCOMP_FILTER_FLAG_TSYNC = 1
_PR_SET_NO_NEW_PRIVS = 38
# struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6]
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16  # args[0]'s low 32 bits (little-endian on both arches)
_AF_UNIX, _AF_NETLINK = 1, 16


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _program(arch: _Arch) -> list[tuple[int, int, int, int]]:
    """The filter, as (code, jump-if-true, jump-if-false, k); jumps count instructions skipped."""
    deny = _SECCOMP_RET_ERRNO | errno.EPERM
    return [
        (_BPF_LD_W_ABS, 0, 0, _OFF_ARCH),  # 0  A = arch
        (_BPF_JEQ_K, 1, 0, arch.audit_arch),  # 1  native ABI? -> 3
        (_BPF_RET_K, 0, 0, deny),  # 2  another ABI (i386 on x86_64): refuse everything
        (_BPF_LD_W_ABS, 0, 0, _OFF_NR),  # 3  A = syscall number
        (_BPF_JGE_K, 5, 0, arch.x32_bit) if arch.x32_bit else (_BPF_JEQ_K, 0, 0, 0xFFFFFFFF),  # 4  x32 -> 10
        (_BPF_JEQ_K, 4, 0, arch.nr_io_uring_setup),  # 5  io_uring -> 10
        (_BPF_JEQ_K, 1, 0, arch.nr_socket),  # 6  socket() -> 8
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),  # 7  anything else
        (_BPF_LD_W_ABS, 0, 0, _OFF_ARG0),  # 8  A = domain
        (_BPF_JEQ_K, 2, 1, _AF_UNIX),  # 9  AF_UNIX -> 12, else -> 11
        (_BPF_RET_K, 0, 0, deny),  # 10 refuse
        (_BPF_JEQ_K, 0, 1, _AF_NETLINK),  # 11 AF_NETLINK -> 12, else -> 13
        (_BPF_RET_K, 0, 0, _SECCOMP_RET_ALLOW),  # 12 allow
        (_BPF_RET_K, 0, 0, deny),  # 13 refuse
    ]


def _arch() -> _Arch | None:
    machine = platform.machine().lower()
    return _ARCHES.get(_MACHINE_ALIASES.get(machine, machine))


def _kernel_mode() -> str:
    """``Seccomp:`` of /proc/self/status: 0 none, 1 strict, 2 filter (ours, or one the parent set)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key == "Seccomp":
                return value.strip()
    except OSError:
        pass
    return "?"


def unsupported() -> SandboxStatus | None:
    """Why this system can have no filter (not Linux, another CPU), or None where it can."""
    if sys.platform != "linux":
        return SandboxStatus(False, f"no kernel sandbox on {sys.platform}; vcam's detector runtime has no uploader")
    if _arch() is None:
        return SandboxStatus(False, f"no seccomp filter for {platform.machine()} (x86_64 and aarch64 only)")
    return None


def install() -> SandboxStatus:
    """Install the filter for this process and everything it starts. Safe to call twice (filters stack)."""
    reason = unsupported()
    if reason:
        return reason
    arch = _arch()
    assert arch is not None
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        return SandboxStatus(False, f"prctl(PR_SET_NO_NEW_PRIVS) failed: {errno.errorcode.get(ctypes.get_errno())}")
    program = _program(arch)
    filters = (_SockFilter * len(program))(*program)
    fprog = _SockFprog(len(program), filters)
    libc.syscall.restype = ctypes.c_long
    # TSYNC: every thread already running (OpenBLAS, OpenCV pools) gets the filter too, not just this one.
    rc = libc.syscall(
        ctypes.c_long(arch.nr_seccomp),
        ctypes.c_long(_SECCOMP_SET_MODE_FILTER),
        ctypes.c_long(_SECCOMP_FILTER_FLAG_TSYNC),
        ctypes.byref(fprog),
    )
    if rc != 0:
        return SandboxStatus(False, f"seccomp() failed: {errno.errorcode.get(ctypes.get_errno(), rc)}")
    # Checked without opening a test socket: strace of a vcam run must show no AF_INET call at all.
    mode = _kernel_mode()
    if mode != "2":
        return SandboxStatus(False, f"seccomp() returned 0 but the kernel reports Seccomp: {mode}")
    return SandboxStatus(True, "seccomp filter active: the kernel refuses internet sockets (EPERM)")

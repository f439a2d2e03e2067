"""Keep an all-day process's memory flat under glibc (Linux); a no-op elsewhere.

Measured with bench/soak.py and injected detector hangs: every replaced detection thread left
50-100 MB of RSS behind, because glibc gives each new thread its own malloc arena and keeps freed
native memory (the model runtimes, OpenCV) in it. Capping the arenas and trimming after a detector is
released keeps RSS bounded (docs/history/BENCHMARKS-2026-11.md, soak).
"""

from __future__ import annotations

import ctypes
import functools
import sys

_M_ARENA_MAX = -8


@functools.cache
def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        # Not ctypes.util.find_library: it runs gcc with temporary files, and we write nothing.
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt  # noqa: B018 - glibc only (musl has neither call)
        libc.malloc_trim  # noqa: B018
    except (OSError, AttributeError):
        return None
    return libc


def limit_arenas(count: int = 2) -> bool:
    """Cap malloc arenas for the threads started from now on; True when applied."""
    libc = _libc()
    return bool(libc and libc.mallopt(_M_ARENA_MAX, count))


def trim() -> None:
    """Hand freed native memory back to the OS (after a detector was torn down)."""
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)

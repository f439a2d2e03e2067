"""One way to write a file so that nobody ever sees half of it: outputs, the report, the config, the
login and launcher entries. `--resume` relies on it: a file under its final name is complete."""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: Path, data: bytes, *, mode: int = 0o666) -> None:
    """Write `data` to a temporary file beside `path`, then rename it into place. Readers see the old
    file or the new one; on any failure or interrupt the temporary file is removed. `mode` is masked by
    the umask as for any new file (0o600: owner-only, as the config)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.partial")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

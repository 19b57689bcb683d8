"""Atomic file writes, shared by every layer: a reader never sees half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write(path: str | os.PathLike[str], write: Callable[[Path], Any], durable: bool = False) -> None:
    """Write ``path`` by calling ``write(tmp_path)`` on a temporary file in the same folder, then
    renaming it over ``path`` (atomic on POSIX and Windows). ``durable`` also fsyncs the data first,
    so the file survives a power loss and not only a crash. On any error the temporary file is
    removed and ``path`` is left as it was. The file gets the usual permissions (0666 less the
    umask), not the owner-only mode of a temporary file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise

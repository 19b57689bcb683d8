"""One object for several worker processes of this machine, its large arrays in shared memory.

The prepared arrays of a default run are about a gigabyte; pickling them into every worker would
copy them once per worker and take seconds each. :func:`published` pickles the object once with
pickle protocol 5 and keeps every large buffer (a numpy array's data, a pandas block's) OUT of the
pickle stream: the buffers are written once into one file in shared memory (``/dev/shm`` where it
has room, else the temporary folder, whose pages the kernel also shares), and the small stream and
the buffers' places travel as a :class:`SharedHandle`. A worker maps that file read-only and
unpickles the object with its arrays pointing into the mapping, so N workers read one copy (Ray's
object store works the same way). The arrays a worker gets are read-only, as Ray's are.

The file is removed when the ``published`` block ends; one left by a process that was killed (its
process id no longer runs) is removed by the next ``published`` call of the same user.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import mmap
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["SHARED_PREFIX", "SharedHandle", "published", "shared_folder"]

log = logging.getLogger("signals.execution")

#: the name of every shared file starts with this, then the owner's process id
SHARED_PREFIX = "csi300-shared-"
#: buffers at least this large go to the shared file; smaller ones stay in the pickle stream
OUT_OF_BAND_BYTES = 1 << 20
#: each buffer starts at a multiple of this (a cache line; SIMD loads like aligned data)
ALIGN = 64


@dataclass(frozen=True)
class SharedHandle:
    """What a worker needs to rebuild the object: the pickle stream, the shared file and the
    (offset, length) of each out-of-band buffer in it. Small: it is pickled into every worker."""

    payload: bytes
    path: str | None
    spans: tuple[tuple[int, int], ...]

    @property
    def shared_bytes(self) -> int:
        return sum(n for _, n in self.spans)

    def load(self) -> Any:
        """The object, its large arrays read-only views of the shared file (mapped, not read)."""
        if not self.spans:
            return pickle.loads(self.payload)
        assert self.path is not None
        with open(self.path, "rb") as fh:
            mapped = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        view = memoryview(mapped)  # the arrays keep the view, the view keeps the mapping
        return pickle.loads(self.payload, buffers=[view[o:o + n] for o, n in self.spans])


def shared_folder(nbytes: int) -> Path:
    """Where a shared file of ``nbytes`` goes: ``/dev/shm`` (memory) when it has room for it and
    64 MiB more, else the temporary folder; :class:`OSError` (ENOSPC) when neither has."""
    candidates = [Path("/dev/shm"), Path(tempfile.gettempdir())]
    for folder in candidates:
        try:
            if folder.is_dir() and shutil.disk_usage(folder).free >= nbytes + (64 << 20):
                return folder
        except OSError:
            continue
    raise OSError(errno.ENOSPC, f"no room for the {nbytes / 1e6:.0f} MB of arrays the worker processes share "
                  f"(looked in {', '.join(map(str, candidates))}): free some space, or run the windows in this "
                  "process with --set execution.workers=1")


def _remove_orphans(folder: Path) -> None:
    """Remove shared files whose owner process no longer runs (a killed run leaves its file)."""
    for p in folder.glob(f"{SHARED_PREFIX}*"):
        try:
            pid = int(p.name[len(SHARED_PREFIX):].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            with contextlib.suppress(OSError):
                p.unlink()
                log.info("removed %s, left by process %d, which no longer runs", p, pid)
        except PermissionError:  # another user's live process
            continue


@contextlib.contextmanager
def published(obj: Any, min_bytes: int = OUT_OF_BAND_BYTES) -> Iterator[SharedHandle]:
    """``obj`` pickled once, its buffers of ``min_bytes`` or more written to one shared file, for
    the life of the block (see the module's note). The handle's :meth:`SharedHandle.load` rebuilds
    it in another process of this machine."""
    big: list[pickle.PickleBuffer] = []

    def keep(buf: pickle.PickleBuffer) -> bool:  # False: out of band
        if buf.raw().nbytes >= min_bytes:
            big.append(buf)
            return False
        return True

    payload = pickle.dumps(obj, protocol=5, buffer_callback=keep)
    if not big:
        yield SharedHandle(payload=payload, path=None, spans=())
        return
    spans: list[tuple[int, int]] = []
    end = 0
    for buf in big:
        start = -(-end // ALIGN) * ALIGN
        spans.append((start, buf.raw().nbytes))
        end = start + buf.raw().nbytes
    folder = shared_folder(end)
    _remove_orphans(folder)
    fd, path = tempfile.mkstemp(prefix=f"{SHARED_PREFIX}{os.getpid()}-", suffix=".bin", dir=folder)
    try:
        with os.fdopen(fd, "wb") as fh:  # written, not mapped and filled: a full disk is an error, not SIGBUS
            for (start, _), buf in zip(spans, big, strict=True):
                fh.seek(start)
                fh.write(buf.raw())
        big.clear()  # the buffers are in the file: let the caller's arrays go
        yield SharedHandle(payload=payload, path=path, spans=tuple(spans))
    finally:
        with contextlib.suppress(OSError):
            os.unlink(path)

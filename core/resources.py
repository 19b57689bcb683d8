"""Wall time and peak memory of a command's stages (the run log and its manifest), and the memory
of this process and of the worker processes it started.

Memory is read from Linux's ``/proc`` (elsewhere: this process's peak, from ``getrusage``):

- :func:`rss_mb`: this process's resident memory now;
- :func:`tree_memory_mb`: this process and its child processes (the worker processes of a run,
  a local Ray) together, every page they share counted once: the private resident memory of each
  process plus the largest shared part of any of them (the shared arrays of the workers, the
  libraries). Reading it costs microseconds a process, so a sampler can poll it;
- :func:`max_rss_mb`: the peak resident memory of this process so far (a worker reports it);
- :func:`available_memory_mb`: what the system can still give without swapping.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["Timings", "available_memory_mb", "child_pids", "max_rss_mb", "rss_mb", "tree_memory_mb"]

log = logging.getLogger("backtests.run")

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def max_rss_mb() -> float:
    """Peak resident memory of this process so far, in MB (``getrusage``; KiB on Linux)."""
    import resource
    import sys

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 1e6 if sys.platform == "darwin" else peak * 1024 / 1e6


def _statm(pid: int | str = "self") -> tuple[int, int] | None:
    """(resident, shared) bytes of a process, None when it is gone or /proc is missing."""
    try:
        with open(f"/proc/{pid}/statm", encoding="ascii") as fh:
            fields = fh.read().split()
        return int(fields[1]) * _PAGE, int(fields[2]) * _PAGE
    except (OSError, ValueError, IndexError):
        return None


def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; elsewhere the peak so far)."""
    got = _statm()
    return got[0] / 1e6 if got is not None else max_rss_mb()


def child_pids(pid: int | str = "self") -> list[int]:
    """The process ids of the children of ``pid``, and of theirs (Linux; elsewhere none)."""
    out: list[int] = []
    todo = [str(pid)]
    while todo:
        here = todo.pop()
        try:
            tasks = list(Path(f"/proc/{here}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            try:
                kids = (task / "children").read_text(encoding="ascii").split()
            except OSError:
                continue
            for k in kids:
                if int(k) not in out:
                    out.append(int(k))
                    todo.append(k)
    return out


def tree_memory_mb(children: list[int] | None = None) -> float:
    """Resident memory of this process and ``children`` (default: all its descendants) in MB, each
    shared page counted once: the private memory of every process plus the largest shared part."""
    me = _statm()
    if me is None:
        return rss_mb()
    private, shared = me[0] - me[1], me[1]
    for pid in child_pids() if children is None else children:
        got = _statm(pid)
        if got is not None:
            private += got[0] - got[1]
            shared = max(shared, got[1])
    return (private + shared) / 1e6


def available_memory_mb() -> float | None:
    """Memory the system can give without swapping (Linux ``MemAvailable``), None if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024 / 1e6
    except (OSError, ValueError, IndexError):
        pass
    return None


@dataclass
class Timings:
    """Wall time and peak memory of each stage: ``peak_rss_mb``, this process's resident memory;
    ``peak_total_mb``, this process and its worker processes together (:func:`tree_memory_mb`).
    A sampler thread reads them every 0.1 s (the list of child processes every second)."""

    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)
    peak_total_mb: dict[str, float] = field(default_factory=dict)
    workers: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, number: int, total: int) -> Iterator[None]:
        log.info("[%d/%d] %s ...", number, total, name)
        peak = [rss_mb()]
        peak_all = [tree_memory_mb()]
        most_kids = [0]
        stop = threading.Event()

        def sample() -> None:
            kids: list[int] = []
            tick = 0
            while not stop.wait(0.1):
                if tick % 10 == 0:
                    kids = child_pids()
                    most_kids[0] = max(most_kids[0], len(kids))
                tick += 1
                peak[0] = max(peak[0], rss_mb())
                peak_all[0] = max(peak_all[0], tree_memory_mb(kids))

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        t0 = time.perf_counter()
        try:
            yield
        finally:
            stop.set()
            th.join()
            self.seconds[name] = round(time.perf_counter() - t0, 3)
            self.peak_rss_mb[name] = round(max(peak[0], rss_mb()), 1)
            self.peak_total_mb[name] = round(max(peak_all[0], self.peak_rss_mb[name]), 1)
            self.workers[name] = most_kids[0]
        if most_kids[0] and self.peak_total_mb[name] - self.peak_rss_mb[name] >= 50:  # not for a helper process
            log.info("[%d/%d] %s done in %.1f s (peak memory %.0f MB; with its %d child process(es) %.0f MB)",
                     number, total, name, self.seconds[name], self.peak_rss_mb[name], most_kids[0],
                     self.peak_total_mb[name])
        else:
            log.info("[%d/%d] %s done in %.1f s (peak memory %.0f MB)", number, total, name,
                     self.seconds[name], self.peak_rss_mb[name])

"""Wall time and peak resident memory of a command's stages (the run log and its manifest)."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

__all__ = ["Timings", "rss_mb"]

log = logging.getLogger("backtests.run")


def rss_mb() -> float:
    """Current resident memory of this process in MB (Linux /proc; elsewhere the peak so far)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3


@dataclass
class Timings:
    """Wall time and peak resident memory of each stage (a sampler thread reads RSS every 0.1 s)."""

    seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str, number: int, total: int) -> Iterator[None]:
        log.info("[%d/%d] %s ...", number, total, name)
        peak = [rss_mb()]
        stop = threading.Event()

        def sample() -> None:
            while not stop.wait(0.1):
                peak[0] = max(peak[0], rss_mb())

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
        log.info("[%d/%d] %s done in %.1f s (peak memory %.0f MB)", number, total, name,
                 self.seconds[name], self.peak_rss_mb[name])

"""Pacing and a circuit breaker for vendor calls.

- :class:`Pacer` spaces calls evenly so that a vendor's per-minute quota is never exceeded (tushare
  counts calls per minute and refuses the rest; eastmoney, behind akshare, throttles bursts).
- :class:`CircuitBreaker` stops an update when a vendor accepts connections but fails every call:
  after :attr:`CircuitBreaker.max_consecutive` failed attempts in a row, or when no call has
  succeeded for :attr:`CircuitBreaker.max_silence` seconds since a run of failures began, every
  further call raises :class:`~data_store.errors.VendorDownError` at once.

Both take an injectable clock and sleep, so tests run them without waiting.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from core.errors import ConfigError

from ..errors import VendorDownError

#: tushare pro's per-minute call quotas by account points (minimum points -> calls per minute), as
#: tushare's points table publishes them; the quota of an account is that of the highest level it
#: reaches. Pass ``--tushare-points`` (or set ``$TUSHARE_POINTS``) so updates are paced to yours.
TUSHARE_QUOTAS: dict[int, int] = {120: 50, 2000: 200, 5000: 500, 10000: 1000}
#: The level assumed when none is given: the one every new account has (the slowest quota).
TUSHARE_DEFAULT_POINTS = 120
#: akshare publishes no limit (its functions read public sites: eastmoney's kline API, sina,
#: csindex); eastmoney throttles bursts from one address, so calls are spaced to this many a minute.
AKSHARE_CALLS_PER_MINUTE = 120
#: Pace at this fraction of a quota, so clock skew and the vendor's own counting never tip it over.
QUOTA_SAFETY = 0.9


def tushare_calls_per_minute(points: int) -> float:
    """The paced call rate for a tushare account with ``points`` (:data:`TUSHARE_QUOTAS`)."""
    if points < min(TUSHARE_QUOTAS):
        raise ConfigError(
            f"--tushare-points {points} is below tushare's lowest level ({min(TUSHARE_QUOTAS)}): "
            "give your account's points (shown on your tushare.pro page)")
    quota = max(q for level, q in TUSHARE_QUOTAS.items() if points >= level)
    return quota * QUOTA_SAFETY


class Pacer:
    """Space calls at least ``60 / calls_per_minute`` seconds apart (thread-safe).

    ``calls_per_minute=None`` (or ``inf``) does not pace. :meth:`wait` blocks until the next call
    may start and books that slot.
    """

    def __init__(self, calls_per_minute: float | None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if calls_per_minute is not None and not calls_per_minute > 0:
            raise ConfigError(f"calls per minute must be > 0 (got {calls_per_minute})")
        self.calls_per_minute = calls_per_minute
        self.interval = 0.0 if calls_per_minute is None or math.isinf(calls_per_minute) else 60.0 / calls_per_minute
        self._clock = clock
        self._sleep = sleep
        self._next = -math.inf
        self._lock = threading.Lock()
        self.waited = 0.0  # total seconds spent waiting (reported by updates)

    def wait(self) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            now = self._clock()
            start = max(now, self._next)
            self._next = start + self.interval
        if start > now:
            self.waited += start - now
            self._sleep(start - now)

    def slow_to(self, calls_per_minute: float) -> None:
        """Pace at most at ``calls_per_minute`` x :data:`QUOTA_SAFETY` from now on."""
        interval = 60.0 / (calls_per_minute * QUOTA_SAFETY)
        with self._lock:
            if interval > self.interval:
                self.interval = interval
                self.calls_per_minute = calls_per_minute * QUOTA_SAFETY

    def eta(self, calls: int) -> float:
        """Seconds that ``calls`` more calls take at this pace (0 when unpaced)."""
        return calls * self.interval


@dataclass
class CircuitBreaker:
    """Opens after a run of failed vendor calls; then every call fails at once.

    Attributes:
        max_consecutive: failed attempts in a row (retries included) that open the breaker.
        max_silence: seconds since the first attempt of the current run of failures after which
            the breaker opens even if fewer attempts failed (a vendor that hangs until timeouts).
    """

    vendor: str
    max_consecutive: int = 6
    max_silence: float = 45.0
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    consecutive: int = 0
    failing_since: float | None = None
    last_error: str = ""
    opened: bool = False
    succeeded: int = 0

    def __post_init__(self) -> None:
        if self.max_consecutive < 1 or not self.max_silence > 0:
            raise ConfigError(f"circuit breaker: max_consecutive >= 1 and max_silence > 0 "
                              f"(got {self.max_consecutive}, {self.max_silence})")

    def remaining(self) -> float:
        """Seconds the current run of failures may still last (``inf`` when nothing failed)."""
        if self.failing_since is None:
            return math.inf
        return max(0.0, self.max_silence - (self.clock() - self.failing_since))

    def check(self) -> None:
        """Raise :class:`VendorDownError` if the breaker is open."""
        if self.opened:
            raise VendorDownError(self.message())

    def success(self) -> None:
        self.consecutive = 0
        self.failing_since = None
        self.succeeded += 1

    def failure(self, error: str, started: float) -> None:
        """Count a failed attempt that began at ``started`` (a :attr:`clock` reading)."""
        self.consecutive += 1
        self.last_error = error
        if self.failing_since is None:
            self.failing_since = started
        if self.consecutive >= self.max_consecutive or self.remaining() <= 0:
            self.opened = True

    def message(self) -> str:
        lasted = 0.0 if self.failing_since is None else self.clock() - self.failing_since
        return (f"{self.vendor} failed {self.consecutive} call(s) in a row over {lasted:.0f} s "
                f"(last: {self.last_error}); stopped. Everything fetched before stays committed: "
                "run the same command again to resume once the vendor answers")

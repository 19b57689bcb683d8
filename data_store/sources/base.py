"""The :class:`Source` protocol and the call discipline every vendor call goes through.

Every vendor call is paced to the vendor's quota (:class:`~.pacing.Pacer`), runs in a daemon
worker thread with a deadline (several akshare functions have no timeout of their own, and a hung
HTTP read must not hang an update), is retried with exponential backoff, and ends in a
:class:`SourceError` that names the call and the last error. Empty answers
(:class:`NoDataError`) and malformed frames are not retried: asking again gives the same answer.
A :class:`~.pacing.CircuitBreaker` shared by all calls of a source stops the whole update after
a run of failures (:class:`VendorDownError`); an answer no retry can change (a wrong token) raises
:class:`FatalSourceError` at once.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar, runtime_checkable

import pandas as pd

from core.errors import DataValidationError

from ..errors import FatalSourceError, NoDataError, SourceError
from .pacing import CircuitBreaker, Pacer

log = logging.getLogger(__name__)
T = TypeVar("T")

#: Seconds to wait after a vendor says its per-minute quota was exceeded (its window resets).
QUOTA_WAIT = 61.0


@runtime_checkable
class Source(Protocol):
    """A vendor of CSI-300 data, answering in canonical frames (vendor names never leave it).

    - ``constituents(start, end)``: membership observations ``date, symbol, name`` (the member
      list as known on each date; a source with history returns several dates).
    - ``bars(symbol, start, end)``: canonical bars of one symbol (raw prices, volume in shares,
      back-adjustment ``factor``), validated.
    - ``index_bars(start, end)``: canonical CSI-300 index bars.
    - ``probe()``: raise :class:`SourceError` quickly when the vendor cannot be reached.

    A source may also carry a ``pacer`` (:class:`~.pacing.Pacer`, used for the update's ETA) and a
    ``breaker`` (:class:`~.pacing.CircuitBreaker`) shared by its calls; updates work without them.
    """

    name: str

    def probe(self) -> None: ...

    def constituents(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def bars(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def index_bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def library_versions(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class CallPolicy:
    """Deadline, retry, pacing and cut-off settings of vendor calls (seconds).

    ``calls_per_minute``: the pace (``None``: the source's default for its vendor);
    ``max_consecutive_failures`` / ``max_silence``: the :class:`~.pacing.CircuitBreaker`.
    """

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 20.0
    calls_per_minute: float | None = None
    max_consecutive_failures: int = 6
    max_silence: float = 45.0

    def breaker(self, vendor: str) -> CircuitBreaker:
        return CircuitBreaker(vendor, self.max_consecutive_failures, self.max_silence)

    def delay(self, attempt: int) -> float:
        """Sleep before retry number ``attempt`` (1-based): backoff x 2**(attempt-1), capped."""
        return min(self.max_backoff, self.backoff * 2 ** (attempt - 1))


class CallTimeout(TimeoutError):
    """A vendor call passed its deadline (the worker thread is abandoned, not joined)."""


def run_with_deadline(fn: Callable[..., T], deadline: float, /, *args: Any, **kwargs: Any) -> T:
    """Run ``fn(*args, **kwargs)`` in a daemon thread and wait at most ``deadline`` seconds.

    A daemon thread (not a ThreadPoolExecutor, whose workers are joined at exit) so that a call
    stuck in a socket read can neither block the caller nor the interpreter's exit.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc
        finally:
            done.set()

    threading.Thread(target=work, name=f"vendor-{getattr(fn, '__name__', 'call')}", daemon=True).start()
    if not done.wait(deadline):
        raise CallTimeout(f"no answer within {deadline:.3g} s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def call_vendor(
    what: str,
    fn: Callable[..., pd.DataFrame],
    /,
    *args: Any,
    policy: CallPolicy,
    sleep: Callable[[float], None] = time.sleep,
    pacer: Pacer | None = None,
    breaker: CircuitBreaker | None = None,
    fatal: Callable[[BaseException], str | None] | None = None,
    throttled: Callable[[BaseException], float | None] | None = None,
    **kwargs: Any,
) -> pd.DataFrame:
    """Call a vendor function under ``policy``; return a non-empty DataFrame or raise.

    Raises :class:`SourceError` after the last failed attempt (timeouts and exceptions are
    retried), :class:`NoDataError` at once for an empty answer, :class:`VendorDownError` when
    ``breaker`` opens, and :class:`FatalSourceError` when ``fatal(exc)`` returns a fix for the
    error; :class:`DataValidationError` passes through. ``throttled(exc)`` returns the vendor's
    per-minute quota when the error says it was exceeded: the pacer slows to it and the call
    waits out the minute (not a failure of the vendor, so the breaker does not count it).
    ``what`` names the call in messages (never put a token in it).
    """
    last: BaseException | None = None
    attempts = policy.retries + 1
    clock = breaker.clock if breaker is not None else time.monotonic
    for attempt in range(1, attempts + 1):
        if breaker is not None:
            breaker.check()
        if pacer is not None:
            pacer.wait()
        deadline = policy.timeout if breaker is None else max(0.05, min(policy.timeout, breaker.remaining()))
        started = clock()
        try:
            df = run_with_deadline(fn, deadline, *args, **kwargs)
        except DataValidationError:
            raise
        except Exception as exc:  # vendors raise anything: requests, json, KeyError, ...
            last = exc
            fix = fatal(exc) if fatal is not None else None
            if fix:
                raise FatalSourceError(f"{what}: {_short(exc)}; {fix}") from None
            quota = throttled(exc) if throttled is not None else None
            if quota:
                log.warning("%s: the vendor's quota of %g calls/minute was exceeded (another program "
                            "on the same account?); slowing to it and waiting a minute", what, quota)
                if pacer is not None:
                    pacer.slow_to(quota)
                sleep(QUOTA_WAIT)
                continue
            log.info("%s: attempt %d/%d failed: %s", what, attempt, attempts, _short(exc))
            if breaker is not None:
                breaker.failure(f"{what}: {_short(exc)}", started)
                breaker.check()
            if attempt < attempts:
                pause = policy.delay(attempt)
                if breaker is not None:
                    pause = min(pause, breaker.remaining())
                sleep(pause)
            continue
        if breaker is not None:
            breaker.success()
        if df is None or not isinstance(df, pd.DataFrame) or df.empty:
            raise NoDataError(
                f"{what} returned no rows (suspended, delisted, or no trading day in the range); "
                "check the symbol and the --start/--end range"
            )
        return df
    raise SourceError(f"{what} failed after {attempts} attempt(s): {_short(last)}")


def _short(exc: BaseException | None) -> str:
    text = f"{type(exc).__name__}: {exc}" if exc is not None else "unknown error"
    return text if len(text) <= 300 else text[:297] + "..."


def probe_host(source: str, host: str, port: int, timeout: float = 3.0) -> None:
    """Fail fast when ``host:port`` cannot be reached (offline, DNS down, firewall).

    DNS resolution has no timeout of its own, so the whole probe runs under a deadline.
    """

    def connect() -> None:
        with socket.create_connection((host, port), timeout=timeout):
            pass

    try:
        run_with_deadline(connect, timeout + 0.5)
    except (OSError, CallTimeout) as exc:
        raise SourceError(
            f"{source}: cannot reach {host}:{port} ({type(exc).__name__}: {exc}); "
            "updates need a network connection. Offline, data_store.load() still works from the "
            "embedded snapshot and the existing cache."
        ) from exc

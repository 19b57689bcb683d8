"""The :class:`Source` protocol and the call discipline every vendor call goes through.

Every vendor call runs in a daemon worker thread with a deadline (several akshare functions
have no timeout of their own, and a hung HTTP read must not hang an update), is retried with
exponential backoff, and ends in a :class:`SourceError` that names the call and the last error.
Empty answers and malformed frames are not retried: asking again gives the same answer.
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

from ..errors import DataValidationError, SourceError

log = logging.getLogger(__name__)
T = TypeVar("T")


@runtime_checkable
class Source(Protocol):
    """A vendor of CSI-300 data, answering in canonical frames (vendor names never leave it).

    - ``constituents(start, end)``: membership observations ``date, symbol, name`` (the member
      list as known on each date; a source with history returns several dates).
    - ``bars(symbol, start, end)``: canonical bars of one symbol (raw prices, volume in shares,
      back-adjustment ``factor``), validated.
    - ``index_bars(start, end)``: canonical CSI-300 index bars.
    - ``probe()``: raise :class:`SourceError` quickly when the vendor cannot be reached.
    """

    name: str

    def probe(self) -> None: ...

    def constituents(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def bars(self, symbol: str, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def index_bars(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame: ...

    def library_versions(self) -> dict[str, str]: ...


@dataclass(frozen=True)
class CallPolicy:
    """Deadline and retry settings of vendor calls (seconds)."""

    timeout: float = 30.0
    retries: int = 3
    backoff: float = 1.0
    max_backoff: float = 20.0

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
        raise CallTimeout(f"no answer within {deadline:g} s")
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
    **kwargs: Any,
) -> pd.DataFrame:
    """Call a vendor function under ``policy``; return a non-empty DataFrame or raise.

    Raises :class:`SourceError` after the last failed attempt (timeouts and exceptions are
    retried) or at once for an empty answer; :class:`DataValidationError` passes through.
    ``what`` names the call in messages (never put a token in it).
    """
    last: BaseException | None = None
    attempts = policy.retries + 1
    for attempt in range(1, attempts + 1):
        try:
            df = run_with_deadline(fn, policy.timeout, *args, **kwargs)
        except DataValidationError:
            raise
        except Exception as exc:  # vendors raise anything: requests, json, KeyError, ...
            last = exc
            log.info("%s: attempt %d/%d failed: %s", what, attempt, attempts, _short(exc))
            if attempt < attempts:
                sleep(policy.delay(attempt))
            continue
        if df is None or not isinstance(df, pd.DataFrame) or df.empty:
            raise SourceError(
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

"""How a command of this toolkit ends: exit codes, Ctrl-C and SIGTERM, the one-line messages.

Exit codes, the same for ``python -m backtests.run`` and ``python -m backtests.sweep``:

=====  ===============================================================================================
0      finished
1      a failure that is not the input's: a bug (traceback in the log), the environment (a full disk),
       walk-forward windows or sweep points that failed for good (INCOMPLETE: no run folder)
2      bad input: configuration, market data, the data cache, the output folder (one line, nothing
       written); argparse uses 2 for a bad option too
3      the leakage audit found look-ahead: the run finished and its folder IS written (the audit is a
       finding, not a crash), but its verdict leads with the failure; 3 so that a script can tell it
       from both a crash (1) and bad input (2)
130    interrupted by Ctrl-C (SIGINT); 143 stopped by SIGTERM (``timeout``, a scheduler, a cluster):
       128 + the signal number, as a shell reports it; the incomplete run folder is removed
=====  ===============================================================================================

:class:`SignalGuard` turns SIGINT and SIGTERM into :class:`Interrupted` (a ``KeyboardInterrupt``,
so every ``except KeyboardInterrupt`` and ``finally`` of the toolkit cleans up the same way for
both), can hold them back while heavy imports run (:meth:`SignalGuard.held`: an import cut in the
middle leaves half-initialised modules, and the next use of them fails with an unrelated error),
and remembers that one arrived, so that an interrupt that surfaces as some other exception still
ends with its own code. A signal whose :class:`Interrupted` a library swallowed (Python ignores an
exception raised in an at-fork callback, such as logging's lock release while a worker process
starts) is raised again at the next :func:`checkpoint`, which the pipeline calls between its
stages, so the command still stops with 128 + the signal number and writes no run folder.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

__all__ = ["EXIT_AUDIT", "EXIT_FAILED", "EXIT_INPUT", "EXIT_OK", "Interrupted", "SignalGuard", "checkpoint",
           "guarded", "interrupted_text", "log_to_stderr"]

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_INPUT = 2
EXIT_AUDIT = 3

_HANDLED = (signal.SIGINT, signal.SIGTERM)

#: the guard installed by the running command (None outside one): what :func:`checkpoint` reads
_ACTIVE: SignalGuard | None = None


class Interrupted(KeyboardInterrupt):
    """SIGINT or SIGTERM arrived; ``exit_code`` is 128 + the signal number."""

    def __init__(self, signum: int) -> None:
        self.signum = int(signum)
        super().__init__(signal.Signals(self.signum).name)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


def interrupted_text(signum: int) -> str:
    """How the message names the signal: ``interrupted`` (Ctrl-C) or ``stopped by SIGTERM``."""
    return "interrupted" if signum == signal.SIGINT else f"stopped by {signal.Signals(signum).name}"


class SignalGuard:
    """SIGINT and SIGTERM as :class:`Interrupted` in the main thread, for the life of a command.

    A signal the parent told this process to ignore (a background job's SIGINT) stays ignored."""

    def __init__(self) -> None:
        self.received: int | None = None
        self._hold = 0
        self._pending: int | None = None
        self._old: dict[int, Any] = {}

    def install(self) -> SignalGuard:
        for sig in _HANDLED:
            old = signal.getsignal(sig)
            if old is signal.SIG_IGN:
                continue
            self._old[sig] = old
            signal.signal(sig, self._handle)
        global _ACTIVE
        _ACTIVE = self
        return self

    def uninstall(self) -> None:
        global _ACTIVE
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
        if _ACTIVE is self:
            _ACTIVE = None

    def __enter__(self) -> SignalGuard:
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.uninstall()

    @property
    def exit_code(self) -> int | None:
        """128 + the first signal received, None when none was."""
        return None if self.received is None else 128 + self.received

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self.received is None:
            self.received = signum
        if self._hold:
            self._pending = signum
            return
        raise Interrupted(signum)

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """Signals that arrive inside the block take effect when it ends (an :class:`Interrupted`
        raised then)."""
        self._hold += 1
        try:
            yield
        finally:
            self._hold -= 1
            if not self._hold and self._pending is not None:
                sig, self._pending = self._pending, None
                raise Interrupted(sig)


def checkpoint() -> None:
    """Raise :class:`Interrupted` when the running command's guard received a signal: its first
    :class:`Interrupted` was swallowed on the way (or it would not be running), so stop here. A
    no-op outside a command and while the guard holds signals back."""
    guard = _ACTIVE
    if guard is not None and guard.received is not None and not guard._hold:
        raise Interrupted(guard.received)


def guarded(body: Callable[[list[str] | None, SignalGuard], int], argv: list[str] | None, nothing_done: str) -> int:
    """A command's ``main``: ``body(argv, guard)`` under a :class:`SignalGuard`; an interrupt that
    escapes the body (it arrived before the body's own handling: parsing, configuration) prints
    ``<interrupted>: <nothing_done>`` and returns 128 + the signal number."""
    guard = SignalGuard().install()
    try:
        return body(argv, guard)
    except Interrupted as exc:
        print(f"{interrupted_text(exc.signum)}: {nothing_done}", file=sys.stderr)
        return exc.exit_code
    finally:
        guard.uninstall()


def log_to_stderr(quiet: bool) -> None:
    """The commands' log: time-stamped lines on stderr, warnings only with ``--quiet``."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="%(asctime)s %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)

"""The executor contract every executor shares: task results, the fault hook of the tests, and
running one task with its thread counts measured.

An executor maps a function over work items: ``executor.map(fn, items, shared=obj)`` calls
``fn(obj, item)`` once per item and yields a :class:`TaskResult` per item as it finishes.
``run_walk_forward`` maps :func:`signals.window.fit_predict_window` over the windows of a run (the
prepared arrays are the shared object); ``backtests.sweep`` maps a whole run over the points of a
grid (the market data is the shared object). The executors are :class:`~signals.execution.local.LocalExecutor`
(this process, or worker processes of this machine) and
:class:`~signals.execution.ray_executor.RayExecutor` (the toolkit's only Ray code);
:func:`~signals.execution.factory.make_executor` chooses one from its settings. This module imports
neither Ray nor torch.

Threads and reproducibility: a task runs with one torch and BLAS thread count, the executor's
``threads`` or the count the caller's fit asks for (by default 1: :mod:`signals.execution.runtime`), so a
window trained in a Ray worker equals the same window trained here, bit for bit on CPU. Each
:class:`TaskResult` carries the counts measured while the task ran, the node it ran on and its
attempts; an executor's ``describe()`` gives them per task for the run's manifest.

Errors: an error of this toolkit raised by a task (a bad configuration, too little data) is
deterministic: it is not retried and the driver raises it as it is. Any other exception (also a lost
worker process, or for Ray a lost node) is retried up to ``max_retries`` times, each retry logged with the task,
the node and the error; a task that still fails is reported by :class:`TaskResult.error` while the
others finish, and the caller decides (``run_walk_forward`` raises :class:`IncompleteRunError`).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError, ToolkitError

from .runtime import recording_threads, thread_limits

__all__ = ["FAULT_DIR_ENV", "FAULT_ENV", "Done", "FaultPlan", "InjectedFault", "Raised", "TaskResult", "error_text",
           "node_name", "retryable", "run_task", "task_keys", "task_record"]

log = logging.getLogger("signals.execution")

#: test hook: ``"1:1,3:always,2:crash"`` makes task 1 fail on its first attempt, task 3 on every attempt
#: and task 2 kill its worker process on the first attempt (Ray only); attempts are counted with marker
#: files in the folder named by ``CSI300_FAULT_DIR`` (see :class:`FaultPlan`).
FAULT_ENV = "CSI300_FAULT_WINDOWS"
FAULT_DIR_ENV = "CSI300_FAULT_DIR"


# ----------------------------------------------------------------------------- results, faults
@dataclass(frozen=True)
class TaskResult:
    """The outcome of one item: its ``key``, the ``value`` of the function, or the ``error``
    (``"Type: message"``) of its last attempt when it failed for good; ``attempts``; ``info``: the
    node it ran on and the torch and BLAS thread counts measured while it ran."""

    key: int
    value: Any = None
    error: str | None = None
    attempts: int = 1
    info: Mapping[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.error is None


class InjectedFault(RuntimeError):
    """Raised by a :class:`FaultPlan` (tests of the retry and failure handling only)."""


@dataclass(frozen=True)
class FaultPlan:
    """Test hook: make chosen tasks fail on their first attempts.

    ``fail`` maps a task key (a window index) to the number of attempts that raise
    :class:`InjectedFault` (``-1``: every attempt); ``crash`` to the number of attempts that kill
    their worker process (as a lost node would; Ray only). Attempts are counted with one marker
    file per attempt in ``folder``, so the count holds across processes."""

    folder: str
    fail: Mapping[int, int]
    crash: Mapping[int, int] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultPlan | None:
        """The plan in ``$CSI300_FAULT_WINDOWS`` (e.g. ``"1:1,3:always,2:crash"``) and ``$CSI300_FAULT_DIR``."""
        env = os.environ if environ is None else environ
        spec = env.get(FAULT_ENV, "").strip()
        if not spec:
            return None
        fail: dict[int, int] = {}
        crash: dict[int, int] = {}
        for part in spec.split(","):
            try:
                w, n = (x.strip() for x in part.split(":"))
                if n == "crash":
                    crash[int(w)] = 1
                else:
                    fail[int(w)] = -1 if n == "always" else int(n)
            except ValueError:
                raise ConfigError(f"{FAULT_ENV} = {spec!r}: each item must be WINDOW:COUNT, WINDOW:always or "
                                  "WINDOW:crash, e.g. 1:1,3:always") from None
        folder = env.get(FAULT_DIR_ENV) or tempfile.mkdtemp(prefix="csi300-faults-")
        return cls(folder=folder, fail=fail, crash=crash)

    def check(self, key: int) -> None:
        if key not in self.fail and key not in self.crash:
            return
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"attempt-w{key}-{uuid.uuid4().hex}").touch()
        attempt = self.attempts(key)
        if attempt <= self.crash.get(key, 0):
            os._exit(70)  # the worker process dies without a word, like a killed node
        n = self.fail.get(key)
        if n is not None and (n < 0 or attempt <= n):
            raise InjectedFault(f"injected fault in window {key}, attempt {attempt}")

    def attempts(self, key: int) -> int:
        """Attempts recorded so far for ``key``."""
        return len(list(Path(self.folder).glob(f"attempt-w{key}-*")))


# ----------------------------------------------------------------------------- one attempt of a task
@dataclass(frozen=True)
class Raised:
    """A toolkit error raised by a task, carried back as a value so that it is not retried."""

    exc: ToolkitError


@dataclass(frozen=True)
class Done:
    """The value of a task and what was measured while it ran (node, thread counts)."""

    value: Any
    info: dict[str, Any]


def node_name() -> str:
    """This machine as a log line names it: its host name (a Ray task adds Ray's node IP)."""
    return socket.gethostname()


def run_task(fn: Callable[[Any, Any], Any], shared: Any, item: Any, key: int,
             threads: tuple[int | None, int | None], fault: Any, attempt: int = 1, node: str | None = None) -> Any:
    """One attempt of ``fn(shared, item)`` with the given (torch, BLAS) thread counts: a :class:`Done`
    (value and what was measured), or a :class:`Raised` toolkit error. ``node``: how the executor
    names where it runs (default: :func:`node_name`)."""
    node = node or node_name()
    with thread_limits(*threads), recording_threads() as seen:
        try:
            if fault is not None:
                fault.check(key)
            value = fn(shared, item)
        except ToolkitError as exc:
            return Raised(exc)
    return Done(value, {"node": node, "torch_threads": seen["torch"], "blas_threads": seen["blas"]})


def error_text(exc: BaseException) -> str:
    """``"Type: first line of the message"`` of an exception (a Ray task error: of its cause)."""
    cause = getattr(exc, "cause", None)  # ray.exceptions.RayTaskError wraps the task's exception
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def retryable(exc: BaseException, retry_exceptions: bool | tuple[type[BaseException], ...]) -> bool:
    if isinstance(exc, (ToolkitError, KeyboardInterrupt)):
        return False
    if isinstance(retry_exceptions, bool):
        return retry_exceptions
    return isinstance(exc, tuple(retry_exceptions))


def task_keys(items: Sequence[Any], keys: Sequence[int] | None) -> list[int]:
    ks = list(range(len(items))) if keys is None else [int(k) for k in keys]
    if len(ks) != len(items):
        raise ValueError(f"{len(keys or [])} keys for {len(items)} items")
    return ks


def task_record(res: TaskResult, failures: list[dict[str, Any]]) -> dict[str, Any]:
    """What the manifest keeps of one task: attempts, node, thread counts, and each failed attempt."""
    return {"attempts": res.attempts, **dict(res.info), "failures": failures, **({"error": res.error} if res.error
                                                                                  else {})}

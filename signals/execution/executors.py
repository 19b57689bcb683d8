"""Where tasks run: in this process (:class:`LocalExecutor`) or as Ray tasks (:class:`RayExecutor`).

An executor maps a function over work items: ``executor.map(fn, items, shared=obj)`` calls
``fn(obj, item)`` once per item and yields a :class:`TaskResult` per item as it finishes.
``run_walk_forward`` maps :func:`signals.window.fit_predict_window` over the windows of a run (the
prepared arrays are the shared object); ``backtests.sweep`` maps a whole run over the points of a
grid (the market data is the shared object). The Ray executor lives in :mod:`signals.execution.ray_executor`,
the toolkit's only Ray code; this module imports neither Ray nor torch.

Threads and reproducibility: a task runs with one torch and BLAS thread count, this executor's
``threads`` or the count the caller's fit asks for (by default 1: :mod:`signals.execution.runtime`), so a
window trained in a Ray worker equals the same window trained here, bit for bit on CPU. Each
:class:`TaskResult` carries the counts measured while the task ran, the node it ran on and its
attempts; :meth:`describe` gives them per task for the run's manifest.

Errors: an error of this toolkit raised by a task (a bad configuration, too little data) is
deterministic: it is not retried and the driver raises it as it is. Any other exception (for Ray
also a lost worker or node) is retried up to ``max_retries`` times, each retry logged with the task,
the node and the error; a task that still fails is reported by :class:`TaskResult.error` while the
others finish, and the caller decides (``run_walk_forward`` raises :class:`IncompleteRunError`).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, ToolkitError
from core.settings import check_settings, setting

from .runtime import DEFAULT_THREADS, recording_threads, resolve_threads, thread_limits

if TYPE_CHECKING:
    from .ray_executor import RayExecutor, import_ray

__all__ = ["FAULT_DIR_ENV", "FAULT_ENV", "ExecutorConfig", "FaultPlan", "InjectedFault", "LocalExecutor",
           "RayExecutor", "TaskResult", "import_ray", "make_executor"]

log = logging.getLogger(__name__)

#: test hook: ``"1:1,3:always,2:crash"`` makes task 1 fail on its first attempt, task 3 on every attempt
#: and task 2 kill its worker process on the first attempt (Ray only); attempts are counted with marker
#: files in the folder named by ``CSI300_FAULT_DIR`` (see :class:`FaultPlan`).
FAULT_ENV = "CSI300_FAULT_WINDOWS"
FAULT_DIR_ENV = "CSI300_FAULT_DIR"


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class ExecutorConfig:
    """Where the walk-forward windows of a run go, on how many threads (``[execution]`` of a run config)."""

    executor: str = setting("local", choices=("local", "ray"),
                            doc="where walk-forward windows run: local = this process; ray = one Ray task per window")
    ray_address: str = setting("", doc="Ray cluster to join (auto, host:6379, ray://host:10001); empty = a local Ray")
    max_retries: int = setting(2, lo=0, hi=100, doc="ray: extra attempts of a failed window task (also a lost worker)")
    threads: int | None = setting(
        DEFAULT_THREADS, lo=1, hi=1024, none="auto",
        doc="torch and BLAS threads of each window (local, or each Ray task): fixed, so a run's numbers do not "
            "depend on machine load; more is faster on idle cores but rounds differently; auto = the cores free "
            "at the start (load-dependent)")

    def __post_init__(self) -> None:
        check_settings(self)
        if self.ray_address and self.executor != "ray":
            raise ConfigError(f"execution.ray_address = {self.ray_address!r} is set but execution.executor = "
                              f"{self.executor!r}: add --executor ray (or drop the address)")


def make_executor(config: ExecutorConfig | str = "local") -> LocalExecutor | RayExecutor:
    """An executor from its configuration (or just its kind, ``'local'`` or ``'ray'``), its thread
    count resolved now (``auto``: the free cores); the fault hook is read from the environment. Ray
    is imported here when chosen, so a missing install fails early. A local executor never retries
    (a failure in this process is not a lost worker)."""
    cfg = ExecutorConfig(executor=config) if isinstance(config, str) else config
    fault = FaultPlan.from_env()
    threads = resolve_threads(cfg.threads)
    if cfg.executor == "local":
        return LocalExecutor(threads=threads, fault=fault)
    from .ray_executor import RayExecutor, import_ray

    import_ray()
    return RayExecutor(address=cfg.ray_address or None, max_retries=cfg.max_retries, threads=threads, fault=fault)


def __getattr__(name: str) -> Any:
    # the Ray executor is defined in signals.execution.ray_executor; reachable from here as before
    if name in ("RayExecutor", "import_ray", "RAY_MISSING"):
        from . import ray_executor

        return getattr(ray_executor, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


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
    """This machine as a log line names it: host name, and Ray's node IP when in a Ray worker."""
    host = socket.gethostname()
    try:
        import sys

        if "ray" in sys.modules:
            import ray

            if ray.is_initialized():
                return f"{host} ({ray.util.get_node_ip_address()})"
    except Exception:  # noqa: BLE001 - a name for a log line only
        pass
    return host


def run_task(fn: Callable[[Any, Any], Any], shared: Any, item: Any, key: int,
             threads: tuple[int | None, int | None], fault: Any, journal: Any = None, attempt: int = 1) -> Any:
    """One attempt of ``fn(shared, item)`` with the given (torch, BLAS) thread counts: a :class:`Done`
    (value and what was measured), or a :class:`Raised` toolkit error. ``journal``: a Ray actor told
    where the attempt started (so a lost worker can be named)."""
    node = node_name()
    if journal is not None:  # recorded before the work starts, so a worker lost in the middle is named
        try:
            import ray

            ray.get(journal.started.remote(key, attempt, node), timeout=30)
        except Exception:  # noqa: BLE001 - the journal only names nodes in log lines
            pass
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


# ----------------------------------------------------------------------------- the local executor
@dataclass
class LocalExecutor:
    """Tasks one after the other in this process (the default).

    ``max_retries``: extra attempts of a task that raised; ``retry_exceptions``: True (any exception
    other than this toolkit's own errors), False, or a tuple of exception classes; ``threads``:
    torch and BLAS threads per task (None = the count the caller's fit asks for); ``fault``: test
    hook (:class:`FaultPlan`)."""

    max_retries: int = 0
    retry_exceptions: bool | tuple[type[BaseException], ...] = True
    threads: int | None = None
    fault: FaultPlan | None = None
    _tasks: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    kind = "local"

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        """Settings and, per task of the last map, attempts, node and measured thread counts."""
        return {"executor": "local", "max_retries": self.max_retries, "threads": self.threads, "tasks": self._tasks}

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None,
            keys: Sequence[int] | None = None, name: Callable[[int], str] = "task {}".format,
            threads: int | None = None, device: str = "cpu") -> Generator[TaskResult, None, None]:
        """``fn(shared, item)`` for each item, in order, with ``threads`` torch and BLAS threads (this
        executor's own ``threads`` wins; None: unchanged). ``device`` is for Ray's GPU requests."""
        n = self.threads or threads
        self._tasks = {}
        for key, item in zip(task_keys(items, keys), items, strict=True):
            attempts = 0
            failures: list[dict[str, Any]] = []
            while True:
                attempts += 1
                try:
                    out = run_task(fn, shared, item, key, (n, n), self.fault, attempt=attempts)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported by name, never swallowed
                    err = error_text(exc)
                    failures.append({"attempt": attempts, "node": node_name(), "error": err})
                    if attempts > self.max_retries or not retryable(exc, self.retry_exceptions):
                        res = TaskResult(key, error=err, attempts=attempts, info={"node": node_name()})
                        self._tasks[str(key)] = task_record(res, failures)
                        yield res
                        break
                    log.warning("%s failed on %s (attempt %d of %d), retrying: %s", name(key), node_name(),
                                attempts, self.max_retries + 1, err)
                    continue
                if isinstance(out, Raised):
                    raise out.exc
                res = TaskResult(key, value=out.value, attempts=attempts, info=out.info)
                self._tasks[str(key)] = task_record(res, failures)
                yield res
                break

"""Where tasks run: in this process (:class:`LocalExecutor`) or as Ray tasks (:class:`RayExecutor`).

This module is the toolkit's only Ray code. An executor maps a function over work items:
``executor.map(fn, items, shared=obj)`` calls ``fn(obj, item)`` once per item and yields a
:class:`TaskResult` per item as it finishes. ``run_walk_forward`` maps
:func:`signals.window.fit_predict_window` over the windows of a run (the prepared arrays are the
shared object); ``backtests.sweep`` maps a whole run over the points of a grid (the market data is
the shared object). With Ray the shared object goes into the object store once (``ray.put``) and
every task reads it from there.

Reproducibility: a task sets the torch and BLAS thread counts the caller asks for, so a window
trained in a Ray worker equals the same window trained locally, bit for bit on CPU, as long as
both use the same thread count. On CUDA the kernels are not bitwise reproducible across processes
in general; expect agreement within 1e-6.

Errors: an error of this toolkit raised by a task (a bad configuration, too little data) is
deterministic: it is not retried and the driver raises it as it is. Any other exception is retried
up to ``max_retries`` times; a task that still fails is reported by :class:`TaskResult.error` while
the others finish, and the caller decides (``run_walk_forward`` raises :class:`IncompleteRunError`).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from data_store.errors import ConfigError, ToolkitError
from data_store.settings import check_settings, setting

from .runtime import blas_threads, thread_limits

__all__ = ["FAULT_DIR_ENV", "FAULT_ENV", "ExecutorConfig", "FaultPlan", "InjectedFault", "LocalExecutor",
           "RayExecutor", "TaskResult", "import_ray", "make_executor"]

log = logging.getLogger(__name__)

RAY_MISSING = ("executor = 'ray' needs the Ray package, which is not installed in this environment: "
               "install the optional extra with `pip install .[ray]` (or `pip install 'ray>=2.9'`), "
               "or use executor = 'local'")

#: test hook: ``"1:1,3:always"`` makes task 1 fail on its first attempt and task 3 on every attempt;
#: attempts are counted with marker files in the folder named by ``CSI300_FAULT_DIR`` (see :class:`FaultPlan`).
FAULT_ENV = "CSI300_FAULT_WINDOWS"
FAULT_DIR_ENV = "CSI300_FAULT_DIR"


# ----------------------------------------------------------------------------- configuration
@dataclass(frozen=True)
class ExecutorConfig:
    """Where the walk-forward windows of a run go (``[execution]`` of a run config)."""

    executor: str = setting("local", choices=("local", "ray"),
                            doc="where walk-forward windows run: local = this process; ray = one Ray task per window")
    ray_address: str = setting("", doc="Ray cluster to join (auto, host:6379, ray://host:10001); empty = a local Ray")
    max_retries: int = setting(2, lo=0, hi=100, doc="ray: extra attempts of a failed window task (also a lost worker)")
    task_threads: int = setting(0, lo=0, hi=1024,
                                doc="torch and BLAS threads per window; 0 = as a local run (bit-identical on CPU)")

    def __post_init__(self) -> None:
        check_settings(self)
        if self.ray_address and self.executor != "ray":
            raise ConfigError(f"execution.ray_address = {self.ray_address!r} is set but execution.executor = "
                              f"{self.executor!r}: add --executor ray (or drop the address)")


def make_executor(config: ExecutorConfig | str = "local") -> LocalExecutor | RayExecutor:
    """An executor from its configuration (or just its kind, ``'local'`` or ``'ray'``); the fault hook
    is read from the environment. Ray is imported here when chosen, so a missing install fails early.
    A local executor never retries (a failure in this process is not a lost worker)."""
    cfg = ExecutorConfig(executor=config) if isinstance(config, str) else config
    fault = FaultPlan.from_env()
    threads = cfg.task_threads or None
    if cfg.executor == "local":
        return LocalExecutor(threads=threads, fault=fault)
    import_ray()
    return RayExecutor(address=cfg.ray_address or None, max_retries=cfg.max_retries, threads=threads, fault=fault)


def import_ray() -> Any:
    """Import Ray, or raise :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


# ----------------------------------------------------------------------------- results, faults
@dataclass(frozen=True)
class TaskResult:
    """The outcome of one item: its ``key``, the ``value`` of the function, or the ``error``
    (``"Type: message"``) of its last attempt when it failed for good."""

    key: int
    value: Any = None
    error: str | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


class InjectedFault(RuntimeError):
    """Raised by a :class:`FaultPlan` (tests of the retry and failure handling only)."""


@dataclass(frozen=True)
class FaultPlan:
    """Test hook: make chosen tasks raise :class:`InjectedFault` on their first attempts.

    ``fail`` maps a task key (a window index) to the number of attempts that fail (``-1``: every
    attempt). Attempts are counted with one marker file per attempt in ``folder``, so the count
    holds across processes (Ray retries a task in another worker)."""

    folder: str
    fail: Mapping[int, int]

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultPlan | None:
        """The plan in ``$CSI300_FAULT_WINDOWS`` (e.g. ``"1:1,3:always"``) and ``$CSI300_FAULT_DIR``."""
        env = os.environ if environ is None else environ
        spec = env.get(FAULT_ENV, "").strip()
        if not spec:
            return None
        fail: dict[int, int] = {}
        for part in spec.split(","):
            try:
                w, n = part.split(":")
                fail[int(w)] = -1 if n.strip() == "always" else int(n)
            except ValueError:
                raise ConfigError(f"{FAULT_ENV} = {spec!r}: each item must be WINDOW:COUNT or WINDOW:always, "
                                  "e.g. 1:1,3:always") from None
        folder = env.get(FAULT_DIR_ENV) or tempfile.mkdtemp(prefix="csi300-faults-")
        return cls(folder=folder, fail=fail)

    def check(self, key: int) -> None:
        n = self.fail.get(key)
        if n is None:
            return
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"attempt-w{key}-{uuid.uuid4().hex}").touch()
        attempt = len(list(folder.glob(f"attempt-w{key}-*")))
        if n < 0 or attempt <= n:
            raise InjectedFault(f"injected fault in window {key}, attempt {attempt}")

    def attempts(self, key: int) -> int:
        """Attempts recorded so far for ``key``."""
        return len(list(Path(self.folder).glob(f"attempt-w{key}-*")))


@dataclass(frozen=True)
class _Raised:
    """A toolkit error raised by a task, carried back as a value so that Ray does not retry it."""

    exc: ToolkitError


def _task(fn: Callable[[Any, Any], Any], shared: Any, item: Any, key: int,
          threads: tuple[int | None, int | None], fault: Any) -> Any:
    """One attempt of ``fn(shared, item)`` with the given (torch, BLAS) thread counts."""
    with thread_limits(*threads):
        try:
            if fault is not None:
                fault.check(key)
            return fn(shared, item)
        except ToolkitError as exc:
            return _Raised(exc)


def error_text(exc: BaseException) -> str:
    """``"Type: first line of the message"`` of an exception (a Ray task error: of its cause)."""
    cause = getattr(exc, "cause", None)  # ray.exceptions.RayTaskError wraps the task's exception
    if isinstance(cause, BaseException):
        exc = cause
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}".rstrip(": ")


def _retryable(exc: BaseException, retry_exceptions: bool | tuple[type[BaseException], ...]) -> bool:
    if isinstance(exc, (ToolkitError, KeyboardInterrupt)):
        return False
    if isinstance(retry_exceptions, bool):
        return retry_exceptions
    return isinstance(exc, tuple(retry_exceptions))


def _keys(items: Sequence[Any], keys: Sequence[int] | None) -> list[int]:
    ks = list(range(len(items))) if keys is None else [int(k) for k in keys]
    if len(ks) != len(items):
        raise ValueError(f"{len(keys or [])} keys for {len(items)} items")
    return ks


# ----------------------------------------------------------------------------- executors
@dataclass
class LocalExecutor:
    """Tasks one after the other in this process (the default).

    ``max_retries``: extra attempts of a task that raised; ``retry_exceptions``: True (any exception
    other than this toolkit's own errors), False, or a tuple of exception classes; ``threads``:
    torch and BLAS threads per task (None = this process's settings, unchanged); ``fault``: test
    hook (:class:`FaultPlan`)."""

    max_retries: int = 0
    retry_exceptions: bool | tuple[type[BaseException], ...] = True
    threads: int | None = None
    fault: FaultPlan | None = None

    kind = "local"

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        return {"executor": "local", "max_retries": self.max_retries, "threads": self.threads}

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None,
            keys: Sequence[int] | None = None, name: Callable[[int], str] = "task {}".format,
            threads: int | None = None, device: str = "cpu") -> Generator[TaskResult, None, None]:
        """``fn(shared, item)`` for each item, in order. ``threads`` and ``device`` describe what a task
        needs (used by Ray); here tasks run with this executor's ``threads`` (None: unchanged)."""
        for key, item in zip(_keys(items, keys), items, strict=True):
            attempts = 0
            while True:
                attempts += 1
                try:
                    out = _task(fn, shared, item, key, (self.threads, self.threads), self.fault)
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported by name, never swallowed
                    err = error_text(exc)
                    if attempts > self.max_retries or not _retryable(exc, self.retry_exceptions):
                        yield TaskResult(key, error=err, attempts=attempts)
                        break
                    log.warning("%s failed (attempt %d of %d), retrying: %s", name(key), attempts,
                                self.max_retries + 1, err)
                    continue
                if isinstance(out, _Raised):
                    raise out.exc
                yield TaskResult(key, value=out, attempts=attempts)
                break


@dataclass
class RayExecutor:
    """Each item a Ray task; the shared object put in the object store once.

    ``address``: an existing cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); None
    joins the Ray instance already started in this process, or starts a local one.
    ``max_retries`` / ``retry_exceptions``: as Ray's task options (retries also cover a crashed
    worker); this toolkit's own errors are never retried. ``threads``: torch and BLAS threads (and
    Ray CPUs) per task; None = what the caller says a task needs (a local run's count), so results
    are bit-identical on CPU. ``num_gpus``: GPUs per task; None = 1 when the work's device is
    ``cuda`` (or ``auto`` and the cluster has GPUs), else 0. ``init_kwargs``: more ``ray.init``
    arguments (e.g. ``runtime_env={"working_dir": "."}`` for a cluster whose nodes lack this
    package). ``fault``: test hook (:class:`FaultPlan`)."""

    address: str | None = None
    max_retries: int = 2
    retry_exceptions: bool | tuple[type[BaseException], ...] = True
    threads: int | None = None
    num_gpus: float | None = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    fault: FaultPlan | None = None
    _started: bool = field(default=False, init=False, repr=False)
    _used: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    kind = "ray"

    def __enter__(self) -> RayExecutor:
        self.ray()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def ray(self) -> Any:
        """The ``ray`` module, connected (``ray.init`` once; an existing connection is reused)."""
        ray = import_ray()
        if not ray.is_initialized():
            kw = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs}
            if self.address:
                kw["address"] = self.address
            log.info("starting Ray (%s)", self.address or "a local instance")
            try:
                ray.init(**kw)
            except (ConnectionError, TimeoutError, RuntimeError, ValueError) as exc:
                where = f"join the Ray cluster at {self.address!r}" if self.address else "start a local Ray"
                raise ConfigError(f"cannot {where}: {type(exc).__name__}: {exc}. Check the address (run `ray status` "
                                  "on the head node) or leave --ray-address out to start a local Ray") from None
            self._started = True
        return ray

    def shutdown(self) -> None:
        """Stop Ray if this executor started it."""
        if self._started:
            import_ray().shutdown()
            self._started = False

    def describe(self) -> dict[str, Any]:
        return {"executor": "ray", "address": self.address, "max_retries": self.max_retries, "threads": self.threads,
                "num_gpus": self.num_gpus, **self._used}

    def _gpus(self, ray: Any, device: str) -> float:
        if self.num_gpus is not None:
            return float(self.num_gpus)
        have = float(ray.cluster_resources().get("GPU", 0.0))
        if device.startswith("cuda"):
            if have <= 0:
                raise ConfigError(f"device = {device!r} but the Ray cluster has no GPU: use device 'auto' or 'cpu', "
                                  "or join a cluster with GPU nodes (--ray-address)")
            return 1.0
        return 1.0 if device == "auto" and have > 0 else 0.0

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None,
            keys: Sequence[int] | None = None, name: Callable[[int], str] = "task {}".format,
            threads: int | None = None, device: str = "cpu") -> Generator[TaskResult, None, None]:
        """``fn(shared, item)`` for each item as Ray tasks; results in the order they finish.
        ``threads``: the torch threads a task needs (a local run's count; this executor's own
        ``threads`` wins); ``device``: the work's device (decides the GPUs a task asks for)."""
        ray = self.ray()
        ks = _keys(items, keys)
        tthreads = self.threads or threads or 1
        blas = self.threads or blas_threads()
        gpus = self._gpus(ray, device)
        self._used = {"task_torch_threads": tthreads, "task_blas_threads": blas, "task_gpus": gpus}
        retry = self.retry_exceptions if isinstance(self.retry_exceptions, bool) else list(self.retry_exceptions)
        task = ray.remote(_task).options(num_cpus=tthreads, num_gpus=gpus, max_retries=self.max_retries,
                                         retry_exceptions=retry, name=getattr(fn, "__name__", "task"))
        t0 = time.perf_counter()
        ref = ray.put(shared)
        log.info("shared data in the object store in %.2f s; %d tasks (%d CPU, %g GPU, %s torch / %s BLAS threads "
                 "each)", time.perf_counter() - t0, len(ks), tthreads, gpus, tthreads, blas)
        pending = {task.remote(fn, ref, item, k, (tthreads, blas), self.fault): k
                   for k, item in zip(ks, items, strict=True)}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for r in done:
                    k = pending.pop(r)
                    try:
                        out = ray.get(r)
                    except Exception as exc:  # noqa: BLE001 - reported by name to the caller
                        yield TaskResult(k, error=error_text(exc), attempts=self.max_retries + 1)
                        continue
                    if isinstance(out, _Raised):
                        raise out.exc
                    yield TaskResult(k, value=out)
        finally:
            for r in pending:  # interrupted or stopped by an error: leave no task running on the cluster
                ray.cancel(r, force=True)
            del ref

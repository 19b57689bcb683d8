"""Where walk-forward windows run: in this process (:class:`LocalExecutor`) or as Ray tasks
(:class:`RayExecutor`), with the same results.

Every window is one unit of work: the driver builds the features and labels once
(:func:`signals.walk_forward.prepare`), then each window runs
``run_walk_forward(..., only_windows=[k], prepared=...)``, and the per-window results are put
back together in window order into one :class:`WalkForwardResult` of the same shape as a plain
``run_walk_forward`` call. With Ray, the prepared arrays go into the object store once
(``ray.put``) and every task reads them from there; no task re-reads market data files.

Reproducibility: a window's model is seeded by the estimator's seed alone, so a window trained in a
Ray worker equals the same window trained locally, bit for bit on CPU as long as both use the same
number of torch threads. The Ray executor therefore sets, in each task, the thread count the local
run would use (``estimator.num_threads``, else ``min(torch.get_num_threads(), cores)`` of the
driver), unless ``threads`` says otherwise, and asks Ray for that many CPUs per task. On CUDA the
kernels are not bitwise reproducible across processes in general; expect agreement within 1e-6.

Faults: a task that raises is retried up to ``max_retries`` times (errors of this toolkit, such as
a window with too few samples, are deterministic and are not retried). A window that still fails is
reported by name with its error while the other windows finish; :func:`run_windows` then raises
:class:`IncompleteRunError`, which carries the failures and the partial result, so a caller never
mistakes a partial run for a whole one.

Ray is optional (``pip install .[ray]``) and imported only when a :class:`RayExecutor` runs.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from sklearn.base import clone

from data_store.errors import ConfigError, ToolkitError

from .models import _SequenceBase, default_threads
from .walk_forward import (
    Prepared,
    WalkForwardResult,
    _atomic,
    pin_threads,
    prepare,
    run_walk_forward,
)

__all__ = ["LocalExecutor", "RayExecutor", "make_executor", "run_windows", "import_ray", "IncompleteRunError",
           "WindowFailure", "FaultPlan", "InjectedFault", "combine_results", "FAULT_ENV"]

log = logging.getLogger(__name__)

RAY_MISSING = ("executor = 'ray' needs the Ray package, which is not installed in this environment: "
               "install the optional extra with `pip install .[ray]` (or `pip install 'ray>=2.9'`), "
               "or use executor = 'local'")

#: test hook: ``"1:1,3:always"`` makes window 1 fail on its first attempt and window 3 on every attempt;
#: attempts are counted with marker files in the folder named by ``CSI300_FAULT_DIR`` (see :class:`FaultPlan`).
FAULT_ENV = "CSI300_FAULT_WINDOWS"
FAULT_DIR_ENV = "CSI300_FAULT_DIR"


# ----------------------------------------------------------------------------- errors, failures
@dataclass(frozen=True)
class WindowFailure:
    """A window that failed for good: its index, its description (dates), the error, the attempts."""

    window: int
    name: str
    error: str
    attempts: int

    def __str__(self) -> str:
        return f"{self.name}: {self.error} (after {self.attempts} attempt{'s' if self.attempts != 1 else ''})"


class IncompleteRunError(ToolkitError, RuntimeError):
    """Some windows failed after their retries: the walk-forward result is incomplete.

    ``failures``: the :class:`WindowFailure` of each failed window; ``partial``: the result of the
    windows that finished (in window order), or None when none did."""

    def __init__(self, failures: Sequence[WindowFailure], partial: WalkForwardResult | None, total: int) -> None:
        self.failures = list(failures)
        self.partial = partial
        lines = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(
            f"the walk-forward run is incomplete: {len(self.failures)} of {total} windows failed after their "
            f"retries:\n{lines}\nNo result covers those windows; fix the cause (or raise max_retries for a "
            "flaky cluster) and run again")


class InjectedFault(RuntimeError):
    """Raised by a :class:`FaultPlan` (tests of the retry and failure handling only)."""


@dataclass(frozen=True)
class FaultPlan:
    """Test hook: make chosen windows raise :class:`InjectedFault` on their first attempts.

    ``fail`` maps a window index to the number of attempts that fail (``-1``: every attempt).
    Attempts are counted with one marker file per attempt in ``folder``, so the count holds across
    processes (Ray retries a task in another worker)."""

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

    def check(self, window: int) -> None:
        n = self.fail.get(window)
        if n is None:
            return
        folder = Path(self.folder)
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"attempt-w{window}-{uuid.uuid4().hex}").touch()
        attempt = len(list(folder.glob(f"attempt-w{window}-*")))
        if n < 0 or attempt <= n:
            raise InjectedFault(f"injected fault in window {window}, attempt {attempt}")

    def attempts(self, window: int) -> int:
        """Attempts recorded so far for ``window``."""
        return len(list(Path(self.folder).glob(f"attempt-w{window}-*")))


# ----------------------------------------------------------------------------- the unit of work
@dataclass(frozen=True)
class _Grid:
    """What ``run_walk_forward`` reads of ``md`` once ``prepared`` is given: the calendar and the
    symbols of the prepared arrays (a task never receives the market data itself)."""

    calendar: pd.DatetimeIndex
    symbols: list[str]


def _window_task(prepared: Prepared, k: int, kwargs: dict[str, Any], threads: tuple[int | None, int | None],
                 fault: FaultPlan | None, checkpoints: bool) -> dict[str, Any]:
    """Run window ``k`` (in this process or in a Ray worker) with ``threads`` = (torch threads, BLAS
    threads), None leaving a setting as it is. A toolkit error (deterministic: a bad configuration
    or too little data) is returned as a value so that it is not retried; any other exception
    propagates and is retried."""
    from threadpoolctl import threadpool_limits

    torch_threads, blas_threads = threads
    old = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)
    # BLAS (the logistic baseline's solver) sums in a thread-count dependent order: pin it too
    limits = threadpool_limits(limits=blas_threads, user_api="blas") if blas_threads else None
    try:
        with tempfile.TemporaryDirectory(prefix=f"csi300-window{k}-") as tmp:
            try:
                if fault is not None:
                    fault.check(k)
                # features/labels from the prepared arrays themselves: the driver checked that they
                # match, and a pickled copy of a user feature function would not compare equal
                res = run_walk_forward(_Grid(prepared.calendar, list(prepared.symbols)), **kwargs,
                                       features=prepared.panel.config, labels=prepared.label_config,
                                       only_windows=[k], prepared=prepared,
                                       checkpoint_dir=tmp if checkpoints else None, progress=False)
            except ToolkitError as exc:
                return {"window": k, "error": f"{type(exc).__name__}: {exc}"}
            # checkpoints travel back as bytes: a worker on another node does not share our disk
            ckpts = {p.name: p.read_bytes() for p in sorted(Path(tmp).glob("*.pt"))}
        return {"window": k, "result": res, "checkpoints": ckpts}
    finally:  # BLAS first: restoring OpenBLAS can reset the OpenMP count torch reads
        if limits is not None:
            limits.restore_original_limits()
        torch.set_num_threads(old)


def _error_text(exc: BaseException) -> str:
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


# ----------------------------------------------------------------------------- executors
@dataclass
class LocalExecutor:
    """Windows one after the other in this process (the default).

    ``max_retries``: extra attempts of a window that raised; ``retry_exceptions``: True (any
    exception other than this toolkit's own errors), False, or a tuple of exception classes;
    ``threads``: torch and BLAS threads per window (None = this process's settings, unchanged);
    ``fault``: test hook (:class:`FaultPlan`, default from ``$CSI300_FAULT_WINDOWS``)."""

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

    def map_windows(self, prepared: Prepared, ids: Sequence[int], kwargs: dict[str, Any], checkpoints: bool,
                    on_done: Callable[[int, dict[str, Any] | None, str | None, int], None]) -> None:
        for k in ids:
            attempts, out, err = 0, None, None
            while True:
                attempts += 1
                try:
                    out = _window_task(prepared, k, kwargs, (self.threads, self.threads), self.fault, checkpoints)
                    err = out.get("error")
                    break
                except KeyboardInterrupt:
                    raise
                except Exception as exc:  # noqa: BLE001 - reported by name below, never swallowed
                    err = _error_text(exc)
                    if attempts > self.max_retries or not _retryable(exc, self.retry_exceptions):
                        break
                    log.warning("window %d failed (attempt %d of %d), retrying: %s", k, attempts,
                                self.max_retries + 1, err)
            on_done(k, out if err is None else None, err, attempts)


@dataclass
class RayExecutor:
    """Each window a Ray task; the prepared arrays shared through the object store.

    ``address``: an existing cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); None
    joins the Ray instance already started in this process, or starts a local one.
    ``max_retries`` / ``retry_exceptions``: as Ray's task options (retries also cover a crashed
    worker); this toolkit's own errors are never retried. ``threads``: torch and BLAS threads (and
    Ray CPUs) per task; None = what a local run in this process would use (torch: the estimator's
    ``num_threads`` or torch's count; BLAS: this process's), so results are bit-identical on CPU.
    ``num_gpus``: GPUs per task; None = 1 when the estimator's device is ``cuda`` (or ``auto`` and
    the cluster has GPUs), else 0. ``init_kwargs``: more ``ray.init`` arguments (e.g.
    ``runtime_env={"working_dir": "."}`` for a cluster whose nodes lack this package).
    ``fault``: test hook (:class:`FaultPlan`, default from ``$CSI300_FAULT_WINDOWS``)."""

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

    def _gpus(self, ray: Any, estimator: Any) -> float:
        if self.num_gpus is not None:
            return float(self.num_gpus)
        dev = str(getattr(estimator, "device", "cpu")) if isinstance(estimator, _SequenceBase) else "cpu"
        have = float(ray.cluster_resources().get("GPU", 0.0))
        if dev.startswith("cuda"):
            if have <= 0:
                raise ConfigError(f"device = {dev!r} but the Ray cluster has no GPU: use device 'auto' or 'cpu', or "
                                  "join a cluster with GPU nodes (--ray-address)")
            return 1.0
        return 1.0 if dev == "auto" and have > 0 else 0.0

    def map_windows(self, prepared: Prepared, ids: Sequence[int], kwargs: dict[str, Any], checkpoints: bool,
                    on_done: Callable[[int, dict[str, Any] | None, str | None, int], None]) -> None:
        ray = self.ray()
        estimator = kwargs.get("estimator")
        threads = self.threads or _local_threads(estimator)
        blas = self.threads or _blas_threads()
        gpus = self._gpus(ray, estimator)
        self._used = {"task_torch_threads": threads, "task_blas_threads": blas, "task_gpus": gpus}
        retry = self.retry_exceptions if isinstance(self.retry_exceptions, bool) else list(self.retry_exceptions)
        task = ray.remote(_window_task).options(
            num_cpus=threads, num_gpus=gpus, max_retries=self.max_retries, retry_exceptions=retry,
            name="walk-forward-window")
        t0 = time.perf_counter()
        ref = ray.put(prepared)
        log.info("prepared arrays in the object store in %.2f s; %d window tasks (%d CPU, %g GPU, %s torch / %s "
                 "BLAS threads each)", time.perf_counter() - t0, len(ids), threads, gpus, threads, blas)
        pending = {task.remote(ref, k, kwargs, (threads, blas), self.fault, checkpoints): k for k in ids}
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for r in done:
                    k = pending.pop(r)
                    try:
                        out = ray.get(r)
                    except Exception as exc:  # noqa: BLE001 - reported by name below
                        on_done(k, None, _error_text(exc), self.max_retries + 1)
                        continue
                    err = out.get("error")
                    on_done(k, out if err is None else None, err, 1)
        finally:
            for r in pending:  # interrupted: do not leave tasks running on the cluster
                ray.cancel(r, force=True)
            del ref


def import_ray() -> Any:
    """Import Ray, or raise :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def make_executor(kind: str = "local", *, address: str | None = None, max_retries: int | None = None,
                  threads: int | None = None) -> LocalExecutor | RayExecutor:
    """An executor from configuration values (``kind`` ``'local'`` or ``'ray'``); the fault hook is
    read from the environment. Ray is imported here when chosen, so a missing install fails early."""
    fault = FaultPlan.from_env()
    if kind == "local":
        return LocalExecutor(max_retries=0 if max_retries is None else max_retries, threads=threads, fault=fault)
    if kind == "ray":
        import_ray()
        return RayExecutor(address=address or None, max_retries=2 if max_retries is None else max_retries,
                           threads=threads, fault=fault)
    raise ConfigError(f"executor = {kind!r} is unknown: choose 'local' or 'ray'")


def _local_threads(estimator: Any) -> int:
    """The torch thread count a fit of ``estimator`` (pinned, see :func:`_pinned`) uses in this
    process: its ``num_threads``, else (GPU or non-torch models) torch's count for this process."""
    n = getattr(estimator, "num_threads", None) if isinstance(estimator, _SequenceBase) else None
    return int(n) if n else min(torch.get_num_threads(), default_threads())


def _pinned(estimator: Any, threads: int | None) -> Any:
    """``estimator`` with its torch thread count fixed in the driver: ``threads`` when given, else
    what ``run_walk_forward`` would pick here (:func:`signals.walk_forward.pin_threads`), so a
    worker, whatever its cores, trains with the same count as a local run."""
    if threads and isinstance(estimator, _SequenceBase):
        return clone(estimator).set_params(num_threads=int(threads))
    return pin_threads(estimator)


def _blas_threads() -> int | None:
    """The BLAS thread count of this process (the largest of its BLAS libraries), None if unknown."""
    from threadpoolctl import threadpool_info

    counts = [int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


# ----------------------------------------------------------------------------- assembling
def combine_results(parts: Sequence[WalkForwardResult], seconds: float = 0.0,
                    info: Mapping[str, Any] | None = None) -> WalkForwardResult:
    """One result from per-window results, in window order (as ``run_walk_forward`` over all of them)."""
    if not parts:
        raise ValueError("combine_results needs at least one per-window result")
    parts = sorted(parts, key=lambda r: int(r.window_metrics["window"].iloc[0]) if len(r.window_metrics) else -1)
    preds = [p.predictions for p in parts if len(p.predictions)]
    pred = pd.concat(preds, ignore_index=True) if preds else parts[0].predictions
    wms = [p.window_metrics for p in parts if len(p.window_metrics)]
    wm = pd.concat(wms, ignore_index=True) if wms else parts[0].window_metrics
    return WalkForwardResult(predictions=pred, window_metrics=wm, windows=parts[0].windows, device=parts[0].device,
                             seconds=seconds, info={**parts[0].info, **(info or {})})


def run_windows(executor: LocalExecutor | RayExecutor | None, md: Any, *, features: Any = None, labels: Any = None,
                splitter: Any = None, estimator: Any = None, model_name: str | None = None,
                baselines: Sequence[str] | None = None, symbols: Sequence[str] | None = None,
                checkpoint_dir: str | os.PathLike[str] | None = None, progress: bool = True, scaler: Any = None,
                only_windows: Sequence[int] | None = None, prepared: Prepared | None = None) -> WalkForwardResult:
    """``run_walk_forward`` with one unit of work per window on ``executor`` (default local).

    Same arguments and same result as :func:`signals.run_walk_forward` (predictions and metrics in
    window order). Raises :class:`IncompleteRunError` when a window still fails after its retries;
    the other windows are finished first and their result rides on the error (``.partial``)."""
    from tqdm.auto import tqdm

    from .features import FeatureConfig
    from .labels import LabelConfig
    from .models import LSTMClassifier
    from .split import WalkForwardSplit

    executor = executor or LocalExecutor()
    t_start = time.perf_counter()
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    splitter = splitter or WalkForwardSplit()
    estimator = _pinned(estimator if estimator is not None else LSTMClassifier(), executor.threads)
    if symbols is not None:
        md = md.slice(symbols=list(symbols))
    if prepared is not None and (prepared.panel.config != features or prepared.label_config != labels
                                 or list(prepared.symbols) != list(md.symbols)
                                 or not prepared.calendar.equals(md.calendar)):
        raise ConfigError("prepared= was built for other data or settings than md/features/labels; build it with "
                          "prepare(md, features, labels) for exactly these arguments, or leave it out")
    if prepared is None:
        t0 = time.perf_counter()
        prepared = prepare(md, features, labels)
        log.info("features and labels for %d days x %d symbols in %.1f s", len(prepared.calendar),
                 len(prepared.symbols), time.perf_counter() - t0)
    # the padded sliding view is a per-process cache: never ship it (pickled, it would be L times larger)
    prepared = dataclasses.replace(prepared, panel=dataclasses.replace(prepared.panel, _cache={}))
    windows = list(splitter.split(prepared.calendar, labels.horizon))
    ids = list(range(len(windows))) if only_windows is None else sorted(set(only_windows))
    unknown = [i for i in ids if i >= len(windows) or i < 0]
    if unknown:
        raise ConfigError(f"only_windows {unknown} out of range: the split has windows 0..{len(windows) - 1}")
    kwargs: dict[str, Any] = {"splitter": splitter, "estimator": estimator, "model_name": model_name, "scaler": scaler}
    if baselines is not None:
        kwargs["baselines"] = tuple(baselines)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)
    parts: list[WalkForwardResult] = []
    failures: list[WindowFailure] = []
    bar = tqdm(total=len(ids), desc=f"walk-forward ({executor.kind})", unit="window",
               disable=None if progress else True)  # None: off when stderr is no terminal

    def on_done(k: int, out: dict[str, Any] | None, err: str | None, attempts: int) -> None:
        bar.update(1)
        if out is None:
            failures.append(WindowFailure(window=k, name=str(windows[k]), error=err or "unknown error", attempts=attempts))
            log.error("%s failed for good after %d attempt(s): %s", windows[k], attempts, err)
            return
        parts.append(out["result"])
        if ckpt is not None:
            for name, data in out["checkpoints"].items():
                _atomic(ckpt / name, lambda p, data=data: Path(p).write_bytes(data))

    try:
        executor.map_windows(prepared, ids, kwargs, ckpt is not None, on_done)
    finally:
        bar.close()
    secs = time.perf_counter() - t_start
    info = {"executor": executor.describe()}
    partial = combine_results(parts, secs, info) if parts else None
    if failures:
        failures.sort(key=lambda f: f.window)
        raise IncompleteRunError(failures, partial, len(ids))
    assert partial is not None
    log.info("walk-forward on the %s executor: %d windows, %d predictions in %.1f s", executor.kind, len(ids),
             len(partial.predictions), secs)
    return partial

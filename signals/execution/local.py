"""The local executor: tasks on this machine, in this process or in worker processes.

``workers = 1`` runs the tasks one after the other in this process. ``workers`` above 1 runs them
in that many spawned worker processes at once (:mod:`signals.execution.pool`), the shared object
mapped by all of them from shared memory; every task still trains with the executor's thread
count, so the results equal those of one process bit for bit. The pool is used only when there
are two tasks or more, and never with more processes than tasks or than the memory available
for them (when the caller says how much a task needs).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from core.resources import available_memory_mb

from .base import FaultPlan, Raised, TaskResult, error_text, node_name, retryable, run_task, task_keys, task_record

__all__ = ["LocalExecutor", "pool_size"]

log = logging.getLogger("signals.execution")

#: share of the available memory the worker processes may plan to use
MEMORY_SHARE = 0.8


def pool_size(workers: int, tasks: int, task_mb: float | None = None, available_mb: float | None = None) -> int:
    """How many worker processes to start: ``workers``, but no more than ``tasks``, and (when
    ``task_mb``, the memory one task needs, and ``available_mb`` are known) no more than
    :data:`MEMORY_SHARE` of the available memory holds; at least 1."""
    n = max(1, min(workers, tasks))
    if n > 1 and task_mb and available_mb is not None:
        fits = max(1, int(MEMORY_SHARE * available_mb // task_mb))
        if fits < n:
            log.warning("%d worker processes asked for, %d fit in the available memory (%.1f GB free, about %.1f GB "
                        "a task): running %d", n, fits, available_mb / 1e3, task_mb / 1e3, fits)
            n = fits
    return n


@dataclass
class LocalExecutor:
    """Tasks on this machine: one after the other in this process (``workers = 1``, the default
    of the class), or in ``workers`` worker processes at once.

    ``max_retries``: extra attempts of a task that raised (or whose worker process died);
    ``retry_exceptions``: True (any exception other than this toolkit's own errors), False, or a
    tuple of exception classes; ``threads``: torch and BLAS threads per task (None = the count the
    caller's fit asks for); ``fault``: test hook (:class:`FaultPlan`)."""

    max_retries: int = 0
    retry_exceptions: bool | tuple[type[BaseException], ...] = True
    threads: int | None = None
    workers: int = 1
    fault: FaultPlan | None = None
    _tasks: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _processes: int = field(default=1, init=False, repr=False)

    kind = "local"

    def __post_init__(self) -> None:
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            from core.errors import ConfigError

            raise ConfigError(f"workers = {self.workers!r} must be an integer >= 1 (1: this process)")

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    @property
    def in_process(self) -> bool:
        """True when tasks run in this process (progress bars inside a task can be shown)."""
        return self.workers == 1

    def describe(self) -> dict[str, Any]:
        """Settings, the worker processes of the last map (1: this process) and their peak
        resident memory, and per task its attempts, node, thread counts (and worker)."""
        peaks = [float(t["worker_peak_rss_mb"]) for t in self._tasks.values() if "worker_peak_rss_mb" in t]
        out = {"executor": "local", "max_retries": self.max_retries, "threads": self.threads,
               "workers": self.workers, "processes": self._processes}
        if peaks:
            out["worker_peak_rss_mb"] = max(peaks)
        return {**out, "tasks": self._tasks}

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None,
            keys: Sequence[int] | None = None, name: Callable[[int], str] = "task {}".format,
            threads: int | None = None, device: str = "cpu", task_mb: float | None = None,
            ) -> Generator[TaskResult, None, None]:
        """``fn(shared, item)`` for each item with ``threads`` torch and BLAS threads (this
        executor's own ``threads`` wins; None: unchanged): in order in this process, or as they
        finish in worker processes. ``task_mb``: the memory one task needs, if known (caps the
        number of workers). ``device`` is for Ray's GPU requests."""
        n = self.threads or threads
        ks = task_keys(items, keys)
        self._tasks = {}
        self._processes = pool_size(self.workers, len(ks), task_mb,
                                    available_memory_mb() if self.workers > 1 and task_mb else None)
        if self._processes > 1:
            from .pool import map_in_workers

            yield from map_in_workers(fn, items, ks, shared=shared, workers=self._processes, threads=n,
                                      fault=self.fault, max_retries=self.max_retries,
                                      retry_exceptions=self.retry_exceptions, name=name, record=self._tasks)
            return
        for key, item in zip(ks, items, strict=True):
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

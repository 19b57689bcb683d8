"""Tasks in worker processes of this machine: the local executor with ``workers`` above 1.

Why processes, and how they start: a window trains on a fixed thread count (1 by default) so that
its numbers do not depend on the machine; several windows at once therefore need several
processes. They are started with ``spawn`` (a fresh interpreter), never ``fork``: a forked child of
a process whose torch or OpenMP thread pools have run can hang in its first parallel region, and
a run's driver has used them (the previous point of a sweep, a test). Each worker imports the
toolkit once and keeps it for all the tasks it runs.

Data moves once: the shared object (a run's prepared arrays) is published with
:func:`signals.execution.sharing.published` before the workers start; every worker maps the same
file read-only, so N workers hold one copy of the arrays, not N.

Same results: a task is :func:`signals.execution.base.run_task` with the driver's thread counts,
as in this process or on Ray, so each window's predictions equal those of a one-process run bit
for bit; results come back in the order they finish and the caller assembles them in window order.

Failures: an exception of a task is an attempt that failed, retried ``max_retries`` times as in
the local executor; this toolkit's own errors are raised at once. A worker that dies (killed by
the out-of-memory killer, a crash) breaks the pool: the tasks it was running are charged an
attempt and the pool is started again for the rest. Ctrl-C reaches the driver only (the workers
ignore SIGINT): it stops the workers and removes the shared file. A worker whose driver is killed
outright ends itself within a second (an idle pool worker would otherwise wait forever); the
shared file such a driver leaves is removed by the next run.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Generator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Any

from core.resources import max_rss_mb

from .base import Done, FaultPlan, Raised, TaskResult, error_text, node_name, retryable, run_task, task_record
from .sharing import SharedHandle, published

__all__ = ["WORKER_LOST", "map_in_workers"]

log = logging.getLogger("signals.execution")

#: the error of an attempt whose worker process died
WORKER_LOST = ("WorkerLost: a worker process died while it ran this task (killed, e.g. by the out-of-memory "
               "killer, or crashed); fewer workers need less memory: --set execution.workers=1 runs the windows "
               "in one process")

#: the shared object, in a worker process (set once by :func:`_start_worker`)
_SHARED: Any = None


def _watch_parent(parent: int) -> None:
    """End this worker when its driver is gone (killed with SIGKILL, or by the out-of-memory
    killer): a pool's idle worker would otherwise wait for its next task forever."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(1)


def _start_worker(handle: SharedHandle, level: int) -> None:
    """A worker's start: ignore Ctrl-C (the driver stops the workers), end with the driver, log
    like the driver, map the shared object."""
    global _SHARED
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), name="watch-driver", daemon=True).start()
    logging.basicConfig(level=level, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    _SHARED = handle.load()


def _worker_task(fn: Callable[[Any, Any], Any], item: Any, key: int, threads: tuple[int | None, int | None],
                 fault: FaultPlan | None, attempt: int) -> Any:
    """One attempt in a worker: :func:`run_task` on the mapped shared object; its info also names
    the worker's process id and its peak resident memory so far."""
    out = run_task(fn, _SHARED, item, key, threads, fault, attempt=attempt)
    if isinstance(out, Done):
        out.info.update(pid=os.getpid(), worker_peak_rss_mb=round(max_rss_mb(), 1))
    return out


def _new_pool(workers: int, handle: SharedHandle) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_start_worker, initargs=(handle, logging.getLogger().getEffectiveLevel()))


def _stop(pool: ProcessPoolExecutor, busy: bool) -> None:
    """Shut a pool down; when tasks are still running (an error, Ctrl-C), end its workers first."""
    if busy:
        # ProcessPoolExecutor gains a public terminate_workers() only in Python 3.14
        for proc in list(getattr(pool, "_processes", {}).values()):
            if proc.is_alive():
                proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def map_in_workers(fn: Callable[[Any, Any], Any], items: Sequence[Any], keys: Sequence[int], *, shared: Any,
                   workers: int, threads: int | None, fault: FaultPlan | None, max_retries: int,
                   retry_exceptions: bool | tuple[type[BaseException], ...], name: Callable[[int], str],
                   record: dict[str, Any]) -> Generator[TaskResult, None, None]:
    """``fn(shared, item)`` for each item in ``workers`` spawned processes, at most one task per
    worker at a time (so a dead worker costs only the tasks it ran); a :class:`TaskResult` per item
    as it finishes. ``record`` receives each task's manifest entry (:func:`task_record`)."""
    todo = deque(zip(keys, items, strict=True))
    attempts = dict.fromkeys(keys, 0)
    failures: dict[int, list[dict[str, Any]]] = {k: [] for k in keys}
    running: dict[Future[Any], tuple[int, Any]] = {}

    def settle(fut: Future[Any]) -> TaskResult | None:
        """The result of a finished attempt, or None when it goes back to ``todo`` for another."""
        k, item = running.pop(fut)
        try:
            out = fut.result()
        except BrokenProcessPool:
            err, again = WORKER_LOST, True
        except Exception as exc:  # noqa: BLE001 - retried or reported by name to the caller
            err, again = error_text(exc), retryable(exc, retry_exceptions)
        else:
            if isinstance(out, Raised):
                raise out.exc
            assert isinstance(out, Done)
            res = TaskResult(k, value=out.value, attempts=attempts[k], info=out.info)
            record[str(k)] = task_record(res, failures[k])
            return res
        failures[k].append({"attempt": attempts[k], "node": node_name(), "error": err})
        if again and attempts[k] <= max_retries:
            log.warning("%s failed in a worker process (attempt %d of %d), retrying: %s", name(k), attempts[k],
                        max_retries + 1, err)
            todo.appendleft((k, item))
            return None
        res = TaskResult(k, error=err, attempts=attempts[k], info={"node": node_name()})
        record[str(k)] = task_record(res, failures[k])
        return res

    with published(shared) as handle:
        log.info("%d tasks on %d worker processes (%.0f MB of shared arrays, mapped once)", len(keys), workers,
                 handle.shared_bytes / 1e6)
        pool: ProcessPoolExecutor | None = None
        try:
            while todo or running:
                if pool is None:
                    pool = _new_pool(workers, handle)
                while todo and len(running) < workers:
                    k, item = todo.popleft()
                    attempts[k] += 1
                    running[pool.submit(_worker_task, fn, item, k, (threads, threads), fault, attempts[k])] = (k, item)
                done, _ = wait(list(running), return_when=FIRST_COMPLETED)
                if any(isinstance(f.exception(), BrokenProcessPool) for f in done):
                    # a worker died: the pool is broken and every task still in it fails; end it first,
                    # so that each of its futures is settled (a task that finished keeps its result)
                    log.warning("a worker process died: the tasks it may have been running are charged an attempt")
                    _stop(pool, busy=True)
                    pool = None
                    done = set(running)
                for fut in sorted(done, key=lambda f: running[f][0]):
                    res = settle(fut)
                    if res is not None:
                        yield res
            peaks = [float(t["worker_peak_rss_mb"]) for t in record.values() if "worker_peak_rss_mb" in t]
            if peaks:
                log.info("%d worker processes; the largest peak memory of a worker: %.0f MB", workers, max(peaks))
        finally:
            if pool is not None:
                _stop(pool, busy=bool(running))

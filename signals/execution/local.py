"""The local executor: tasks one after the other in this process (the default)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from typing import Any

from .base import FaultPlan, Raised, TaskResult, error_text, node_name, retryable, run_task, task_keys, task_record

__all__ = ["LocalExecutor"]

log = logging.getLogger("signals.execution")


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

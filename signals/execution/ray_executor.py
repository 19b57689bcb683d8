"""The Ray executor: each item one Ray task, the shared object in the object store once.

This module is the toolkit's only Ray code (:mod:`signals.execution.base` defines the rest of the
executor contract). Ray is imported when an executor is used, never at import time.

Retries are the driver's: a task is submitted without Ray-level retries, and when an attempt fails
(an exception, a crashed worker, a lost node) the driver logs which task failed on which node and
submits it again, up to ``max_retries`` times, so every retry is visible and counted. Each attempt
tells a small journal actor where it started, so a worker that dies without a word is still named.
Per task, :meth:`RayExecutor.describe` gives the attempts, the node of each failure and of the
success, and the thread counts measured in the task.

Joining a cluster: from Ray 2.52 a cluster may require token authentication (``RAY_AUTH_MODE=token``;
Ray 2.59+ turns it on by default for clusters started with ``ray.init()``, and ``ray start --head``
turns it on when a token file exists). A driver without the cluster's token is refused; Ray itself
retries for about 20 s and then reports a connection failure, so :meth:`RayExecutor.ray` first asks
the cluster once and names authentication (and the fix) when that is the cause.

Starting a local Ray on a loaded machine: Ray's defaults assume idle cores (its driver gives the
raylet 30 s to register, a worker 60 s to start). A local instance is started with the longer
timeouts of :data:`LOADED_MACHINE_CONFIG` and, when it still does not come up, started again (up
to ``start_attempts`` times, the processes of a failed try ended first); then
:class:`RayStartError` says that Ray did not start, on how loaded a machine, and what to do.

Nodes: every task records where it ran: the host, Ray's node IP and Ray's node id (two nodes on
one host, as in a loopback test cluster, share host and IP; the node id tells them apart).
"""

from __future__ import annotations

import logging
import os
import re
import signal
import socket
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.resources import child_pids

from .base import Done, FaultPlan, Raised, TaskResult, error_text, retryable, run_task, task_keys, task_record
from .runtime import cpu_cores, default_threads

__all__ = ["LOADED_MACHINE_CONFIG", "RAY_MISSING", "RayExecutor", "RayStartError", "auth_failure_message",
           "import_ray", "start_local_ray"]

log = logging.getLogger("signals.execution")

RAY_MISSING = ("executor = 'ray' needs the Ray package, which is not installed in this environment: "
               "install the optional extra with `pip install .[ray]` (or `pip install 'ray>=2.9'`), "
               "or use executor = 'local'")

#: words of Ray's errors when a cluster refuses a process's authentication token
_AUTH_WORDS = ("AuthenticationError", "InvalidAuthToken", "Unauthenticated", "UNAUTHENTICATED")


#: Ray's internal settings (``_system_config``) of a local instance, for a machine whose cores
#: other jobs keep busy; Ray's defaults in brackets. Waiting longer costs nothing on an idle machine.
LOADED_MACHINE_CONFIG: dict[str, int] = {
    "raylet_start_wait_time_s": 120,  # the driver waits for its node to register (30)
    "gcs_rpc_server_connect_timeout_s": 60,  # a client connecting to the control service (5)
    "gcs_server_request_timeout_seconds": 120,  # one request to the control service (60)
    "worker_register_timeout_seconds": 300,  # a worker process starting (importing torch) (60)
    "health_check_timeout_ms": 60_000,  # a busy raylet answering a health check (10 000)
    "health_check_failure_threshold": 10,  # missed checks before a node is declared dead (5)
}
#: the same for the driver process itself, read from the environment before Ray's first start
_DRIVER_ENV = {"RAY_gcs_server_request_timeout_seconds": "120", "RAY_gcs_rpc_server_connect_timeout_s": "60",
               "RAY_raylet_start_wait_time_s": "120"}


class RayStartError(ConnectionError):
    """A local Ray did not start (after its retries): the machine, not the input. An ``OSError``, so
    the command line exits 1, like for any failure of the environment."""


def _load_text() -> str:
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
        return f"{cpu_cores()} cores"
    return f"load average {load:.1f} on {cpu_cores()} cores"


def _end(pids: list[int]) -> None:
    """End the processes of a failed start (children of this process that it started), by pid."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            continue


def start_local_ray(attempts: int = 3, **init_kwargs: Any) -> Any:
    """Start a local Ray in this process (``ray.init(**init_kwargs)``) with the timeouts of
    :data:`LOADED_MACHINE_CONFIG` (a ``_system_config`` given wins key by key), trying again up to
    ``attempts`` times when it does not come up; the ``ray`` module, or :class:`RayStartError`
    naming the last error and the machine's load. A bad argument (TypeError, ValueError) is raised
    at once."""
    ray = import_ray()
    if ray.is_initialized():
        return ray
    for key, value in _DRIVER_ENV.items():
        os.environ.setdefault(key, value)
    kw = {"include_dashboard": False, "log_to_driver": False, **init_kwargs,
          "_system_config": {**LOADED_MACHINE_CONFIG, **init_kwargs.get("_system_config", {})}}
    errors: list[str] = []
    for attempt in range(1, attempts + 1):
        before = set(child_pids())
        t0 = time.perf_counter()
        try:
            ray.init(**kw)
            return ray
        except (TypeError, ValueError):
            raise
        except Exception as exc:  # noqa: BLE001 - a start that failed: named, cleaned up, tried again
            errors.append(error_text(exc))
            try:
                ray.shutdown()
            except Exception:  # noqa: BLE001 - nothing to stop
                pass
            _end([p for p in child_pids() if p not in before])
            log.warning("a local Ray did not start in %.0f s (attempt %d of %d; %s): %s", time.perf_counter() - t0,
                        attempt, attempts, _load_text(), errors[-1])
    raise RayStartError(f"cannot start a local Ray: it did not come up in {attempts} attempt(s) ({_load_text()}; "
                        f"last error: {errors[-1]}). The machine is probably too busy: run again when it is less "
                        "loaded, or use --executor local")


def import_ray() -> Any:
    """Import Ray, or raise :class:`ConfigError` saying how to install it."""
    try:
        import ray
    except ImportError:
        raise ConfigError(RAY_MISSING) from None
    return ray


def _chain_text(exc: BaseException) -> str:
    """The types and messages of an exception and its causes (Ray wraps the real one)."""
    parts: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(parts) < 5:
        parts.append(f"{type(seen).__name__}: {seen}")
        seen = seen.__cause__ or seen.__context__
    return " | ".join(parts)


def is_auth_failure(exc: BaseException) -> bool:
    """True when Ray refused to connect because of token authentication."""
    text = _chain_text(exc)
    return any(w in text for w in _AUTH_WORDS)


def auth_failure_message(address: str) -> str:
    """One line: the cluster at ``address`` refused this process's token; what this process has and
    what to set (the token itself is never shown)."""
    mode = os.environ.get("RAY_AUTH_MODE") or "unset (Ray's default for a joining process: disabled)"
    if os.environ.get("RAY_AUTH_TOKEN"):
        have = "RAY_AUTH_TOKEN is set"
    elif os.environ.get("RAY_AUTH_TOKEN_PATH"):
        have = f"RAY_AUTH_TOKEN_PATH = {os.environ['RAY_AUTH_TOKEN_PATH']!r}"
    elif (Path.home() / ".ray" / "auth_token").is_file():
        have = "a token file ~/.ray/auth_token (not the cluster's, or not used while RAY_AUTH_MODE is not 'token')"
    else:
        have = "no token"
    return (f"cannot join the Ray cluster at {address!r}: it requires token authentication and refused this process "
            f"(here RAY_AUTH_MODE is {mode}; {have}). Set RAY_AUTH_MODE=token and give the cluster's token, "
            "RAY_AUTH_TOKEN=<token> or the file ~/.ray/auth_token (`ray get-auth-token` on the head prints it), "
            "in this shell and on every node before `ray start`; see the README, 'Running on Ray'")


def _probe_auth(address: str) -> None:
    """Ask the cluster's GCS once (about a second) and raise the authentication message if it
    refuses this process; anything else is left to ``ray.init``, which reports it."""
    if address == "auto" or address.startswith("ray://"):
        return
    try:
        from ray._raylet import GcsClient  # type: ignore[attr-defined]  # Ray's client of the control service
    except ImportError:  # pragma: no cover - another Ray layout: ray.init reports
        return
    try:
        GcsClient(address=address)
    except Exception as exc:  # noqa: BLE001 - only an authentication refusal is ours to name
        if is_auth_failure(exc):
            raise ConfigError(auth_failure_message(address)) from None


def _ray_task(fn: Callable[[Any, Any], Any], shared: Any, item: Any, key: int,
              threads: tuple[int | None, int | None], fault: Any, journal: Any, attempt: int) -> Any:
    """One attempt as a Ray task: tell the journal where it starts (so a worker lost in the middle
    is named), run it, and record the node: host, Ray's node IP and node id."""
    import ray

    node = f"{socket.gethostname()} ({ray.util.get_node_ip_address()})"
    node_id = ray.get_runtime_context().get_node_id()
    try:
        ray.get(journal.started.remote(key, attempt, node, node_id), timeout=30)
    except Exception:  # noqa: BLE001 - the journal only names nodes in log lines
        pass
    out = run_task(fn, shared, item, key, threads, fault, attempt=attempt, node=node)
    if isinstance(out, Done):
        out.info["node_id"] = node_id
    return out


class _Journal:
    """A Ray actor that remembers where each attempt of a task started (node of a lost worker)."""

    def __init__(self) -> None:
        self.where: dict[tuple[int, int], tuple[str, str]] = {}

    def started(self, key: int, attempt: int, node: str, node_id: str) -> None:
        self.where[(key, attempt)] = (node, node_id)

    def node(self, key: int, attempt: int) -> tuple[str, str] | None:
        return self.where.get((key, attempt))

    def ready(self) -> bool:
        return True


@dataclass
class RayExecutor:
    """Each item a Ray task; the shared object put in the object store once.

    ``address``: an existing cluster (``"auto"``, ``"ray://host:10001"``, ``"host:6379"``); None
    joins the Ray instance already started in this process, or starts a local one.
    ``max_retries``: extra attempts of a task that failed (an exception, a crashed worker, a lost
    node), made and logged by the driver; ``retry_exceptions``: True (any exception but this
    toolkit's own errors, which are never retried), False (only lost workers), or a tuple of
    exception classes. ``threads``: torch and BLAS threads (and Ray CPUs) per task; None = what the
    caller says a task needs (a local run's count), so results are bit-identical on CPU.
    ``num_gpus``: GPUs per task; None = 1 when the work's device is ``cuda`` (or ``auto`` and the
    cluster has GPUs), else 0. ``init_kwargs``: more ``ray.init`` arguments (e.g.
    ``runtime_env={"working_dir": "."}`` for a cluster whose nodes lack this package). ``fault``:
    test hook (:class:`~signals.execution.base.FaultPlan`). ``start_attempts``: tries to start a
    local Ray (:func:`start_local_ray`)."""

    address: str | None = None
    max_retries: int = 2
    retry_exceptions: bool | tuple[type[BaseException], ...] = True
    threads: int | None = None
    num_gpus: float | None = None
    init_kwargs: dict[str, Any] = field(default_factory=dict)
    fault: FaultPlan | None = None
    start_attempts: int = 3
    _started: bool = field(default=False, init=False, repr=False)
    _used: dict[str, Any] = field(default_factory=dict, init=False, repr=False)
    _tasks: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    kind = "ray"
    in_process = False

    def __enter__(self) -> RayExecutor:
        self.ray()
        return self

    def __exit__(self, *exc: object) -> None:
        self.shutdown()

    def ray(self) -> Any:
        """The ``ray`` module, connected (``ray.init`` once; an existing connection is reused). A
        local instance is started by :func:`start_local_ray` (loaded-machine timeouts, retries,
        :class:`RayStartError`); a cluster that cannot be joined is a :class:`ConfigError`."""
        ray = import_ray()
        if not ray.is_initialized():
            log.info("starting Ray (%s)", self.address or "a local instance")
            if not self.address:
                start_local_ray(self.start_attempts, **self.init_kwargs)
                self._started = True
                return ray
            kw = {"include_dashboard": False, "log_to_driver": False, **self.init_kwargs, "address": self.address}
            _probe_auth(self.address)
            try:
                ray.init(**kw)
            except Exception as exc:
                if is_auth_failure(exc):
                    raise ConfigError(auth_failure_message(self.address)) from None
                if not isinstance(exc, (ConnectionError, TimeoutError, RuntimeError, ValueError)):
                    raise
                raise ConfigError(f"cannot join the Ray cluster at {self.address!r}: {type(exc).__name__}: {exc}. "
                                  "Check the address (run `ray status` on the head node) or leave --ray-address out "
                                  "to start a local Ray") from None
            self._started = True
        return ray

    def shutdown(self) -> None:
        """Stop Ray if this executor started it."""
        if self._started:
            import_ray().shutdown()
            self._started = False

    def describe(self) -> dict[str, Any]:
        """Settings and, per task of the last map, attempts, nodes and measured thread counts."""
        return {"executor": "ray", "address": self.address, "max_retries": self.max_retries, "threads": self.threads,
                "num_gpus": self.num_gpus, **self._used, "tasks": self._tasks}

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

    def _failure(self, ray: Any, exc: BaseException, journal: Any, key: int,
                 attempt: int) -> tuple[str, str | None, bool]:
        """(the node an attempt failed on, its Ray node id if known, whether it may be retried)."""
        cause = getattr(exc, "cause", None)
        app_error = isinstance(exc, ray.exceptions.RayTaskError) and isinstance(cause, BaseException)
        try:
            started = ray.get(journal.node.remote(key, attempt), timeout=10)
        except Exception:  # noqa: BLE001 - only for the log line
            started = None
        node, node_id = started if started else (None, None)
        node = node or (getattr(exc, "ip", None) if app_error else None)
        if node is None:  # a lost node: Ray's message names its address
            found = re.search(r"Node IP: ([\w.:-]+?),", str(exc))
            node = f"node {found.group(1)} (lost)" if found else None
        where = node or "an unknown node (its worker was lost before it reported)"
        # an exception of the task follows retry_exceptions; a lost worker or node is always retried
        return where, node_id, (retryable(cause, self.retry_exceptions) if app_error and cause is not None else True)

    def _journal(self, ray: Any) -> Any:
        """The journal actor, on the driver's node (it must outlive a lost worker node)."""
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        here = NodeAffinitySchedulingStrategy(node_id=ray.get_runtime_context().get_node_id(), soft=True)
        journal = ray.remote(num_cpus=0)(_Journal).options(scheduling_strategy=here).remote()
        try:  # started before the tasks, so that none of their reports waits for it
            ray.get(journal.ready.remote(), timeout=60)
        except Exception as exc:  # noqa: BLE001 - without it, a lost worker is just not named
            log.warning("the task journal did not start (%s); a lost worker will not be named", error_text(exc))
        return journal

    def map(self, fn: Callable[[Any, Any], Any], items: Sequence[Any], *, shared: Any = None,
            keys: Sequence[int] | None = None, name: Callable[[int], str] = "task {}".format,
            threads: int | None = None, device: str = "cpu", task_mb: float | None = None,
            ) -> Generator[TaskResult, None, None]:
        """``fn(shared, item)`` for each item as Ray tasks; results in the order they finish.
        ``threads``: the torch threads a task needs (a local run's count; this executor's own
        ``threads`` wins); ``device``: the work's device (decides the GPUs a task asks for);
        ``task_mb`` (the memory a task needs) is not used: Ray schedules by CPUs."""
        ray = self.ray()
        ks = task_keys(items, keys)
        n = self.threads or threads or default_threads()
        gpus = self._gpus(ray, device)
        self._used = {"task_torch_threads": n, "task_blas_threads": n, "task_gpus": gpus}
        self._tasks = {}
        task = ray.remote(_ray_task).options(num_cpus=n, num_gpus=gpus, max_retries=0, retry_exceptions=False,
                                            name=getattr(fn, "__name__", "task"))
        journal = self._journal(ray)
        t0 = time.perf_counter()
        ref = ray.put(shared)
        log.info("shared data in the object store in %.2f s; %d tasks (%d CPU, %g GPU, %d torch / %d BLAS threads "
                 "each)", time.perf_counter() - t0, len(ks), n, gpus, n, n)
        attempts = dict.fromkeys(ks, 0)
        failures: dict[int, list[dict[str, Any]]] = {k: [] for k in ks}
        pending: dict[Any, tuple[int, Any]] = {}

        def submit(k: int, item: Any) -> None:
            attempts[k] += 1
            pending[task.remote(fn, ref, item, k, (n, n), self.fault, journal, attempts[k])] = (k, item)

        for k, item in zip(ks, items, strict=True):
            submit(k, item)
        try:
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                for r in done:
                    k, item = pending.pop(r)
                    try:
                        out = ray.get(r)
                    except Exception as exc:  # noqa: BLE001 - retried or reported by name to the caller
                        err = error_text(exc)
                        node, node_id, again = self._failure(ray, exc, journal, k, attempts[k])
                        failures[k].append({"attempt": attempts[k], "node": node, "node_id": node_id, "error": err})
                        if again and attempts[k] <= self.max_retries:
                            log.warning("%s failed on %s (attempt %d of %d), retrying: %s", name(k), node,
                                        attempts[k], self.max_retries + 1, err)
                            submit(k, item)
                            continue
                        res = TaskResult(k, error=err, attempts=attempts[k], info={"node": node, "node_id": node_id})
                    else:
                        if isinstance(out, Raised):
                            raise out.exc
                        assert isinstance(out, Done)
                        res = TaskResult(k, value=out.value, attempts=attempts[k], info=out.info)
                        if attempts[k] > 1:
                            log.info("%s succeeded on %s at attempt %d", name(k), out.info.get("node"), attempts[k])
                    self._tasks[str(k)] = task_record(res, failures[k])
                    yield res
        finally:
            for r in pending:  # interrupted or stopped by an error: leave no task running on the cluster
                ray.cancel(r, force=True)
            ray.kill(journal)

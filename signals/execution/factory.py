"""An executor from its settings: ``[execution]`` of a run config (:class:`ExecutorConfig`) and
:func:`make_executor`, the one place that chooses between the local and the Ray executor."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ConfigError
from core.settings import check_settings, setting

from .base import FaultPlan
from .local import LocalExecutor
from .ray_executor import RayExecutor, import_ray
from .runtime import DEFAULT_THREADS, free_cores, resolve_threads

__all__ = ["ExecutorConfig", "make_executor", "resolve_workers"]


@dataclass(frozen=True)
class ExecutorConfig:
    """Where the walk-forward windows of a run go, on how many threads and worker processes
    (``[execution]`` of a run config)."""

    executor: str = setting("local", choices=("local", "ray"),
                            doc="where walk-forward windows run: local = this machine (this process, or worker "
                                "processes: execution.workers); ray = one Ray task per window")
    ray_address: str = setting("", doc="Ray cluster to join (auto, host:6379, ray://host:10001); empty = a local Ray")
    max_retries: int = setting(2, lo=0, hi=100, doc="ray: extra attempts of a failed window task (also a lost worker)")
    threads: int | None = setting(
        DEFAULT_THREADS, lo=1, hi=1024, none="auto",
        doc="torch and BLAS threads of each window (local, or each Ray task): fixed, so a run's numbers do not "
            "depend on machine load; more is faster on idle cores but rounds differently; auto = the cores free "
            "at the start (load-dependent)")
    workers: int | None = setting(
        None, lo=1, hi=1024, none="auto",
        doc="local: worker processes that train windows at once (1 = one after the other in this process); the "
            "numbers are the same for any count; auto = the cores free at the start divided by threads, at most "
            "one per window and as many as the memory holds")

    def __post_init__(self) -> None:
        check_settings(self)
        if self.ray_address and self.executor != "ray":
            raise ConfigError(f"execution.ray_address = {self.ray_address!r} is set but execution.executor = "
                              f"{self.executor!r}: add --executor ray (or drop the address)")
        if self.workers is not None and self.executor == "ray":
            raise ConfigError(f"workers = {self.workers} is for the local executor, but executor = 'ray' (Ray starts "
                              "its own workers, one task per window): drop execution.workers or use --executor local")


def resolve_workers(workers: int | None, threads: int) -> int:
    """A ``workers`` setting as a count: a number as it is; None (``auto``) as the cores free now
    (:func:`~signals.execution.runtime.free_cores`) divided by the threads of a window, at least 1.
    The count changes only the speed, never a number of the run, so following the load is safe."""
    if workers is not None:
        return workers
    return max(1, free_cores() // max(1, threads))


def make_executor(config: ExecutorConfig | str = "local") -> LocalExecutor | RayExecutor:
    """An executor from its configuration (or just its kind, ``'local'`` or ``'ray'``), its thread
    and worker counts resolved now (``auto``: from the free cores); the fault hook is read from the
    environment. Ray is imported here when chosen, so a missing install fails early. A local
    executor never retries a task that raised (in this process that is no lost worker)."""
    cfg = ExecutorConfig(executor=config) if isinstance(config, str) else config
    fault = FaultPlan.from_env()
    threads = resolve_threads(cfg.threads)
    if cfg.executor == "local":
        return LocalExecutor(threads=threads, workers=resolve_workers(cfg.workers, threads), fault=fault)
    import_ray()
    return RayExecutor(address=cfg.ray_address or None, max_retries=cfg.max_retries, threads=threads, fault=fault)

"""An executor from its settings: ``[execution]`` of a run config (:class:`ExecutorConfig`) and
:func:`make_executor`, the one place that chooses between the local and the Ray executor."""

from __future__ import annotations

from dataclasses import dataclass

from core.errors import ConfigError
from core.settings import check_settings, setting

from .base import FaultPlan
from .local import LocalExecutor
from .ray_executor import RayExecutor, import_ray
from .runtime import DEFAULT_THREADS, resolve_threads

__all__ = ["ExecutorConfig", "make_executor"]


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
    import_ray()
    return RayExecutor(address=cfg.ray_address or None, max_retries=cfg.max_retries, threads=threads, fault=fault)

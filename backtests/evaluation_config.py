"""The ``[evaluation]`` settings: how a signal and its strategy are measured (torch-free, so the
command line can build its configuration without the heavy libraries)."""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import check_settings, setting

__all__ = ["EvaluationConfig"]


@dataclass(frozen=True)
class EvaluationConfig:
    """How a signal and its strategy are measured (``[evaluation]`` of a run config)."""

    quantiles: int = setting(10, lo=2, hi=100, doc="groups each day's scores are cut into (10 = deciles)")
    decay_horizons: int = setting(10, lo=1, hi=60, doc="IC decay: IC of the 1..N-day forward returns")
    bootstrap_reps: int = setting(1000, lo=100, hi=100_000, doc="replications of each stationary bootstrap of days")
    seed: int = setting(0, lo=0, hi=2**31 - 1, doc="seed of every bootstrap (recorded in metrics.json)")
    confidence: float = setting(0.95, lo=0.5, hi=0.999, doc="level of every interval")
    rolling_days: int = setting(60, lo=5, hi=1000, doc="trading days of the rolling IC chart")

    def __post_init__(self) -> None:
        check_settings(self)

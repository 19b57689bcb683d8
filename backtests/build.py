"""The objects a run is made of, built from its :class:`~backtests.config.RunConfig`.

Nothing here runs anything long: the market data of the configured universe, the estimator, the
strategy configuration, the executor, the list of traded models. :mod:`backtests.pipeline` calls
these before it creates the run folder, so a bad value writes nothing.
"""

from __future__ import annotations

import dataclasses

import pandas as pd

import data_store
from core.errors import ConfigError
from signals.execution.factory import make_executor
from signals.execution.local import LocalExecutor
from signals.execution.ray_executor import RayExecutor
from signals.execution.runtime import pin_threads
from strategies.performance import trading_days_per_year
from strategies.targets import ThresholdConfig, TopKConfig

from .config import RunConfig

__all__ = ["baselines", "estimator", "load_market", "strategy_config", "traded_models", "window_executor"]


def load_market(cfg: RunConfig, data: data_store.MarketData | None = None) -> tuple[data_store.MarketData, int]:
    """The market data of the configured universe and dates, and the calendar's trading days per
    year (measured on the whole calendar, before slicing). ``data``: the whole market data when the
    caller has loaded it already (as ``cfg.data`` says)."""
    md = data if data is not None else data_store.load(cfg.data.cache_dir or None, use_cache=cfg.data.use_cache)
    ppy = trading_days_per_year(md.calendar)
    u = cfg.universe
    # a start on a holiday just before the first trading day (2010-01-01) is fine; years before it are not
    if (md.start - u.start).days > 7 or (u.end - md.end).days > 7:
        raise ConfigError(
            f"universe.start..end = {u.start.date()}..{u.end.date()} reaches outside the data "
            f"({md.start.date()}..{md.end.date()}); choose dates inside it or update the cache")
    md = md.slice(u.start, u.end, list(u.symbols) or None)
    test_start = cfg.walk_forward.test_start
    tradable = md.tradable_mask()
    if not tradable.loc[tradable.index >= pd.Timestamp(test_start)].to_numpy().any():
        who = ", ".join(u.symbols) if u.symbols else "the CSI-300"
        raise ConfigError(
            f"empty universe: {who} has no tradable point-in-time member day from walk_forward.test_start = "
            f"{pd.Timestamp(test_start).date()} to universe.end = {u.end.date()}")
    return md, ppy


def strategy_config(cfg: RunConfig) -> TopKConfig | ThresholdConfig:
    """The strategy configuration ``strategies.run_backtest`` takes (a threshold study trades the
    universe's one symbol)."""
    s = cfg.strategy
    if s.kind == "threshold":
        return dataclasses.replace(s.threshold, symbol=cfg.universe.symbols[0])
    return s.topk


def baselines(cfg: RunConfig) -> tuple[str, ...]:
    """The baselines fitted beside the model (the model itself is not its own baseline)."""
    return tuple(b for b in cfg.model.baselines if b != cfg.model.kind)


def traded_models(cfg: RunConfig) -> list[str]:
    """The main model, then the baselines whose p_up ranks stocks (always-up gives every stock the
    same p_up, so its traded analogue is the buy-and-hold index row)."""
    out = [cfg.model.kind]
    if cfg.strategy.baseline_backtests:
        out += [b for b in baselines(cfg) if b != "always_up"]
    return out


def window_executor(cfg: RunConfig) -> LocalExecutor | RayExecutor:
    """The executor of the walk-forward windows (imports Ray only when it is chosen), its thread
    count resolved (``execution.threads``; ``auto`` is read from the load once, here)."""
    return make_executor(cfg.execution)


def estimator(cfg: RunConfig, threads: int | None) -> object:
    """The model to train, with the executor's thread count (so a fit and its task agree)."""
    from signals.models.registry import build_model  # torch, only when a model is built

    return pin_threads(build_model(cfg.model), threads)


"""Strategy configurations and the pure functions that choose target positions.

Everything here is a plain function of (the day's predictions, the holdings, the configuration):
no Backtrader, no state, so each decision can be tested alone. :mod:`strategies.engine` calls
these functions after the close of each day and submits the orders; the broker sizes, refuses or
trims them at the open ``FILL_LAG`` days later (:mod:`strategies.broker`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_store.settings import SettingError, Spec, check_settings, setting

#: The starting capital of :func:`strategies.run_backtest` (the command line declares its field with it).
INITIAL_CASH = Spec(lo=1e4, hi=1e12, doc="starting capital, CNY")
DEFAULT_INITIAL_CASH = 10_000_000.0  #: CNY

# ----------------------------------------------------------------------------- configurations
@dataclass(frozen=True, kw_only=True)
class StrategyConfig:
    """What every strategy configuration has (the base of :class:`TopKConfig` and
    :class:`ThresholdConfig`; its fields are keyword-only and come after the subclass's own).

    Every field is a :func:`data_store.settings.setting`: one default, one range, one meaning, for
    research scripts and the command line alike. Out-of-range, NaN or mistyped values raise
    :class:`data_store.settings.SettingError` (a :class:`~data_store.errors.ConfigError`).

    Attributes:
        cash_buffer: share of equity kept in cash for fees and opening gaps (0.02 = 2%).
    """

    cash_buffer: float = setting(0.02, lo=0.0, hi=0.5, doc="share of equity kept in cash for fees and opening gaps")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class TopKConfig(StrategyConfig):
    """Cross-sectional strategy: hold the ``k`` highest ``p_up`` among tradable members.

    Attributes:
        k: names held (equal weights of ``(1 - cash_buffer) / k`` of equity at purchase).
        max_replace: at most this many held names are swapped for better-ranked ones per day
            (``max_replace >= k``: no limit). Filling empty slots (the first day, after a forced
            exit) does not count, nor do forced sells of stocks that left the index.
        cash_buffer: see :class:`StrategyConfig`.
    """

    k: int = setting(30, lo=1, hi=1000, doc="TopK: names held")
    max_replace: int = setting(10, lo=1, hi=1000, doc="TopK: most held names replaced per day (>= k: no limit)")


@dataclass(frozen=True)
class ThresholdConfig(StrategyConfig):
    """Single-instrument strategy: long (all equity but the cash buffer) when ``p_up > upper``,
    flat when ``p_up < lower``, unchanged in between or on days without a prediction.

    Attributes:
        symbol: exchange-prefixed code, e.g. ``"SH600519"``; ``None`` (``"auto"`` in TOML): the
            one symbol of the predictions table (:func:`strategies.run_backtest` raises
            :class:`~strategies.errors.PredictionsError` when the table has several).
        upper, lower: probability thresholds, ``0 <= lower <= upper <= 1``.
        cash_buffer: see :class:`StrategyConfig`.
    """

    symbol: str | None = setting(None, pattern=r"(SH|SZ|BJ)\d{6}", none="auto",
                                 doc="Threshold: the stock traded, an exchange-prefixed code like SH600519")
    upper: float = setting(0.52, lo=0.0, hi=1.0, doc="Threshold: go long above this p_up")
    lower: float = setting(0.48, lo=0.0, hi=1.0, doc="Threshold: go flat below this p_up (<= upper)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lower > self.upper:
            raise SettingError(type(self).__name__, "lower", self.lower,
                               f"must not exceed upper = {self.upper} (e.g. lower=0.48, upper=0.52)")


# ----------------------------------------------------------------------------- TopK
def topk_select(
    scores: np.ndarray,
    held: np.ndarray,
    must_exit: np.ndarray,
    k: int,
    max_replace: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Names to sell and to buy today (array positions), best buys first.

    Args:
        scores: ``p_up`` per name; NaN where the name cannot be bought today (no prediction, not
            a tradable member).
        held: True where shares are held now.
        must_exit: held names that must go whatever their score (they left the index).
        k: names to hold.
        max_replace: most held names dropped for better ones (forced exits not counted).

    Rules: held names without a score are kept (they cannot be ranked today); the other held
    names compete with the candidates; held names outside the top of the ranking are sold,
    worst first, at most ``max_replace``; the best-ranked names not held fill the free slots.
    Ties are broken by position (the earlier symbol wins), so the result is deterministic.
    """
    scores = np.asarray(scores, dtype="float64")
    held = np.asarray(held, dtype=bool)
    must_exit = np.asarray(must_exit, dtype=bool) & held
    finite = np.isfinite(scores) & ~must_exit  # a leaver neither competes nor takes a slot
    staying = held & ~must_exit
    kept_unscored = staying & ~finite
    slots = max(k - int(kept_unscored.sum()), 0)

    cand = np.flatnonzero(finite)
    order = cand[np.lexsort((cand, -scores[cand]))]  # best first, ties by position
    in_top = np.zeros(scores.shape, dtype=bool)
    in_top[order[:slots]] = True

    losers = np.flatnonzero(staying & finite & ~in_top)
    losers = losers[np.lexsort((-losers, scores[losers]))]  # worst first
    drops = losers[:max_replace]

    n_after = int(staying.sum()) - len(drops)
    n_buy = max(k - n_after, 0)
    fresh = order[~held[order]]
    buys = fresh[:n_buy]
    sells = np.concatenate([np.flatnonzero(must_exit), drops]).astype(np.intp)
    return sells, buys.astype(np.intp)


@dataclass(frozen=True)
class TopKDecision:
    """Result of :func:`topk_targets`: symbols to sell (whole positions) and to buy, best first."""

    sells: tuple[str, ...]
    buys: tuple[str, ...]

    def targets(self, holdings: Iterable[str]) -> set[str]:
        """Names held after the decision is filled."""
        return (set(holdings) - set(self.sells)) | set(self.buys)


def topk_targets(
    p_up: pd.Series | Mapping[str, float],
    holdings: Iterable[str],
    config: TopKConfig,
    eligible: Iterable[str] | None = None,
    members: Iterable[str] | None = None,
) -> TopKDecision:
    """Labelled wrapper of :func:`topk_select` for research code and tests.

    Args:
        p_up: the day's predictions by symbol.
        holdings: symbols held now.
        config: k and max_replace.
        eligible: symbols that may be bought today (tradable members); default: all of ``p_up``.
        members: point-in-time members today; held symbols outside it are sold. Default: all
            held symbols are members.
    """
    p = pd.Series(p_up, dtype="float64")
    held_set = set(holdings)
    universe = sorted(set(p.index) | held_set)
    scores = p.reindex(universe).to_numpy()
    if eligible is not None:
        ok = set(eligible)
        scores = np.where([s in ok for s in universe], scores, np.nan)
    held = np.array([s in held_set for s in universe], dtype=bool)
    if members is None:
        must_exit = np.zeros(len(universe), dtype=bool)
    else:
        mem = set(members)
        must_exit = np.array([s not in mem for s in universe]) & held
        scores = np.where([s in mem for s in universe], scores, np.nan)
    sells, buys = topk_select(scores, held, must_exit, config.k, config.max_replace)
    return TopKDecision(tuple(universe[i] for i in sells), tuple(universe[i] for i in buys))


# ----------------------------------------------------------------------------- Threshold
HOLD, BUY, SELL = "hold", "buy", "sell"


def threshold_action(p_up: float, holding: bool, upper: float, lower: float) -> str:
    """``'buy'`` when flat and ``p_up > upper``, ``'sell'`` when long and ``p_up < lower``,
    else ``'hold'`` (also for a missing prediction)."""
    if p_up is None or not np.isfinite(p_up):
        return HOLD
    if not holding and p_up > upper:
        return BUY
    if holding and p_up < lower:
        return SELL
    return HOLD


# ----------------------------------------------------------------------------- sizing
def buy_budget(cash: float, equity: float, sell_proceeds: float, cash_buffer: float) -> float:
    """CNY available for today's buys: cash plus expected sell proceeds minus the buffer (may be
    0 or less: the broker then refuses the buys with reason ``cash``)."""
    return cash + sell_proceeds - cash_buffer * equity


def equal_weight_value(equity: float, k: int, cash_buffer: float) -> float:
    """CNY target value of one name in an equal-weight book of ``k`` names."""
    return equity * (1.0 - cash_buffer) / k

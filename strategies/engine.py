"""Backtrader strategies over the predictions table and :func:`run_backtest`, the entry point.

Timing (:data:`core.timing.FILL_LAG`): the prediction dated t is read
after the close of t; the orders it leads to are market orders that fill at the open of
t + FILL_LAG (never cheat-on-close). A strategy only chooses targets, with the pure functions of
:mod:`strategies.targets`, among the tradable point-in-time members of the decision day (a held
stock that left the index is sold; a non-member is never a candidate), and submits what it
wants: a sell of a whole position, or a buy of a value in CNY (:meth:`AShareStrategy.buy_value`).
Every refusal and trim, with its reason, is the broker's (:mod:`strategies.broker`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import backtrader as bt
import numpy as np
import pandas as pd

from core.settings import SettingError
from core.timing import FILL_LAG
from data_store import MarketData

from . import pacing
from .arrays import MarketArrays, build_arrays
from .broker import AShareBroker, Journal
from .errors import PredictionsError, StrategyConfigError
from .feeds import ArrayFeed, date_numbers, pandas_feed
from .predictions import validate_predictions
from .result import BacktestResult, build_result
from .rules import AShareRules, BuyValue, CostModel, DayPlan
from .targets import (
    DEFAULT_INITIAL_CASH,
    INITIAL_CASH,
    StrategyConfig,
    ThresholdConfig,
    TopKConfig,
    symbol_codes,
    threshold_orders,
    tie_at_cut,
    tie_keys,
    topk_orders,
    universe_warning,
)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- strategies
@dataclass(frozen=True, eq=False)
class StrategyContext:
    """What a strategy instance needs, passed through its one Backtrader parameter ``ctx``.

    Attributes:
        arrays: the aligned market arrays of the run.
        scores: (days x symbols) ``p_up``, NaN where there is none.
        rules: the A-share rules (for the budget's fee estimate).
        journal: the run's records; ``journal.shares`` is the book the strategy decides on.
        config: the strategy's configuration (None for a test strategy that needs none).
        feeds: the Backtrader feeds, one per column of ``arrays``.
        progress: show a progress bar over the days.
        gain_slopes: per decision day, the cost-aware rule's fitted slope
            (:func:`strategies.pacing.gain_slopes`; None: the rule is off).
        decision_rules: the costs the cost-aware rule weighs (default ``rules``; a gross twin
            weighs the net costs, so that it makes the same decisions).
    """

    arrays: MarketArrays
    scores: np.ndarray
    rules: AShareRules
    journal: Journal
    config: StrategyConfig | None
    feeds: list[bt.feed.DataBase]
    progress: bool = False
    gain_slopes: np.ndarray | None = None
    decision_rules: AShareRules | None = None


class AShareStrategy(bt.Strategy):
    """Records the day's books at each close, then lets the subclass decide (:meth:`decide`),
    unless the day is one whose orders could not fill before the run ends."""

    params = (("ctx", None),)

    def __init__(self) -> None:
        ctx: StrategyContext = self.p.ctx
        self.ctx = ctx
        self.A, self.S, self.rules, self.journal = ctx.arrays, ctx.scores, ctx.rules, ctx.journal
        self.feeds = ctx.feeds
        self.n_days = len(self.A.dates)
        self._bar = None
        if ctx.progress:
            from tqdm.auto import tqdm

            self._bar = tqdm(total=self.n_days, desc="backtest", unit="day", mininterval=0.5, leave=False,
                             disable=None)  # off when stderr is no terminal: logs stay readable

    def next(self) -> None:
        i = len(self) - 1
        j = self.journal
        j.equity[i] = self.broker.getvalue()
        j.cash[i] = self.broker.getcash()
        cols = np.flatnonzero(j.shares)
        if len(cols):
            j.positions.append((i, cols, j.shares[cols].copy()))
        if i + FILL_LAG < self.n_days:  # else the day's orders could never fill
            self.decide(i)
        if self._bar is not None:
            self._bar.update(1)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def decide(self, i: int) -> None:  # pragma: no cover - abstract
        """Submit the orders of decision day ``i`` (after its close)."""
        raise NotImplementedError

    def sell_all(self, c: int, plan: DayPlan | None = None, proceeds: float = 0.0) -> None:
        """Sell the whole position of column ``c`` (the broker may refuse or trim it); ``plan``:
        the day's buy budget, which counted ``proceeds`` CNY from this sale (the broker takes out
        what it does not sell before it sizes the buys)."""
        self.sell(data=self.feeds[c], size=self.journal.shares[c], plan=plan, proceeds=float(proceeds))

    def buy_value(self, i: int, c: int, value: float, target: float | None = None, plan: DayPlan | None = None,
                  slot: int = -1) -> None:
        """Buy column ``c`` for at most ``value`` CNY (commission included), sized by the broker
        to its board's lots at the close of decision day ``i``; ``target`` is the name's full-weight
        value (default ``value``), which names the reason when no lot fits; ``plan`` and ``slot``:
        the day's budget and this buy's place in it, which the broker re-spreads when a sale it
        counted on is refused (see :class:`strategies.rules.BuyValue`). Every buy is submitted,
        so that a refusal is recorded by the broker (Backtrader drops an order of size 0 without
        a trace)."""
        wish = BuyValue(value=float(value), target=float(value if target is None else target),
                        price=float(self.A.close[i, c]), plan=plan, slot=int(slot))
        size = wish.wanted if np.isfinite(wish.wanted) and wish.wanted > 0 else float(self.rules.lot.LOT)
        self.buy(data=self.feeds[c], size=size, buy_value=wish)


class TopKStrategy(AShareStrategy):
    """Hold the k highest ``p_up`` among tradable point-in-time members: each decision day submits
    the orders of :func:`strategies.targets.topk_orders` (rank buffer, minimum holding period,
    missing scores, seeded ties, the tranche reviewed today and the cost-aware rule of
    :mod:`strategies.pacing`; whole positions sold; the day's budget, cash and sell proceeds above
    the cash buffer, spread over the buys, each capped at its target weight plus the lot-rounding
    carry), the function the next session's order list calls too. The strategy keeps the state
    the function reads: each holding's first day held (``min_hold``) and its tranche."""

    def __init__(self) -> None:
        super().__init__()
        n = self.A.shape[1]
        self.entry = np.full(n, -1, dtype=np.int64)  # day a holding was first seen held
        self.tranche = np.full(n, -1, dtype=np.int64)  # tranche of each holding (-1: not held)
        self.codes = symbol_codes(self.A.symbols)

    def decide(self, i: int) -> None:
        cfg = self.ctx.config
        assert isinstance(cfg, TopKConfig)
        A, j, rules = self.A, self.journal, self.rules
        held = j.shares > 0
        self.entry = np.where(held, np.where(self.entry < 0, i, self.entry), -1)
        tradable = A.tradable[i]
        scores = np.where(tradable, self.S[i], np.nan)  # only tradable members are candidates
        j.unscored[i] = int((held & tradable & ~np.isfinite(scores)).sum())
        j.tied[i] = tie_at_cut(scores, cfg.k)
        if not np.isfinite(scores).any() and not held.any():
            return
        must_exit = held & ~A.member[i]
        locked = held & (i - self.entry < cfg.min_hold)
        self.tranche = pacing.held_tranches(self.tranche, held)
        slope = None if self.ctx.gain_slopes is None else float(self.ctx.gain_slopes[i])
        orders = topk_orders(scores, j.shares, A.close[i], must_exit, tradable, locked, float(j.cash[i]),
                             float(j.equity[i]), cfg, rules, A.dates[i], tie_keys(cfg.tie_seed, A.dates[i], self.codes),
                             A.symbols, day=i, tranche=self.tranche, gain_slope=slope, volume=A.volume[i],
                             volatility=A.volatility[i], fill_date=A.dates[min(i + FILL_LAG, len(A.dates) - 1)],
                             decision_rules=self.ctx.decision_rules)
        for c, proceeds in zip(orders.sells, orders.sell_proceeds, strict=True):
            self.sell_all(c, orders.plan, proceeds)
        for slot, (c, value) in enumerate(zip(orders.buys, orders.values, strict=True)):
            self.buy_value(i, c, value, orders.target, orders.plan, slot)
        self.tranche[orders.buys] = orders.joins


class ThresholdStrategy(AShareStrategy):
    """One instrument: long above ``upper``, flat below ``lower`` (see
    :func:`strategies.targets.threshold_action`), bought only while it is a point-in-time
    member on the decision day, sold when it leaves the index."""

    def decide(self, i: int) -> None:
        cfg = self.ctx.config
        assert isinstance(cfg, ThresholdConfig)
        A, j = self.A, self.journal
        orders = threshold_orders(float(self.S[i, 0]), bool(j.shares[0] > 0), bool(A.member[i, 0]), float(j.cash[i]),
                                  float(j.equity[i]), cfg)
        for c in orders.sells:
            self.sell_all(c)
        for c, value in zip(orders.buys, orders.values, strict=True):
            self.buy_value(i, c, value, orders.target)


# ----------------------------------------------------------------------------- the entry point
def run_backtest(
    md: MarketData,
    predictions: pd.DataFrame,
    strategy: TopKConfig | ThresholdConfig | None = None,
    costs: CostModel | None = None,
    initial_cash: float = DEFAULT_INITIAL_CASH,
    progress: bool = True,
    *,
    feed: str = "array",
    periods_per_year: int | None = None,
    decision_costs: CostModel | None = None,
) -> BacktestResult:
    """Trade one model's predictions under A-share rules with Backtrader.

    Args:
        md: market data (raw prices execute; the factor adjusts holdings on ex-rights days).
        predictions: ``date, symbol, p_up`` of ONE model, unique ``(date, symbol)``; the decision
            of date t fills at the open of the trading day ``FILL_LAG`` (1) later.
        strategy: :class:`TopKConfig` (default ``TopKConfig()``) or :class:`ThresholdConfig`.
        costs: :class:`CostModel` (commission rate per side, 5 CNY minimum, slippage).
        initial_cash: CNY, within :data:`INITIAL_CASH` (1e4..1e12).
        progress: show a progress bar over the days.
        feed: ``"array"`` (the fast preloaded feed) or ``"pandas"`` (Backtrader's stock
            ``PandasData``; same results, for benchmarks and checks).
        periods_per_year: trading days a year of the result's summary; default: measured on
            ``md.calendar`` (:func:`strategies.performance.trading_days_per_year`). A caller that
            has measured the figure on a longer calendar passes it, so both use one figure.
        decision_costs: the costs the cost-aware swap rule (``TopKConfig.cost_aware``) weighs
            (default ``costs``). The twin of a backtest before costs passes the net costs here, so
            that it makes the same decisions and only the charges differ.

    TopK runs: :func:`strategies.pacing.paced_scores` smooths the score panel first
    (``score_halflife``) and, with ``cost_aware``, fits the slopes on the (smoothed) scores and the
    run's own forward returns (causal); the first prediction date is day 0 of the review cycle
    (``hold_days``, ``rebalance_every``); each day's orders are
    :func:`strategies.targets.topk_orders`; a universe small for ``k + buffer`` is logged as a
    warning and kept in ``res.warnings`` (:func:`strategies.targets.universe_warning`).

    Returns:
        :class:`BacktestResult`. The run covers the calendar days from the first prediction date
        to the day ``FILL_LAG`` after the last one (or the calendar's end).

    Raises:
        StrategyConfigError: ``strategy``, ``costs`` or ``feed`` of the wrong kind; a threshold
            symbol without bars.
        core.settings.SettingError: ``initial_cash`` not a number in range.
        PredictionsError: the table breaks its contract (:func:`validate_predictions`), or a
            threshold run without a symbol gets a table of several symbols.
    """
    t0 = time.perf_counter()
    strategy = TopKConfig() if strategy is None else strategy
    if not isinstance(strategy, (TopKConfig, ThresholdConfig)):
        raise StrategyConfigError(
            f"strategy={strategy!r}: pass strategies.TopKConfig(...) or strategies.ThresholdConfig(...)"
        )
    costs = CostModel() if costs is None else costs
    if not isinstance(costs, CostModel):
        raise StrategyConfigError(f"costs={costs!r}: pass strategies.CostModel(...)")
    if decision_costs is not None and not isinstance(decision_costs, CostModel):
        raise StrategyConfigError(f"decision_costs={decision_costs!r}: pass strategies.CostModel(...) or None")
    if isinstance(initial_cash, bool) or not isinstance(initial_cash, (int, float, np.integer, np.floating)):
        raise SettingError("run_backtest", "initial_cash", initial_cash, "must be an amount of CNY (a number)")
    cash = float(initial_cash)
    INITIAL_CASH.check("run_backtest", "initial_cash", cash)
    if periods_per_year is not None and (isinstance(periods_per_year, bool)
                                         or not isinstance(periods_per_year, (int, np.integer))
                                         or not 1 <= periods_per_year <= 366):
        raise SettingError("run_backtest", "periods_per_year", periods_per_year,
                           "must be a whole number of trading days a year (1..366), or None to measure it")
    if feed not in ("array", "pandas"):
        raise StrategyConfigError(f"feed={feed!r}: use 'array' or 'pandas'")
    preds = validate_predictions(md, predictions)

    if isinstance(strategy, ThresholdConfig):
        symbol = _threshold_symbol(md, preds, strategy)
        preds = preds.loc[preds["symbol"] == symbol]
        symbols = [symbol]
    else:
        symbols = sorted(preds["symbol"].unique())

    cal = md.calendar
    first = preds["date"].min()
    last_pos = cal.get_loc(preds["date"].max())
    end = cal[min(last_pos + FILL_LAG, len(cal) - 1)]
    rules = AShareRules.from_costs(costs)
    arrays = build_arrays(md, symbols, first, end, rules.price_limit, rules.suspension)
    n_days, n_sym = arrays.shape
    scores = np.full((n_days, n_sym), np.nan)
    di = arrays.dates.get_indexer(preds["date"])
    si = pd.Index(symbols).get_indexer(preds["symbol"])
    scores[di, si] = preds["p_up"].to_numpy()
    slopes, warnings = None, []
    if isinstance(strategy, TopKConfig):
        scores, slopes = pacing.paced_scores(scores, arrays.tradable, arrays.open, arrays.ex_ratio, arrays.suspended,
                                             strategy.score_halflife, strategy.cost_aware, strategy.gain_horizon)
        decided = arrays.tradable[: max(n_days - FILL_LAG, 1)]
        note = universe_warning(float(np.median(decided.sum(axis=1))), strategy)
        if note:
            log.warning("%s", note)
            warnings.append(note)
    t_prep = time.perf_counter()

    cls = ThresholdStrategy if isinstance(strategy, ThresholdConfig) else TopKStrategy
    decision_rules = None if decision_costs is None else AShareRules.from_costs(decision_costs)
    journal = simulate(arrays, scores, rules, cls, strategy, cash, feed=feed, progress=progress,
                       gain_slopes=slopes, decision_rules=decision_rules)
    t_run = time.perf_counter()

    res = build_result(md, arrays, journal, cash, strategy, costs, periods_per_year)
    res.warnings = warnings
    res.timings = {"prepare_s": t_prep - t0, "backtrader_s": t_run - t_prep,
                   "result_s": time.perf_counter() - t_run, "days": n_days, "symbols": n_sym}
    log.info("backtest %s: %d days x %d symbols in %.1f s (%d trades, %d refused)",
             type(strategy).__name__, n_days, n_sym, time.perf_counter() - t0,
             len(res.trades), len(res.rejected))
    return res


def _threshold_symbol(md: MarketData, preds: pd.DataFrame, cfg: ThresholdConfig) -> str:
    """The stock of a threshold run: ``cfg.symbol``, or the one symbol of the table."""
    if cfg.symbol is None:
        have = sorted(preds["symbol"].unique())
        if len(have) != 1:
            raise PredictionsError(
                f"ThresholdConfig(symbol=None) trades the one symbol of the predictions table, but it "
                f"has {len(have)} symbols, e.g. {have[:5]}: pass ThresholdConfig(symbol='SH600519') "
                f"or filter the table to one symbol"
            )
        return str(have[0])
    if cfg.symbol not in md.symbols:
        raise StrategyConfigError(f"ThresholdConfig.symbol={cfg.symbol!r} has no bars in the market data")
    if not (preds["symbol"] == cfg.symbol).any():
        raise PredictionsError(
            f"no prediction rows for ThresholdConfig.symbol={cfg.symbol!r}; the table has "
            f"symbols like {sorted(preds['symbol'].unique())[:5]}"
        )
    return cfg.symbol


def simulate(
    arrays: MarketArrays,
    scores: np.ndarray,
    rules: AShareRules,
    strategy_cls: type[AShareStrategy],
    config: StrategyConfig | None,
    initial_cash: float,
    feed: str = "array",
    progress: bool = False,
    gain_slopes: np.ndarray | None = None,
    decision_rules: AShareRules | None = None,
) -> Journal:
    """Run one Backtrader pass of ``strategy_cls`` over aligned arrays and return its journal.

    ``scores`` is (days x symbols) ``p_up`` (NaN where none); ``gain_slopes`` and
    ``decision_rules``: see :class:`StrategyContext`. This is the execution core of
    :func:`run_backtest`; tests use it with their own :class:`AShareStrategy` subclasses.
    """
    cerebro = bt.Cerebro(stdstats=False, runonce=True, preload=True, exactbars=False,
                         tradehistory=False, quicknotify=False)
    broker = AShareBroker()
    cerebro.broker = broker
    broker.set_cash(float(initial_cash))
    dtnum = date_numbers(arrays.dates)
    feeds = []
    for c, sym in enumerate(arrays.symbols):
        cols = {"open": arrays.open[:, c], "high": arrays.high[:, c], "low": arrays.low[:, c],
                "close": arrays.close[:, c], "volume": arrays.volume[:, c]}
        if feed == "array":
            data = ArrayFeed.from_arrays(sym, c, dtnum, **cols)
        else:
            data = pandas_feed(sym, arrays.dates, **cols)
            data.col = c
        cerebro.adddata(data, name=sym)
        feeds.append(data)
    n_days, n_sym = arrays.shape
    journal = Journal(n_days, n_sym)
    broker.setup(arrays, rules, journal, feeds)
    ctx = StrategyContext(arrays, scores, rules, journal, config, feeds, progress, gain_slopes, decision_rules)
    cerebro.addstrategy(strategy_cls, ctx=ctx)
    cerebro.run()
    return journal

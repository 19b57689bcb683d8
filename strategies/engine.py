"""Backtrader strategies over the predictions table and :func:`run_backtest`, the entry point.

Timing (DESIGN.md, "Time"): the prediction dated t is read after the close of t; the orders it
leads to are market orders that fill at the open of t+1 (never cheat-on-close). The choice of
names is made by the pure functions of :mod:`strategies.targets`; Backtrader only executes.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import backtrader as bt
import numpy as np
import pandas as pd

from data_store import MarketData

from . import rules as R
from .arrays import MarketArrays, build_arrays
from .broker import AShareBroker, Journal
from .errors import PredictionsError, StrategyConfigError
from .feeds import ArrayFeed, date_numbers, pandas_feed
from .result import BacktestResult
from .rules import AShareRules, CostModel
from .targets import (
    BUY,
    SELL,
    ThresholdConfig,
    TopKConfig,
    buy_budget,
    equal_weight_value,
    size_buy,
    threshold_action,
    topk_select,
)

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- strategies
class _Context:
    """What a strategy instance needs, passed through one Backtrader parameter."""

    def __init__(self, arrays: MarketArrays, scores: np.ndarray, rules: AShareRules,
                 journal: Journal, config: Any, feeds: list,
                 progress: bool) -> None:
        self.arrays, self.scores, self.rules, self.journal = arrays, scores, rules, journal
        self.config, self.feeds, self.progress = config, feeds, progress


class _AShareStrategy(bt.Strategy):
    """Records the day's books at each close, then lets the subclass decide."""

    params = (("ctx", None),)

    def __init__(self) -> None:
        ctx: _Context = self.p.ctx
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
        if i + 1 < self.n_days:  # the last day's orders could never fill
            self.decide(i)
        if self._bar is not None:
            self._bar.update(1)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.close()

    def decide(self, i: int) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _refuse(self, i: int, c: int, side: str, shares: float, reason: str) -> None:
        # recorded on the day the order would have filled
        self.journal.refuse(i + 1, c, side, shares, reason, shares)


class TopKStrategy(_AShareStrategy):
    """Hold the k highest ``p_up`` among tradable point-in-time members (see
    :func:`strategies.targets.topk_select`), equal weights, whole positions sold."""

    def decide(self, i: int) -> None:
        cfg: TopKConfig = self.ctx.config
        A, j, rules = self.A, self.journal, self.rules
        scores = np.where(A.tradable[i], self.S[i], np.nan)
        if not np.isfinite(scores).any() and not j.shares.any():
            return
        held = j.shares > 0
        must_exit = held & ~A.member[i]
        sells, buys = topk_select(scores, held, must_exit, cfg.k, cfg.max_replace)
        if not len(sells) and not len(buys):
            return
        close = A.close[i]
        proceeds = 0.0
        for c in sells:
            shares = j.shares[c]
            value = shares * close[c]
            proceeds += value - sum(rules.fees(value, A.dates[i], True))
            self.sell(data=self.feeds[c], size=shares)
        if not len(buys):
            return
        equity = self.broker.getvalue()
        budget = buy_budget(self.broker.getcash(), equity, proceeds, cfg.cash_buffer)
        target = equal_weight_value(equity, cfg.k, cfg.cash_buffer)
        per_name = min(target, budget / len(buys))
        for c in buys:
            if per_name <= 0:
                self._refuse(i, c, "buy", target / close[c], R.CASH)
                continue
            shares = size_buy(per_name, close[c], rules.lot, rules.commission)
            if shares == 0:
                # below one lot at the full weight: a lot problem; else cash ran short
                full = size_buy(target, close[c], rules.lot, rules.commission)
                self._refuse(i, c, "buy", target / close[c], R.CASH if full else R.LOT)
                continue
            self.buy(data=self.feeds[c], size=shares)


class ThresholdStrategy(_AShareStrategy):
    """One instrument: long above ``upper``, flat below ``lower`` (see
    :func:`strategies.targets.threshold_action`)."""

    def decide(self, i: int) -> None:
        cfg: ThresholdConfig = self.ctx.config
        A, j, rules = self.A, self.journal, self.rules
        c = 0
        held = j.shares[c] > 0
        if held and not A.member[i, c]:
            # the stock left the index: sell it when it can be, whatever the prediction says
            # (after its exit there are no predictions, so the threshold would hold it for ever)
            self.sell(data=self.feeds[c], size=j.shares[c])
            return
        action = threshold_action(float(self.S[i, c]), held, cfg.upper, cfg.lower)
        if action == SELL:
            self.sell(data=self.feeds[c], size=j.shares[c])
        elif action == BUY:
            if not A.member[i, c]:
                self._refuse(i, c, "buy", 0.0, R.NOT_MEMBER)
                return
            equity = self.broker.getvalue()
            budget = min(equal_weight_value(equity, 1, cfg.cash_buffer),
                         buy_budget(self.broker.getcash(), equity, 0.0, cfg.cash_buffer))
            shares = size_buy(budget, A.close[i, c], rules.lot, rules.commission)
            if shares == 0:
                self._refuse(i, c, "buy", max(budget, 0.0) / A.close[i, c], R.LOT if budget > 0 else R.CASH)
                return
            self.buy(data=self.feeds[c], size=shares)


# ----------------------------------------------------------------------------- predictions
def validate_predictions(md: MarketData, predictions: pd.DataFrame) -> pd.DataFrame:
    """Check the predictions contract and return ``date, symbol, p_up`` (dates normalised).

    Raises :class:`PredictionsError` naming the offending rows and the fix.
    """
    if not isinstance(predictions, pd.DataFrame):
        raise PredictionsError(
            f"predictions must be a pandas DataFrame with columns date, symbol, p_up; got {type(predictions).__name__}"
        )
    missing = [c for c in ("date", "symbol", "p_up") if c not in predictions.columns]
    if missing:
        raise PredictionsError(
            f"predictions lack column(s) {missing}; have {list(predictions.columns)}. Pass the "
            f"signals table (date, symbol, p_up), e.g. res.predictions[['date', 'symbol', 'p_up']]"
        )
    if "model" in predictions.columns:
        models = pd.unique(predictions["model"].astype(str))
        if len(models) > 1:
            raise PredictionsError(
                f"predictions hold {len(models)} models {sorted(models)[:6]}; a backtest trades ONE "
                f"model's table: filter by the model column, e.g. preds[preds['model'] == {models[0]!r}]"
            )
    if len(predictions) == 0:
        raise PredictionsError("predictions are empty: nothing to trade")
    p = pd.DataFrame({
        "date": pd.to_datetime(predictions["date"].to_numpy()).normalize(),
        "symbol": predictions["symbol"].astype(str).to_numpy(),
        "p_up": pd.to_numeric(predictions["p_up"], errors="coerce").to_numpy(dtype="float64"),
    })
    dup = p.duplicated(["date", "symbol"], keep=False)
    if dup.any():
        rows = predictions.loc[dup.to_numpy()].head(6)
        hint = ("filter by the `model` column (e.g. preds[preds['model'] == 'lstm'])"
                if "model" in predictions.columns else
                "keep one row per (date, symbol): the table must come from ONE model; "
                "if it mixes models, filter by the `model` column first")
        raise PredictionsError(
            f"predictions have {int(dup.sum())} rows with a repeated (date, symbol); for example:\n"
            f"{rows.to_string()}\nFix: {hint}."
        )
    bad_p = p["p_up"].notna() & ~p["p_up"].between(0.0, 1.0)
    if bad_p.any():
        raise PredictionsError(
            f"{int(bad_p.sum())} p_up value(s) outside [0, 1], e.g. {p.loc[bad_p].head(3).to_dict('records')}; "
            f"p_up is a probability (rank-transform raw scores first, see strategies.scores)"
        )
    off_cal = ~p["date"].isin(md.calendar)
    if off_cal.any():
        ex = sorted({str(d.date()) for d in p.loc[off_cal, "date"].head(5)})
        raise PredictionsError(
            f"{int(off_cal.sum())} prediction row(s) are dated off the trading calendar "
            f"({md.start.date()}..{md.end.date()}), e.g. {ex}: use trading days of md.calendar"
        )
    unknown = sorted(set(p["symbol"].unique()) - set(md.symbols))
    if unknown:
        raise PredictionsError(
            f"{len(unknown)} predicted symbol(s) have no bars in the market data, e.g. {unknown[:5]}: "
            f"drop them or load the data that has them (exchange-prefixed codes like SH600519)"
        )
    return p.sort_values(["date", "symbol"], ignore_index=True)


# ----------------------------------------------------------------------------- the entry point
def run_backtest(
    md: MarketData,
    predictions: pd.DataFrame,
    strategy: TopKConfig | ThresholdConfig | None = None,
    costs: CostModel | None = None,
    initial_cash: float = 10_000_000.0,
    progress: bool = True,
    *,
    feed: str = "array",
) -> BacktestResult:
    """Trade one model's predictions under A-share rules with Backtrader.

    Args:
        md: market data (raw prices execute; the factor adjusts holdings on ex-rights days).
        predictions: ``date, symbol, p_up`` of ONE model, unique ``(date, symbol)``; the decision
            of date t fills at the open of the next trading day.
        strategy: :class:`TopKConfig` (default) or :class:`ThresholdConfig`.
        costs: :class:`CostModel` (commission rate per side, 5 CNY minimum, slippage).
        initial_cash: CNY.
        progress: show a progress bar over the days.
        feed: ``"array"`` (the fast preloaded feed) or ``"pandas"`` (Backtrader's stock
            ``PandasData``; same results, for benchmarks and checks).

    Returns:
        :class:`BacktestResult`. The run covers the calendar days from the first prediction date
        to the day after the last one (or the calendar's end).
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
    if not (isinstance(initial_cash, (int, float)) and np.isfinite(initial_cash) and initial_cash > 0):
        raise StrategyConfigError(f"initial_cash={initial_cash!r} must be a positive amount of CNY")
    if feed not in ("array", "pandas"):
        raise StrategyConfigError(f"feed={feed!r}: use 'array' or 'pandas'")
    preds = validate_predictions(md, predictions)

    if isinstance(strategy, ThresholdConfig):
        if strategy.symbol not in md.symbols:
            raise StrategyConfigError(
                f"ThresholdConfig.symbol={strategy.symbol!r} has no bars in the market data"
            )
        preds = preds.loc[preds["symbol"] == strategy.symbol]
        if preds.empty:
            raise PredictionsError(
                f"no prediction rows for ThresholdConfig.symbol={strategy.symbol!r}; the table has "
                f"symbols like {sorted(predictions['symbol'].astype(str).unique())[:5]}"
            )
        symbols = [strategy.symbol]
    else:
        symbols = sorted(preds["symbol"].unique())

    cal = md.calendar
    first = preds["date"].min()
    last_pos = cal.get_loc(preds["date"].max())
    end = cal[min(last_pos + 1, len(cal) - 1)]
    rules = AShareRules.from_costs(costs)
    arrays = build_arrays(md, symbols, first, end, rules.price_limit)
    n_days, n_sym = arrays.shape
    scores = np.full((n_days, n_sym), np.nan)
    di = arrays.dates.get_indexer(preds["date"])
    si = pd.Index(symbols).get_indexer(preds["symbol"])
    scores[di, si] = preds["p_up"].to_numpy()
    t_prep = time.perf_counter()

    cls = ThresholdStrategy if isinstance(strategy, ThresholdConfig) else TopKStrategy
    journal = simulate(arrays, scores, rules, cls, strategy, float(initial_cash), feed=feed,
                       progress=progress)
    t_run = time.perf_counter()

    res = _build_result(md, arrays, journal, float(initial_cash), strategy, costs)
    res.timings = {"prepare_s": t_prep - t0, "backtrader_s": t_run - t_prep,
                   "result_s": time.perf_counter() - t_run, "days": n_days, "symbols": n_sym}
    log.info("backtest %s: %d days x %d symbols in %.1f s (%d trades, %d refused)",
             type(strategy).__name__, n_days, n_sym, time.perf_counter() - t0,
             len(res.trades), len(res.rejected))
    return res


def simulate(
    arrays: MarketArrays,
    scores: np.ndarray,
    rules: AShareRules,
    strategy_cls: type[_AShareStrategy],
    config: Any,
    initial_cash: float,
    feed: str = "array",
    progress: bool = False,
) -> Journal:
    """Run one Backtrader pass of ``strategy_cls`` over aligned arrays and return its journal.

    ``scores`` is (days x symbols) ``p_up`` (NaN where none). This is the execution core of
    :func:`run_backtest`; tests use it with their own strategy classes.
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
    ctx = _Context(arrays, scores, rules, journal, config, feeds, progress)
    cerebro.addstrategy(strategy_cls, ctx=ctx)
    cerebro.run()
    return journal


def _build_result(md: MarketData, A: MarketArrays, j: Journal, initial_cash: float,
                  strategy: Any, costs: CostModel) -> BacktestResult:
    dates = A.dates
    sym = np.asarray(A.symbols, dtype=object)
    equity = pd.Series(j.equity, index=dates, name="equity")
    cash = pd.Series(j.cash, index=dates, name="cash")
    returns = equity.pct_change().iloc[1:].rename("returns")

    if j.positions:
        di = np.concatenate([np.full(len(cols), i) for i, cols, _ in j.positions])
        ci = np.concatenate([cols for _, cols, _ in j.positions])
        sh = np.concatenate([s for _, _, s in j.positions])
    else:
        di = ci = np.zeros(0, dtype=int)
        sh = np.zeros(0)
    close = A.close[di, ci]
    positions = pd.DataFrame({"date": dates[di], "symbol": sym[ci], "shares": sh,
                              "close": close, "value": sh * close})

    tcols = ["date", "symbol", "side", "shares", "price", "value", "commission", "stamp_duty"]
    if j.trades:
        t = pd.DataFrame(j.trades, columns=["i", "c", *tcols[2:]])
        trades = pd.DataFrame({"date": dates[t["i"].to_numpy()], "symbol": sym[t["c"].to_numpy()],
                               **{k: t[k] for k in tcols[2:]}})
    else:
        trades = pd.DataFrame({k: pd.Series(dtype="float64") for k in tcols})
    rcols = ["date", "symbol", "side", "shares", "reason", "requested"]
    if j.rejected:
        r = pd.DataFrame(j.rejected, columns=["i", "c", *rcols[2:]])
        rejected = pd.DataFrame({"date": dates[r["i"].to_numpy()], "symbol": sym[r["c"].to_numpy()],
                                 **{k: r[k] for k in rcols[2:]}})
    else:
        rejected = pd.DataFrame({k: pd.Series(dtype="float64") for k in rcols})
    acols = ["date", "symbol", "shares_before", "shares_after", "cash"]
    if j.actions:
        a = pd.DataFrame(j.actions, columns=["i", "c", *acols[2:]])
        actions = pd.DataFrame({"date": dates[a["i"].to_numpy()], "symbol": sym[a["c"].to_numpy()],
                                **{k: a[k] for k in acols[2:]}})
    else:
        actions = pd.DataFrame({k: pd.Series(dtype="float64") for k in acols})

    traded = trades.groupby("date")["value"].sum().reindex(dates, fill_value=0.0) if len(trades) \
        else pd.Series(0.0, index=dates)
    prev_eq = equity.shift(1)
    turnover = (traded / prev_eq).iloc[1:].rename("turnover")
    bench = md.benchmark_returns().reindex(returns.index).rename("CSI300")
    return BacktestResult(returns=returns, equity=equity, cash=cash, positions=positions,
                          trades=trades, rejected=rejected, corporate_actions=actions,
                          turnover=turnover, benchmark_returns=bench, initial_cash=initial_cash,
                          strategy=strategy, costs=costs)

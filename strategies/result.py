"""The result of one backtest: returns, equity, positions, trades, rejected orders, summary, and
:func:`build_result`, which makes it from a run's journal."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.timing import FILL_LAG
from data_store import MarketData

from . import performance as perf
from .arrays import MarketArrays
from .broker import Journal
from .rules import REASONS, VOLUME, CostModel
from .targets import StrategyConfig, TopKConfig


@dataclass(eq=False)
class BacktestResult:
    """What :func:`strategies.run_backtest` returns.

    Dates: ``equity`` and ``cash`` start on the first decision day (the initial cash, nothing
    traded yet) and end FILL_LAG (1) trading day after the last decision (its orders fill at that
    open).
    ``returns`` starts one day later: the return of day d is equity(d) / equity(d-1) - 1, so it is
    the return earned by the decisions of the day before.

    Attributes:
        returns: daily simple returns of equity after all costs (for QuantStats).
        equity, cash: CNY at each close.
        positions: ``date, symbol, shares, close, value`` at each close (held names only).
        trades: ``date, symbol, side, shares, price, value, commission, stamp_duty, impact``
            (fill date, raw CNY fill price after slippage and impact; ``impact``: CNY the
            square-root impact moved the fill against the trader, included in ``price``).
        rejected: ``date, symbol, side, shares, reason, requested, days, last_date``: refused or
            trimmed orders; ``shares`` is the part refused, ``date`` the day the order would have
            filled. One row per episode: a whole order refused for the same reason on consecutive
            fill days (a suspended stock that left the index, offered every day) is one row from
            ``date`` to ``last_date``, ``days`` fill days long (``shares`` and ``requested`` of
            its first day); a trim is a row of one day. Rows are sorted by ``date``, then in the
            order the broker met them: the day's orders in submission order (a strategy's sells,
            then its buys best first), and for one order its checks in turn (a lot trim before a
            cash trim). All refusals are the broker's.
        corporate_actions: ``date, symbol, shares_before, shares_after, cash``: ex-rights share
            adjustments of holdings (dividends and bonus shares, from the adjustment factor).
        turnover: traded value (buys + sells) / previous day's equity.
        benchmark_returns: CSI-300 close-to-close returns on the dates of ``returns``.
        decisions: by decision day (TopK; empty otherwise): ``held`` (names held at the close),
            ``unscored`` (held tradable members without a prediction), ``tie_at_k`` (the k-th and
            (k+1)-th best ``p_up`` were equal: the seeded tie rule chose).
        periods_per_year: trading days a year the summary annualises with: measured on the
            market data's calendar (:func:`strategies.performance.trading_days_per_year`) unless
            :func:`strategies.run_backtest` was given the figure.
        volume_cut_value: CNY of the shares the participation cap trimmed or refused, at the open
            of their fill day (for the fill rate).
        warnings: what the run's figures mean when its settings make them say little (a universe
            small for TopK's k + buffer: :func:`strategies.targets.universe_warning`).
    """

    returns: pd.Series
    equity: pd.Series
    cash: pd.Series
    positions: pd.DataFrame
    trades: pd.DataFrame
    rejected: pd.DataFrame
    corporate_actions: pd.DataFrame
    turnover: pd.Series
    benchmark_returns: pd.Series
    initial_cash: float
    strategy: StrategyConfig | None = None
    costs: CostModel | None = None
    timings: dict[str, float] = field(default_factory=dict)
    decisions: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["held", "unscored", "tie_at_k"]))
    periods_per_year: int | None = None
    volume_cut_value: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def __repr__(self) -> str:
        n = len(self.returns)
        span = f"{self.returns.index[0].date()}..{self.returns.index[-1].date()}" if n else "no days"
        total = float(np.prod(1.0 + self.returns.to_numpy()) - 1.0) if n else 0.0
        return (f"BacktestResult({self.strategy!r}, {span}, {n} days, total return {total:+.2%}, "
                f"{len(self.trades)} trades, {len(self.rejected)} refused or trimmed orders)")

    def summary(self, periods_per_year: int | None = None) -> dict[str, Any]:
        """Headline figures (floats and ints; money in CNY, returns as fractions).

        ``annual_return`` compounds to ``periods_per_year`` trading days a year; default: the
        run's :attr:`periods_per_year` (the calendar's measured figure, 243 on the snapshot;
        measured on the returns' own dates for a result built by hand). ``annual_turnover`` is
        the mean daily turnover (buys + sells over equity) times it. ``rejected`` and
        ``rejected_by_reason`` count refusal episodes (rows of :attr:`rejected`),
        ``rejected_days`` the fill days they span. ``unscored_position_days``: held tradable
        members without a prediction on a decision day (``unscored_share`` of all position-days
        then); ``tie_days``: decision days with a tie at the k-th place; ``avg_cash_share``: cash
        over equity at the close, averaged over the days of :attr:`returns`; ``impact``: CNY the
        square-root impact cost (in the fill prices, not in ``fees``); ``fill_rate``: traded value
        over traded value plus the value the participation cap trimmed or refused (1.0: the cap
        never bit).
        """
        ppy = periods_per_year or self.periods_per_year or perf.trading_days_per_year(self.equity.index)
        r = self.returns
        n = len(r)
        b = self.benchmark_returns.reindex(r.index).fillna(0.0)
        commission = float(self.trades["commission"].sum()) if len(self.trades) else 0.0
        duty = float(self.trades["stamp_duty"].sum()) if len(self.trades) else 0.0
        counts = self.rejected["reason"].value_counts() if len(self.rejected) else pd.Series(dtype=int)
        by_reason = {k: int(counts.get(k, 0)) for k in REASONS}
        held = self.positions.groupby("date").size() if len(self.positions) else pd.Series(dtype=int)
        d = self.decisions
        return {
            "start": str(r.index[0].date()) if n else None,
            "end": str(r.index[-1].date()) if n else None,
            "days": n,
            "initial_cash": float(self.initial_cash),
            "final_equity": float(self.equity.iloc[-1]) if len(self.equity) else float(self.initial_cash),
            "total_return": perf.total_return(r),
            "annual_return": perf.annual_return(r, ppy),
            "annual_volatility": perf.annual_volatility(r, ppy),
            "sharpe": perf.sharpe_ratio(r, ppy),
            "max_drawdown": perf.max_drawdown(r),
            "benchmark_total_return": perf.total_return(b),
            "benchmark_annual_return": perf.annual_return(b, ppy),
            "fees": commission + duty,
            "commission": commission,
            "stamp_duty": duty,
            "fees_pct_initial": (commission + duty) / self.initial_cash,
            "impact": float(self.trades["impact"].sum()) if "impact" in self.trades and len(self.trades) else 0.0,
            "fill_rate": _fill_rate(self.trades, self.volume_cut_value),
            "turnover": float(self.turnover.mean()) if len(self.turnover) else 0.0,
            "annual_turnover": float(self.turnover.mean() * ppy) if len(self.turnover) else 0.0,
            "trades": len(self.trades),
            "buys": int((self.trades["side"] == "buy").sum()) if len(self.trades) else 0,
            "sells": int((self.trades["side"] == "sell").sum()) if len(self.trades) else 0,
            "rejected": len(self.rejected),
            "rejected_days": int(self.rejected["days"].sum()) if len(self.rejected) else 0,
            "rejected_by_reason": by_reason,
            "corporate_actions": len(self.corporate_actions),
            "avg_names_held": float(held.reindex(self.equity.index, fill_value=0).mean()) if len(self.equity) else 0.0,
            # from the first fill day on (the first day is the initial cash, before any order could fill)
            "avg_cash_share": float((self.cash / self.equity).iloc[1:].mean()) if len(self.equity) > 1 else 1.0,
            "unscored_position_days": int(d["unscored"].sum()) if len(d) else 0,
            "unscored_share": float(d["unscored"].sum() / d["held"].sum()) if len(d) and d["held"].sum() else 0.0,
            "tie_days": int(d["tie_at_k"].sum()) if len(d) else 0,
            "periods_per_year": ppy,
        }


def _fill_rate(trades: pd.DataFrame, cut: float) -> float:
    traded = float(trades["value"].sum()) if len(trades) else 0.0
    return traded / (traded + cut) if traded + cut > 0 else 1.0


def build_result(md: MarketData, A: MarketArrays, j: Journal, initial_cash: float,
                 strategy: StrategyConfig | None, costs: CostModel | None,
                 periods_per_year: int | None = None) -> BacktestResult:
    """The :class:`BacktestResult` of a finished run: the journal's rows labelled with dates and
    symbols (refusals sorted by fill date, then in the order the broker met them);
    ``periods_per_year`` default: measured on ``md.calendar``."""
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

    tcols = ["date", "symbol", "side", "shares", "price", "value", "commission", "stamp_duty", "impact"]
    if j.trades:
        t = pd.DataFrame(j.trades, columns=["i", "c", *tcols[2:]])
        trades = pd.DataFrame({"date": dates[t["i"].to_numpy()], "symbol": sym[t["c"].to_numpy()],
                               **{k: t[k] for k in tcols[2:]}})
    else:
        trades = pd.DataFrame({k: pd.Series(dtype="float64") for k in tcols})
    rcols = ["date", "symbol", "side", "shares", "reason", "requested", "days", "last_date"]
    if j.rejected:
        r = pd.DataFrame(j.rejected, columns=["i", "c", *rcols[2:-1]]).sort_values("i", kind="stable")
        first = r["i"].to_numpy()
        rejected = pd.DataFrame({"date": dates[first], "symbol": sym[r["c"].to_numpy()],
                                 **{k: r[k].to_numpy() for k in rcols[2:-1]},
                                 "last_date": dates[first + r["days"].to_numpy() - 1]})
    else:
        rejected = pd.DataFrame({k: pd.Series(dtype="float64") for k in rcols})
    # the participation cap's cuts, valued at the open of their (first) fill day
    cut = sum(float(shares) * float(A.open[i, c]) for i, c, _, shares, reason, *_ in j.rejected if reason == VOLUME)
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
    if isinstance(strategy, TopKConfig):
        n_held = np.zeros(len(dates), dtype=np.int64)
        for i, cols, _ in j.positions:
            n_held[i] = len(cols)
        decided = slice(0, max(len(dates) - FILL_LAG, 0))  # the days a decision was made
        decisions = pd.DataFrame({"held": n_held[decided], "unscored": j.unscored[decided],
                                  "tie_at_k": j.tied[decided]}, index=dates[decided])
    else:
        decisions = pd.DataFrame(columns=["held", "unscored", "tie_at_k"])
    ppy = perf.trading_days_per_year(md.calendar) if periods_per_year is None else int(periods_per_year)
    return BacktestResult(returns=returns, equity=equity, cash=cash, positions=positions,
                          trades=trades, rejected=rejected, corporate_actions=actions,
                          turnover=turnover, benchmark_returns=bench, initial_cash=initial_cash,
                          strategy=strategy, costs=costs, decisions=decisions, periods_per_year=ppy,
                          volume_cut_value=cut)

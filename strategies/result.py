"""The result of one backtest: returns, equity, positions, trades, rejected orders, summary."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from . import performance as perf
from .rules import REASONS

#: A-share trading days per year used for annualisation (not 252).
TRADING_DAYS_PER_YEAR = 242


@dataclass(eq=False)
class BacktestResult:
    """What :func:`strategies.run_backtest` returns.

    Dates: ``equity`` and ``cash`` start on the first decision day (the initial cash, nothing
    traded yet) and end on the day after the last decision (its orders fill at that open).
    ``returns`` starts one day later: the return of day d is equity(d) / equity(d-1) - 1, so it is
    the return earned by the decisions of the day before.

    Attributes:
        returns: daily simple returns of equity after all costs (for QuantStats).
        equity, cash: CNY at each close.
        positions: ``date, symbol, shares, close, value`` at each close (held names only).
        trades: ``date, symbol, side, shares, price, value, commission, stamp_duty`` (fill date,
            raw CNY fill price).
        rejected: ``date, symbol, side, shares, reason, requested``: refused or trimmed orders;
            ``shares`` is the part refused, ``date`` the day the order would have filled.
        corporate_actions: ``date, symbol, shares_before, shares_after, cash``: ex-rights share
            adjustments of holdings (dividends and bonus shares, from the adjustment factor).
        turnover: traded value (buys + sells) / previous day's equity.
        benchmark_returns: CSI-300 close-to-close returns on the dates of ``returns``.
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
    strategy: Any = None
    costs: Any = None
    timings: dict[str, float] = field(default_factory=dict)

    def __repr__(self) -> str:
        n = len(self.returns)
        span = f"{self.returns.index[0].date()}..{self.returns.index[-1].date()}" if n else "no days"
        total = float(np.prod(1.0 + self.returns.to_numpy()) - 1.0) if n else 0.0
        return (f"BacktestResult({self.strategy!r}, {span}, {n} days, total return {total:+.2%}, "
                f"{len(self.trades)} trades, {len(self.rejected)} refused or trimmed orders)")

    def summary(self, periods_per_year: int = TRADING_DAYS_PER_YEAR) -> dict[str, Any]:
        """Headline figures (floats and ints; money in CNY, returns as fractions).

        ``annual_return`` compounds to ``periods_per_year`` trading days a year (default 242, the
        A-share calendar's usual count; pass the figure measured on your calendar to match other
        reports); ``annual_turnover`` is the mean daily turnover (buys + sells over equity) times it.
        """
        ppy = periods_per_year
        r = self.returns
        n = len(r)
        b = self.benchmark_returns.reindex(r.index).fillna(0.0)
        commission = float(self.trades["commission"].sum()) if len(self.trades) else 0.0
        duty = float(self.trades["stamp_duty"].sum()) if len(self.trades) else 0.0
        counts = self.rejected["reason"].value_counts() if len(self.rejected) else pd.Series(dtype=int)
        by_reason = {k: int(counts.get(k, 0)) for k in REASONS}
        held = self.positions.groupby("date").size() if len(self.positions) else pd.Series(dtype=int)
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
            "turnover": float(self.turnover.mean()) if len(self.turnover) else 0.0,
            "annual_turnover": float(self.turnover.mean() * ppy) if len(self.turnover) else 0.0,
            "trades": len(self.trades),
            "buys": int((self.trades["side"] == "buy").sum()) if len(self.trades) else 0,
            "sells": int((self.trades["side"] == "sell").sum()) if len(self.trades) else 0,
            "rejected": len(self.rejected),
            "rejected_by_reason": by_reason,
            "corporate_actions": len(self.corporate_actions),
            "avg_names_held": float(held.reindex(self.equity.index, fill_value=0).mean()) if len(self.equity) else 0.0,
            "avg_cash_share": float((self.cash / self.equity).mean()) if len(self.equity) else 1.0,
            "periods_per_year": ppy,
        }

"""Pure, documented metric functions for the accuracy-vs-returns comparison.

Conventions: returns are daily simple returns (0.01 = +1%) indexed by trading date; annualisation
uses ``periods_per_year`` trading days (the A-share calendar's ~242, not 252). Every function
returns NaN where a figure is undefined (no days, zero volatility) instead of raising. The return
metrics themselves are :mod:`strategies.performance` (one implementation for the backtest's own
summary and for this report). The uncertainty of an accuracy edge, IC or alpha is
:mod:`backtests.evidence.stats` (day-block bootstrap and HAC errors; the naive binomial error is gone: the
samples of a day are not independent).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.timing import FILL_LAG
from strategies.performance import annual_return, annual_volatility, max_drawdown, sharpe_ratio, total_return

__all__ = ["days_after", "performance", "window_returns"]


def days_after(calendar: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Trading days on which the decisions of days ``start..end`` earn their return.

    A decision at the close of t fills at the open of t + FILL_LAG and its first return is booked
    on that day, so the days are the calendar days of the window shifted by the fill lag.
    """
    pos = np.flatnonzero((calendar >= start) & (calendar <= end)) + FILL_LAG
    return calendar[pos[pos < len(calendar)]]


def window_returns(returns: pd.Series, benchmark: pd.Series, windows: pd.DataFrame,
                   calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """Strategy and benchmark compounded returns per walk-forward window.

    ``windows`` needs columns ``window, test_start, test_end``. The returns of a window are those
    booked on the day after each of its test days (see :func:`days_after`). ``excess`` is the
    strategy's compounded return minus the benchmark's, in fractions (after costs, since the
    strategy returns are net of fees).
    """
    rows = []
    for w in windows.itertuples(index=False):
        days = days_after(calendar, pd.Timestamp(w.test_start), pd.Timestamp(w.test_end))
        s = returns.reindex(days).dropna()
        b = benchmark.reindex(s.index).fillna(0.0)
        sr, br = total_return(s), total_return(b)
        rows.append({"window": w.window, "days": len(s), "strategy_return": sr,
                     "benchmark_return": br, "excess_return": sr - br})
    return pd.DataFrame(rows)


def performance(returns: pd.Series, benchmark: pd.Series, periods_per_year: int) -> dict[str, float]:
    """Headline figures of a daily return series against a benchmark over the same dates."""
    b = benchmark.reindex(returns.index).fillna(0.0)
    ar, br = annual_return(returns, periods_per_year), annual_return(b, periods_per_year)
    return {
        "days": float(len(returns)),
        "total_return": total_return(returns),
        "annual_return": ar,
        "benchmark_annual_return": br,
        "annual_excess_return": ar - br,
        "annual_volatility": annual_volatility(returns, periods_per_year),
        "sharpe": sharpe_ratio(returns, periods_per_year),
        "max_drawdown": max_drawdown(returns),
    }

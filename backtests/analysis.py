"""Pure, documented metric functions for the accuracy-vs-returns comparison.

Conventions: returns are daily simple returns (0.01 = +1%) indexed by trading date; annualisation
uses ``periods_per_year`` trading days (the A-share calendar's ~242, not 252). Every function
returns NaN where a figure is undefined (no days, zero volatility) instead of raising.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

# the return metrics live with the backtest result; re-exported here for the report and scripts
from strategies.performance import (  # noqa: F401
    annual_return,
    annual_volatility,
    max_drawdown,
    sharpe_ratio,
    total_return,
)


def days_after(calendar: pd.DatetimeIndex, start: pd.Timestamp, end: pd.Timestamp) -> pd.DatetimeIndex:
    """Trading days on which the decisions of days ``start..end`` earn their return.

    A decision at the close of t fills at the open of t+1 and its first return is booked on t+1,
    so the days are the calendar days after each decision day of the window (shifted by one).
    """
    pos = np.flatnonzero((calendar >= start) & (calendar <= end)) + 1
    return calendar[pos[pos < len(calendar)]]


def window_returns(
    returns: pd.Series,
    benchmark: pd.Series,
    windows: pd.DataFrame,
    calendar: pd.DatetimeIndex,
) -> pd.DataFrame:
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


def accuracy_edge(accuracy: float, always_up: float, n: int) -> tuple[float, float]:
    """Accuracy minus always-up accuracy, in percentage points, and a naive standard error in pp
    (binomial, sqrt(p(1-p)/n)); samples of one day are correlated, so the true error is larger."""
    if n <= 0 or not np.isfinite(accuracy):
        return float("nan"), float("nan")
    return 100.0 * (accuracy - always_up), 100.0 * math.sqrt(accuracy * (1 - accuracy) / n)


def pct(x: float, digits: int = 1, sign: bool = False) -> str:
    """Format a fraction as a percentage (``0.0123 -> '1.2%'``); NaN -> 'n/a'."""
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{100 * x:+.{digits}f}%" if sign else f"{100 * x:.{digits}f}%"


def _num(x: float, spec: str) -> str:
    return format(x, spec) if x is not None and np.isfinite(x) else "n/a"


def verdict(
    model: str,
    accuracy: float,
    always_up: float,
    n: int,
    auc: float,
    ic: float,
    annual_excess: float,
    windows_positive_excess: int,
    windows_beating_majority: int,
    n_windows: int,
) -> str:
    """A plain-words verdict computed from the numbers.

    ``always_up`` is the accuracy of predicting "up" for every sample, i.e. the share of up labels.
    Skill is judged against the best constant guess, the majority class (always-up or
    always-down, whichever scores more): beating a 46% always-up by predicting "down" every day
    is no skill. An edge counts only when it exceeds twice its naive standard error.
    """
    edge, se = accuracy_edge(accuracy, always_up, n)
    majority = max(always_up, 1.0 - always_up) if np.isfinite(always_up) else float("nan")
    which = "always-up" if always_up >= 0.5 else "always-down"
    medge, _ = accuracy_edge(accuracy, majority, n)
    parts = [
        f"{model}: accuracy {pct(accuracy)} vs {pct(always_up)} always-up ({edge:+.1f} pp); "
        f"the best constant guess ({which}) scores {pct(majority)}, an edge of {medge:+.1f} pp "
        f"(naive s.e. {se:.1f} pp); AUC {_num(auc, '.3f')}; IC {_num(ic, '+.3f')}; "
        f"annual excess return after costs {pct(annual_excess, sign=True)} vs CSI-300.",
        f"Accuracy beat the best constant guess in {windows_beating_majority} of {n_windows} windows; "
        f"the strategy beat the index in {windows_positive_excess} of {n_windows}.",
    ]
    skill = bool(np.isfinite(medge) and medge > 2 * se and np.isfinite(auc) and auc > 0.5)
    money = bool(np.isfinite(annual_excess) and annual_excess > 0)
    if skill and money:
        parts.append("The prediction edge is larger than its naive error and the strategy earned an excess return after costs.")
    elif skill:
        parts.append("The prediction edge is real on paper but did not survive trading: after costs the strategy trailed the index.")
    elif money:
        parts.append("The strategy beat the index, but its accuracy does not beat the best constant guess beyond noise: "
                     "treat the excess as luck or exposure, not skill.")
    else:
        parts.append("No evidence of skill: accuracy does not beat the best constant guess beyond noise, "
                     "and the strategy did not beat the index after costs.")
    return " ".join(parts)

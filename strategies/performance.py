"""Pure, documented performance metrics of daily return series (empyrical style).

Conventions: returns are daily simple returns (0.01 = +1%) indexed by trading date; annualisation
uses ``periods_per_year`` trading days, the figure :func:`trading_days_per_year` measures on the
A-share calendar (243 on the snapshot's 2010-2024), not 252. Every function returns NaN where a
figure is undefined (no days, zero volatility) instead of raising. The backtest summary and the
backtests report both use these, and both take the figure from :func:`trading_days_per_year`, so
the two cannot disagree.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Trading days a year when a calendar holds no complete year to measure (the A-share usual count).
FALLBACK_TRADING_DAYS = 242


def trading_days_per_year(calendar: pd.DatetimeIndex) -> int:
    """Median number of trading days in the calendar's complete years, rounded to a whole day.

    A year is complete when the calendar covers it from its first week to its last: a trading
    day on or before 7 January and one on or after 24 December (the first and last trading days
    of an A-share year fall inside those bounds). A calendar without a complete year (a span
    shorter than a calendar year, or a hand-made test market) gets :data:`FALLBACK_TRADING_DAYS`.
    The snapshot's calendar (2010-01-04 .. 2025-06-30) measures 243.
    """
    cal = pd.DatetimeIndex(calendar)
    if len(cal) == 0:
        return FALLBACK_TRADING_DAYS
    days = pd.Series(cal, index=cal)
    by_year = days.groupby(cal.year)
    first, last, count = by_year.min(), by_year.max(), by_year.size()
    years = count.index.to_numpy()
    starts = pd.to_datetime([f"{y}-01-07" for y in years])
    ends = pd.to_datetime([f"{y}-12-24" for y in years])
    complete = (first.to_numpy() <= starts.to_numpy()) & (last.to_numpy() >= ends.to_numpy())
    if not complete.any():
        return FALLBACK_TRADING_DAYS
    return int(round(float(np.median(count.to_numpy()[complete]))))


def total_return(returns: pd.Series) -> float:
    """Compounded return over the whole series: prod(1 + r) - 1. Empty: 0.0."""
    r = np.asarray(returns, dtype="float64")
    return float(np.prod(1.0 + r) - 1.0) if r.size else 0.0


def annual_return(returns: pd.Series, periods_per_year: int) -> float:
    """Compound annual growth rate: (1 + total)^(periods_per_year / n) - 1. NaN when n = 0 or the
    equity went to zero or below."""
    n = len(returns)
    growth = 1.0 + total_return(returns)
    if n == 0 or growth <= 0:
        return float("nan")
    return float(growth ** (periods_per_year / n) - 1.0)


def annual_volatility(returns: pd.Series, periods_per_year: int) -> float:
    """Sample standard deviation (ddof=1) times sqrt(periods_per_year). NaN for fewer than 2 days."""
    r = np.asarray(returns, dtype="float64")
    return float(r.std(ddof=1) * math.sqrt(periods_per_year)) if r.size > 1 else float("nan")


def sharpe_ratio(returns: pd.Series, periods_per_year: int) -> float:
    """Annualised Sharpe ratio with a zero risk-free rate: mean / std (ddof=1) x sqrt(ppy).
    NaN when the standard deviation is 0 or there are fewer than 2 days."""
    r = np.asarray(returns, dtype="float64")
    if r.size < 2:
        return float("nan")
    sd = r.std(ddof=1)
    return float(r.mean() / sd * math.sqrt(periods_per_year)) if sd > 0 else float("nan")


def max_drawdown(returns: pd.Series) -> float:
    """Largest peak-to-trough fall of the compounded equity curve, as a negative fraction
    (-0.25 = -25%); 0.0 when equity never falls. The starting equity (1.0) counts as a peak."""
    r = np.asarray(returns, dtype="float64")
    if r.size == 0:
        return 0.0
    equity = np.concatenate([[1.0], np.cumprod(1.0 + r)])
    peak = np.maximum.accumulate(equity)
    return float((equity / peak - 1.0).min())

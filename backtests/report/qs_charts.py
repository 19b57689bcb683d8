"""Charts of QuantStats' report that QuantStats 0.0.86 draws wrongly, drawn by the toolkit instead.

:mod:`backtests.report.qs_adapter` puts these in place of QuantStats' own plotting functions while it
writes the report (same names, same keyword arguments, the figure saved to ``savefig``), so they
land in QuantStats' page where its versions would. What was wrong, and what these do:

* ``log_returns``: a symlog axis of the cumulative return, whose ticks near 0 (``2%`` over ``0%``)
  overlap; here the growth of 1 on a true log axis, with a few cumulative-return ticks spaced apart;
* ``rolling_beta``: the 6-month beta was zero-filled before its first full window (reading 0.0
  for six months, and pulling its mean line down); here the warm-up is left blank;
* ``monthly_heatmap``: months after the data's end (and before its start) were shown as 0.00;
  here they are blank cells marked "no data";
* ``distribution``: weekly, monthly, quarterly and yearly returns were aligned on period-end dates
  that are often not trading days and forward-filled, so the yearly box was flat; here each box
  holds the compounded return of every period that has data;
* ``daily_returns``: "Daily Returns (Cumulative Sum)" was the returns summed per CALENDAR day, so
  every weekend and holiday read 0 (a sawtooth); here the daily returns of the trading days.

A rolling chart whose window is longer than the data draws nothing here (QuantStats drew an empty
axis dated 2000-2010); :mod:`backtests.report.qs_adapter` puts a sentence in its place.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["daily_returns", "distribution", "log_returns", "monthly_heatmap", "rolling_beta"]

STRATEGY, BENCHMARK = "#348dc1", "#fedd78"
#: fewest values a rolling chart needs to be drawn at all (fewer: nothing is drawn)
MIN_POINTS = 20
#: cumulative returns a log chart may mark (fractions)
_TICKS = (-0.95, -0.9, -0.8, -0.7, -0.6, -0.5, -0.4, -0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0,
          3.0, 5.0, 10.0, 20.0)


def _figure(figsize: tuple[float, float], title: str):
    from matplotlib.figure import Figure

    fig = Figure(figsize=figsize)
    ax = fig.add_subplot(1, 1, 1)
    for side in ("top", "right", "bottom", "left"):
        ax.spines[side].set_visible(False)
    fig.suptitle(title, y=0.97, fontweight="bold", fontsize=14, color="black")
    ax.grid(alpha=0.3)
    return fig, ax


def _save(fig, savefig: Any) -> None:
    fig.tight_layout()
    if isinstance(savefig, dict):
        fig.savefig(**savefig)
    elif savefig:
        fig.savefig(savefig)


def _series(returns: Any) -> pd.Series:
    s = returns.iloc[:, 0] if isinstance(returns, pd.DataFrame) else returns
    return pd.Series(s, dtype="float64").fillna(0.0)


def log_ticks(lo: float, hi: float, most: int = 7) -> list[float]:
    """Cumulative-return ticks (fractions) for a log axis of growth from ``lo`` to ``hi`` (both > 0):
    0% when it is in range, then marks of :data:`_TICKS` outwards from it, none closer to another
    than a ``most``-th of the log range."""
    span = math.log(hi) - math.log(lo)
    gap = max(span, 1e-9) / most
    inside = [t for t in _TICKS if lo <= 1.0 + t <= hi]
    out: list[float] = []
    for t in sorted(inside, key=lambda t: abs(math.log(1.0 + t))):
        if all(abs(math.log(1.0 + t) - math.log(1.0 + c)) >= gap for c in out):
            out.append(t)
    return sorted(out)


def log_returns(returns: Any, benchmark: Any = None, figsize: tuple[float, float] = (8, 4),
                savefig: Any = None, **_: Any) -> None:
    """Cumulative returns of the strategy and the benchmark on a log scale of growth."""
    from matplotlib.ticker import FixedLocator, NullLocator

    fig, ax = _figure(figsize, "Cumulative Returns vs Benchmark (Log Scaled)")
    curves = []
    if benchmark is not None:
        b = (1 + _series(benchmark)).cumprod()
        ax.plot(b.index, b.to_numpy(), color=BENCHMARK, lw=1.5, label=getattr(benchmark, "name", None) or "Benchmark")
        curves.append(b)
    s = (1 + _series(returns)).cumprod()
    ax.plot(s.index, s.to_numpy(), color=STRATEGY, lw=1.5, label=getattr(returns, "name", None) or "Strategy")
    curves.append(s)
    ax.set_yscale("log")
    lo = min(1.0, *(float(c.min()) for c in curves))
    hi = max(1.0, *(float(c.max()) for c in curves))
    ticks = log_ticks(lo * 0.98, hi * 1.02)
    ax.yaxis.set_major_locator(FixedLocator([1 + t for t in ticks]))
    ax.yaxis.set_minor_locator(NullLocator())
    ax.set_yticklabels([f"{round(100 * t) + 0:+d}%" if t else "0%" for t in ticks])
    ax.axhline(1.0, ls="--", lw=1, color="black")
    ax.legend(fontsize=9, loc="best")
    fig.autofmt_xdate()
    _save(fig, savefig)


def rolling_beta_series(returns: Any, benchmark: Any, window: int) -> pd.Series:
    """Beta over the last ``window`` days (cov / var); NaN until the first window is full."""
    s = _series(returns)
    b = _series(benchmark).reindex(s.index).fillna(0.0)
    return s.rolling(window).cov(b) / b.rolling(window).var()


def rolling_beta(returns: Any, benchmark: Any, window1: int = 126, window1_label: str = "6-Months",
                 window2: int | None = 252, window2_label: str = "12-Months", figsize: tuple[float, float] = (8, 3),
                 savefig: Any = None, **_: Any) -> None:
    """Rolling beta of the strategy to the benchmark over two windows; blank until a window is full.
    Nothing is drawn (and nothing saved) when the first window leaves fewer than :data:`MIN_POINTS`
    values."""
    s = _series(returns)
    beta1 = rolling_beta_series(s, benchmark, window1)
    if beta1.notna().sum() < MIN_POINTS:
        return
    fig, ax = _figure(figsize, "Rolling Beta to Benchmark")
    ax.plot(beta1.index, beta1.to_numpy(), color=STRATEGY, lw=1.5, label=f"{window1_label} ({window1} days)")
    if window2:
        beta2 = rolling_beta_series(s, benchmark, window2)
        ax.plot(beta2.index, beta2.to_numpy(), color="gray", lw=1.0, alpha=0.8,
                label=f"{window2_label} ({window2} days)")
    if beta1.notna().any():
        ax.axhline(float(beta1.mean()), ls="--", lw=1.2, color="red", label=f"mean {beta1.mean():.2f}")
    ax.axhline(0, ls="--", lw=1, color="black")
    ax.axhline(1, ls=":", lw=0.8, color="black")
    ax.set_xlim(s.index[0], s.index[-1])
    ax.legend(fontsize=8, loc="best")
    fig.autofmt_xdate()
    _save(fig, savefig)


def daily_series(returns: Any, benchmark: Any = None, active: bool = False) -> pd.Series:
    """The daily returns a daily-returns chart shows: one value per trading day of ``returns`` (no
    calendar day is added), less the benchmark's when ``active``."""
    s = _series(returns)
    if active and benchmark is not None:
        s = s - _series(benchmark).reindex(s.index).fillna(0.0)
    return s


def daily_returns(returns: Any, benchmark: Any = None, figsize: tuple[float, float] = (8, 3), savefig: Any = None,
                  active: bool = False, **_: Any) -> None:
    """The strategy's daily returns (%) on its trading days."""
    s = daily_series(returns, benchmark, active) * 100
    fig, ax = _figure(figsize, "Daily Active Returns (%)" if active else "Daily Returns (%)")
    ax.plot(s.index, s.to_numpy(), color=STRATEGY, lw=0.6)
    ax.axhline(0, ls="--", lw=1, color="black")
    ax.set_xlim(s.index[0], s.index[-1])
    fig.autofmt_xdate()
    _save(fig, savefig)


def monthly_table(returns: pd.Series) -> pd.DataFrame:
    """Year x month (1..12) compounded monthly returns (fractions); NaN for months without data."""
    r = _series(returns)
    m = (1 + r).groupby([r.index.year, r.index.month]).prod() - 1
    table = m.unstack()
    return table.reindex(columns=range(1, 13))


def monthly_heatmap(returns: Any, benchmark: Any = None, figsize: tuple[float, float] = (8, 4),
                    returns_label: str = "Strategy", savefig: Any = None, **_: Any) -> None:
    """Monthly returns in %, one row a year; months outside the data are blank, marked "no data"."""
    from matplotlib import colormaps

    table = monthly_table(_series(returns)) * 100
    fig, ax = _figure(figsize, f"{returns_label} - Monthly Returns (%)")
    ax.grid(False)
    v = table.to_numpy(dtype=float)
    lim = max(float(np.nanmax(np.abs(v))) if np.isfinite(v).any() else 1.0, 1e-9)
    cmap = colormaps["RdYlGn"].with_extremes(bad="#f4f4f4")
    ax.imshow(np.ma.masked_invalid(v), cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
    for i in range(v.shape[0]):
        for j in range(v.shape[1]):
            x = v[i, j]
            if np.isfinite(x):
                ax.text(j, i, f"{round(x, 2) + 0:.2f}", ha="center", va="center", fontsize=8,
                        color="white" if abs(x) > 0.6 * lim else "black")
            else:
                ax.text(j, i, "no data", ha="center", va="center", fontsize=6, color="#999")
    ax.set_xticks(range(12), ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"],
                  fontsize=9)
    ax.set_yticks(range(len(table)), [str(y) for y in table.index], fontsize=9)
    _save(fig, savefig)


def period_returns(returns: pd.Series) -> dict[str, pd.Series]:
    """Compounded returns of every day, week (to Friday), month, quarter and year that has data."""
    r = _series(returns)
    out = {"Daily": r}
    for name, rule in (("Weekly", "W-FRI"), ("Monthly", "ME"), ("Quarterly", "QE"), ("Yearly", "YE")):
        g = (1 + r).resample(rule)
        out[name] = (g.prod() - 1)[g.count() > 0]
    return out


def distribution(returns: Any, figsize: tuple[float, float] = (8, 4), title: str | None = None,
                 savefig: Any = None, **_: Any) -> None:
    """Box plots of the daily, weekly, monthly, quarterly and yearly returns (each period once)."""
    from matplotlib.ticker import PercentFormatter

    fig, ax = _figure(figsize, f"{title} - Return Quantiles" if title else "Return Quantiles")
    per = period_returns(_series(returns))
    colors = ["#fedd78", "#348dc1", "#af4b64", "#4fa487", "#9b59b6"]
    box = ax.boxplot([100 * v.to_numpy() for v in per.values()], patch_artist=True, widths=0.6)
    ax.set_xticks(range(1, len(per) + 1), [f"{k}\n({len(v)})" for k, v in per.items()])
    for patch, c in zip(box["boxes"], colors, strict=False):
        patch.set_facecolor(c)
    ax.yaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.axhline(0, ls="--", lw=1, color="black")
    _save(fig, savefig)

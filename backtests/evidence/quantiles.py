"""From accuracy to money, alphalens-style: a signal measured on each day's cross-section.

Inputs are day x symbol panels on the same index and columns: ``scores`` (a model's ``p_up`` or any
score; NaN where a stock was not scored that day) and ``returns`` (each decision day's forward
return, :func:`backtests.evidence.forward.forward_returns`; NaN where unknown). Everything is first computed
per day, so one day's common market move never counts as many samples; the daily series are what
:mod:`backtests.evidence.stats` resamples for intervals.

Units: correlations are unitless in [-1, 1]; returns are fractions per holding period (per day for
a horizon of 1). Days with fewer than :data:`MIN_NAMES` scored names with a known return are
skipped (their correlation is undefined), as in :func:`signals.metrics.daily_ic`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["MIN_NAMES", "daily_corr", "extreme_spread", "monotonicity", "quantile_labels", "quantile_returns",
           "rank_autocorrelation", "to_panel", "top_turnover"]

#: fewest names a day needs for a cross-sectional statistic
MIN_NAMES = 3


def to_panel(frame: pd.DataFrame, value: str, index: pd.DatetimeIndex | None = None,
             columns: pd.Index | None = None) -> pd.DataFrame:
    """A long table (``date, symbol, value``; unique pairs) as a day x symbol panel, optionally on a
    given index and columns (missing cells NaN)."""
    p = frame.pivot(index="date", columns="symbol", values=value).astype("float64")
    p.columns = p.columns.astype(str)
    if index is not None or columns is not None:
        p = p.reindex(index=index if index is not None else p.index,
                      columns=columns if columns is not None else p.columns)
    return p


def daily_corr(x: pd.DataFrame, y: pd.DataFrame, method: str = "pearson") -> pd.Series:
    """Each day's cross-sectional correlation of ``x`` and ``y`` over the names where both are finite.

    ``method``: ``pearson`` (IC) or ``spearman`` (rank IC: Pearson of average ranks). A day with fewer
    than :data:`MIN_NAMES` names, or on which either side is constant, is left out, with the same
    rule as :func:`signals.metrics.daily_ic` (whose mean over days this series reproduces). Returns a
    Series by day (only the days with a value)."""
    if method not in ("pearson", "spearman"):
        raise ValueError(f"method = {method!r}: pearson or spearman")
    y = y.reindex(index=x.index, columns=x.columns)
    xv, yv = x.to_numpy(dtype=np.float64), y.to_numpy(dtype=np.float64)
    both = np.isfinite(xv) & np.isfinite(yv)
    if method == "spearman":
        xv = pd.DataFrame(np.where(both, xv, np.nan)).rank(axis=1).to_numpy()
        yv = pd.DataFrame(np.where(both, yv, np.nan)).rank(axis=1).to_numpy()
    n = both.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        xm = np.where(both, xv, 0.0).sum(axis=1) / n
        ym = np.where(both, yv, 0.0).sum(axis=1) / n
        dx = np.where(both, xv - xm[:, None], 0.0)
        dy = np.where(both, yv - ym[:, None], 0.0)
    pp, rr, pr = (dx * dx).sum(axis=1), (dy * dy).sum(axis=1), (dx * dy).sum(axis=1)
    denom = np.sqrt(pp * rr)
    enough = n >= MIN_NAMES
    scale = max(1.0, float(np.abs(pp[enough]).max())) if enough.any() else 1.0
    ok = enough & (denom > 1e-12 * scale)
    return pd.Series(pr[ok] / denom[ok], index=x.index[ok], dtype="float64")


def quantile_labels(scores: pd.DataFrame, quantiles: int = 10) -> pd.DataFrame:
    """Each day's scores cut into ``quantiles`` equal-count groups by rank: 1 = lowest scores,
    ``quantiles`` = highest (float, NaN where not scored). Ties share their average rank, so equal
    scores fall in the same group; a day with fewer names than groups leaves some groups empty."""
    rank = scores.rank(axis=1, method="average")
    n = scores.notna().sum(axis=1).to_numpy(dtype=float)[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.ceil(rank.to_numpy() / n * quantiles)
    q = np.clip(q, 1, quantiles)
    return pd.DataFrame(np.where(np.isfinite(rank.to_numpy()), q, np.nan), index=scores.index, columns=scores.columns)


def quantile_returns(scores: pd.DataFrame, returns: pd.DataFrame, quantiles: int = 10) -> pd.DataFrame:
    """Day x quantile frame of the equal-weighted mean forward return of each day's quantile
    (columns 1..``quantiles``; NaN where a quantile has no name with a known return). Only names
    with both a score and a known return count, and the quantiles are cut among them."""
    returns = returns.reindex(index=scores.index, columns=scores.columns)
    known = scores.where(np.isfinite(returns.to_numpy()))
    q = quantile_labels(known, quantiles).to_numpy()
    r = returns.to_numpy(dtype=np.float64)
    out = np.full((len(scores), quantiles), np.nan)
    for k in range(1, quantiles + 1):
        sel = q == k
        cnt = sel.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[:, k - 1] = np.where(cnt > 0, np.where(sel, r, 0.0).sum(axis=1) / cnt, np.nan)
    days = known.notna().sum(axis=1).to_numpy() >= MIN_NAMES
    frame = pd.DataFrame(out, index=scores.index, columns=pd.RangeIndex(1, quantiles + 1, name="quantile"))
    return frame[days]


def extreme_spread(quantile_frame: pd.DataFrame) -> pd.Series:
    """Each day's mean return of its highest populated quantile minus its lowest (a day needs two
    different populated quantiles): with enough distinct scores that is top minus bottom; for a
    signal with few distinct values (a 0/1 call) it is the up group minus the down group."""
    v = quantile_frame.to_numpy(dtype=np.float64)
    ok = np.isfinite(v)
    cnt = ok.sum(axis=1)
    first = np.argmax(ok, axis=1)
    last = v.shape[1] - 1 - np.argmax(ok[:, ::-1], axis=1)
    rows = np.arange(len(v))
    keep = cnt >= 2
    return pd.Series(v[rows, last][keep] - v[rows, first][keep], index=quantile_frame.index[keep], dtype="float64")


def monotonicity(mean_by_quantile: pd.Series) -> float:
    """Spearman correlation (scipy) between the quantile number and its mean return: +1 when every
    higher quantile earned more, -1 when every one earned less, near 0 for no order. NaN with
    fewer than 3 quantiles with a value."""
    from scipy.stats import spearmanr

    v = mean_by_quantile.dropna()
    if len(v) < 3 or v.nunique() < 2:
        return float("nan")
    return float(spearmanr(v.index.to_numpy(dtype=float), v.to_numpy()).statistic)


def rank_autocorrelation(scores: pd.DataFrame) -> pd.Series:
    """Each day's Spearman correlation between the names' scores and their scores on the previous
    row (the previous scored day), over the names scored on both: near 1 = a slow signal that
    trades little, near 0 = a new ranking every day (alphalens' factor rank autocorrelation)."""
    return daily_corr(scores, scores.shift(1), "spearman")


def top_turnover(scores: pd.DataFrame, quantiles: int = 10) -> pd.Series:
    """Each day's share of the top quantile's names that were not in it on the previous row: the
    turnover a top-quantile portfolio of this signal implies (0 = the same names, 1 = all new)."""
    q = quantile_labels(scores, quantiles).to_numpy()
    top = q == quantiles
    prev = np.vstack([np.zeros((1, top.shape[1]), dtype=bool), top[:-1]])
    n = top.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = (top & ~prev).sum(axis=1) / n
    ok = (n > 0) & (prev.sum(axis=1) > 0)
    return pd.Series(share[ok], index=scores.index[ok], dtype="float64")

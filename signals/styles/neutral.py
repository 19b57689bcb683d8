"""What is left after the styles: each day's cross-sectional regression on the style exposures.

Exposures (:func:`exposures`): on each day, each continuous style as its centred percentile rank
among the day's names (``mask``) that have a value, scaled to unit variance: ``(rank - (n + 1) / 2)
/ n x sqrt(12)``, 0 (the middle) where a name has no value; a category (industry) as one column of
0/1 per category. Ranks make the regression indifferent to a style's units and outliers, and to any
monotone transform of it: a score that is a style's rank, its raw value or its logarithm leaves the
same nothing behind.

Residualisation (:func:`residualise`): on each day separately, over the names in ``mask`` with a
value ``y``, ordinary least squares of ``y`` on an intercept and the exposures, and (by default) on
a cubic spline of that first fit, so that a smooth bend of a mix of the styles is removed as well as
the mix itself; what is returned is ``y`` minus the fit (NaN outside the day's names; a residual
within :data:`RESIDUAL_TOL` of the day's standard deviation is rounding and set to 0, so a score
that IS the styles leaves exact zeros, whose IC is undefined, not noise). A style constant on a
day, or two that coincide, make the normal equations singular; the pseudo-inverse then gives the minimum-norm fit, which
leaves the same residual. Computed for all days at once (batched normal equations), so a run of a
thousand days costs milliseconds. Nothing reads another day: the residual of day ``d`` is known
when its scores and styles are.

:func:`neutral_scores` applies this to a score table (a model's predictions), ranking the scores
first: the strategy then ranks what the styles do not explain.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
import pandas as pd

from .library import StylePanel

__all__ = ["centred_ranks", "exposure_columns", "exposures", "neutral_scores", "residualise"]

#: a uniform rank's standard deviation is 1 / sqrt(12): ranks x sqrt(12) have unit variance
_UNIT = float(np.sqrt(12.0))
#: a residual within this share of the day's standard deviation of ``y`` is rounding, set to 0
RESIDUAL_TOL = 1e-9
#: the bend of the first fit is a cubic spline of it, with knots at these quantiles of the day
CURVE_KNOTS = (0.1, 0.5, 0.9)
#: a day is regressed only with at least this many names per column (the intercept counted): a
#: smaller cross-section has no residual (NaN), as 10 stocks regressed on 13 columns would fit exactly
NAMES_PER_COLUMN = 2


def centred_ranks(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Each row's centred percentile ranks among the entries in ``mask`` with a finite value (average
    ranks for ties), scaled to unit variance; NaN elsewhere."""
    ok = mask & np.isfinite(values)
    ranks = pd.DataFrame(np.where(ok, values, np.nan)).rank(axis=1, method="average").to_numpy()
    n = ok.sum(axis=1, keepdims=True).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (ranks - (n + 1.0) / 2.0) / n * _UNIT
    return np.where(ok, out, np.nan)


def exposure_columns(panel: StylePanel, names: Sequence[str]) -> list[str]:
    """The labels of :func:`exposures`' last axis: a style's name, or ``<style>:<category>``."""
    out: list[str] = []
    for name in names:
        if panel.style(name).categorical:
            out += [f"{name}:{c}" for c in panel.labels.get(name, [])]
        else:
            out.append(name)
    return out


def exposures(panel: StylePanel, names: Sequence[str], mask: np.ndarray) -> np.ndarray:
    """(days, symbols, columns) float64: the exposures of ``names`` (see the module docstring), 0
    outside ``mask`` and where a name has no value."""
    cols: list[np.ndarray] = []
    for name in names:
        v = panel.values[name]
        if panel.style(name).categorical:
            codes = np.where(mask & np.isfinite(v), v, -1.0)
            for k in range(len(panel.labels.get(name, []))):
                cols.append((codes == k).astype(np.float64))
        else:
            cols.append(np.nan_to_num(centred_ranks(v, mask), nan=0.0))
    if not cols:
        return np.zeros((*mask.shape, 0))
    return np.stack(cols, axis=-1)


def _ols(y: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each day's OLS residual of ``y`` on an intercept and ``X`` over the names in ``w``, and R^2."""
    yw = np.where(w, y, 0.0)
    Xi = np.concatenate([np.ones((*y.shape, 1)), np.nan_to_num(X, nan=0.0)], axis=-1) * w[..., None]
    xtx = np.einsum("dnk,dnj->dkj", Xi, Xi)
    xty = np.einsum("dnk,dn->dk", Xi, yw)
    beta = np.einsum("dkj,dj->dk", np.linalg.pinv(xtx), xty)
    fit = np.einsum("dnk,dk->dn", Xi, beta)
    n = w.sum(axis=1)
    enough = n >= NAMES_PER_COLUMN * Xi.shape[-1]  # a day with too few names has no residual to speak of
    resid = np.where(w & enough[:, None], yw - fit, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = yw.sum(axis=1) / n
        tss = np.where(w, (yw - mean[:, None]) ** 2, 0.0).sum(axis=1)
        # rounding noise of an exact fit is no residual: a score that is the styles leaves exact zeros
        tiny = RESIDUAL_TOL * np.sqrt(tss / np.maximum(n, 1))
        resid = np.where(np.abs(resid) <= tiny[:, None], 0.0, resid)
        rss = np.nansum(resid * resid, axis=1)
        r2 = np.where(enough & (tss > 1e-12), 1.0 - rss / tss, np.nan)
    return resid, r2


def residualise(y: np.ndarray, X: np.ndarray, mask: np.ndarray, curve: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(residual, r2): each day's OLS residual of ``y`` (days x symbols) on an intercept and ``X``
    (days x symbols x k) over the names in ``mask`` with a finite ``y``, NaN elsewhere and on a day
    with fewer than :data:`NAMES_PER_COLUMN` names per column; and each day's R^2 (share of the day's
    variance of ``y`` the styles explain; NaN for a day with too few names or no variance).

    ``curve``: the regression also takes a cubic spline of the day's fitted value (the first
    regression's fit, standardised over the day: its square, its cube, and the cubes beyond knots at
    :data:`CURVE_KNOTS` of the day), so that what any smooth bend of a mix of the styles explains is
    removed too (a score that is the rank of an average of style ranks is an S-shaped function of
    their sum, flattest in the tails a TopK buys, which a straight line leaves behind)."""
    w = mask & np.isfinite(y)
    resid, r2 = _ols(y, X, w)
    if not curve or X.shape[-1] == 0:
        return resid, r2
    fit = np.where(w, y - resid, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a day without names
        sd = np.nanstd(fit, axis=1, keepdims=True)
        flat = sd <= RESIDUAL_TOL * np.nanstd(np.where(w, y, np.nan), axis=1, keepdims=True)
        z = (fit - np.nanmean(fit, axis=1, keepdims=True)) / np.where(flat, np.nan, sd)
    z = np.where(np.isfinite(z), z, 0.0)  # a day the styles explain nothing of has no bend either
    bends = [z * z, z * z * z]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        knots = np.nanquantile(np.where(w, z, np.nan), CURVE_KNOTS, axis=1)  # (knots, days)
    for k in knots:
        bends.append(np.maximum(z - np.nan_to_num(k)[:, None], 0.0) ** 3)
    exact = np.nan_to_num(np.nansum(np.abs(resid), axis=1)) == 0.0  # nothing left to bend: keep the zeros
    curve_cols = np.where(exact[:, None, None], 0.0, np.stack(bends, axis=-1))
    bent, r2b = _ols(y, np.concatenate([X, curve_cols], axis=-1), w)
    # a day with names enough for the straight fit but not for the bend keeps the straight fit
    both = np.isfinite(bent).any(axis=1)
    return np.where(both[:, None], bent, resid), np.where(both, r2b, r2)


def neutral_scores(preds: pd.DataFrame, panel: StylePanel, names: Sequence[str], column: str = "p_up") -> pd.DataFrame:
    """``preds`` (``date, symbol, <column>``; one model) with ``column`` replaced by what is left after
    the styles ``names``: each day's scores are ranked over the day's scored names, regressed on the
    styles' exposures (:func:`exposures` over the same names) and the residual mapped into (0, 1) by
    its rank among the day's names (so ``p_up`` stays a number a strategy ranks; 0.5 = the middle).

    Rows whose date or symbol is off the panel's grid keep no score (NaN)."""
    d = panel.calendar.get_indexer(pd.DatetimeIndex(preds["date"]))
    s = pd.Index(panel.symbols).get_indexer(preds["symbol"].astype(str))
    on = (d >= 0) & (s >= 0)
    days = np.unique(d[on])
    score = np.full((len(days), len(panel.symbols)), np.nan)
    row = np.searchsorted(days, d[on])
    score[row, s[on]] = preds[column].to_numpy(np.float64)[on]
    mask = np.isfinite(score)
    sub = StylePanel(values={n: panel.values[n][days] for n in names}, styles=[panel.style(n) for n in names],
                     calendar=panel.calendar[days], symbols=panel.symbols, labels=panel.labels)
    resid, _ = residualise(centred_ranks(score, mask), exposures(sub, names, mask), mask)
    ranks = pd.DataFrame(resid).rank(axis=1, method="average", pct=True).to_numpy()
    n = mask.sum(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = ranks - 0.5 / n  # (rank - 0.5) / n: strictly inside (0, 1), centred on 0.5
    out = np.full(len(preds), np.nan)
    out[np.flatnonzero(on)] = p[row, s[on]]
    return preds.assign(**{column: out})

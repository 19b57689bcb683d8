"""The statistics of a verdict: exposure-adjusted returns, dependence-aware intervals, multiple testing.

Pure functions (no files, no logging). Regressions use statsmodels (OLS with Newey-West / HAC
errors); resampling and the data-snooping test use ``arch`` (the stationary bootstrap of Politis &
Romano, its automatic block length, Hansen's SPA); the deflated Sharpe ratio is Bailey & López de
Prado's closed formula (2014), evaluated with scipy's normal distribution.

Conventions: returns are daily simple returns (0.01 = +1%); ``periods_per_year`` is the calendar's
measured trading days a year (about 243 for the A-share calendar), never 252. Intervals are
two-sided at ``confidence`` (default 0.95). Every function returns NaN figures instead of raising
when a statistic is undefined (too few days, no variance); what counts as too few is stated in
each docstring.

Why days are the resampling unit: the samples of one day share that day's market move, so
counting them as independent (a binomial standard error on 250,000 predictions) understates the
uncertainty many times over. Each statistic here is first reduced to one number per day (the
day's hits, the day's IC, the day's top-minus-bottom spread) and whole days are resampled in
random-length blocks, which also keeps serial dependence.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["MIN_DAYS", "accuracy_edge_interval", "block_length", "capm", "deflated_sharpe", "factor_regression",
           "mean_interval", "mean_intervals", "newey_west_lags", "spa_test"]

#: fewest days a regression or a bootstrap interval is computed on
MIN_DAYS = 20

NAN = float("nan")


def newey_west_lags(n: int) -> int:
    """Newey & West's (1994) automatic lag count for HAC errors: floor(4 (n/100)^(2/9)); 0 for n < 1."""
    return int(math.floor(4.0 * (n / 100.0) ** (2.0 / 9.0))) if n >= 1 else 0


def capm(returns: pd.Series, benchmark: pd.Series, periods_per_year: int, confidence: float = 0.95,
         lags: int | None = None) -> dict[str, float]:
    """Alpha and beta of daily ``returns`` on the ``benchmark`` (CAPM with a zero risk-free rate):
    OLS of r_t = a + b m_t + e_t with Newey-West (HAC) standard errors (statsmodels).

    The two series are aligned on ``returns``' dates (a benchmark day missing there counts as 0).
    Returns ``alpha`` (a x periods_per_year: annualised arithmetic alpha, a fraction a year),
    ``alpha_se``, ``alpha_lo``, ``alpha_hi`` (same units), ``alpha_t`` and ``alpha_p`` (two-sided, normal),
    ``beta``, ``beta_se``, ``beta_lo``, ``beta_hi``, ``r2``, ``days`` and ``hac_lags`` (default
    :func:`newey_west_lags`). Fewer than :data:`MIN_DAYS` days or a constant benchmark: NaN figures;
    a constant strategy (it never held anything) has alpha = beta = 0 and an undefined t (NaN).
    """
    import statsmodels.api as sm
    from scipy import stats as sst

    y = pd.Series(returns, dtype="float64")
    x = pd.Series(benchmark, dtype="float64").reindex(y.index).fillna(0.0)
    ok = np.isfinite(y.to_numpy()) & np.isfinite(x.to_numpy())
    y, x = y[ok], x[ok]
    n = len(y)
    out = {k: NAN for k in ("alpha", "alpha_se", "alpha_lo", "alpha_hi", "alpha_t", "alpha_p", "beta", "beta_se",
                            "beta_lo", "beta_hi", "r2")}
    out.update(days=float(n), hac_lags=NAN)
    if n < MIN_DAYS or float(np.ptp(x.to_numpy())) == 0.0:
        return out
    lags = newey_west_lags(n) if lags is None else int(lags)
    out["hac_lags"] = float(lags)
    if float(np.ptp(y.to_numpy())) == 0.0:  # never invested: no exposure, no alpha, nothing to test
        c = float(y.iloc[0]) * periods_per_year
        out.update(alpha=c, alpha_se=0.0, alpha_lo=c, alpha_hi=c, beta=0.0, beta_se=0.0, beta_lo=0.0, beta_hi=0.0,
                   r2=0.0)
        return out
    X = sm.add_constant(x.to_numpy(), has_constant="add")
    fit = sm.OLS(y.to_numpy(), X).fit(cov_type="HAC", cov_kwds={"maxlags": lags})
    z = float(sst.norm.ppf(0.5 + confidence / 2.0))
    (a, b), (sa, sb) = fit.params, fit.bse
    out.update(
        alpha=a * periods_per_year, alpha_se=sa * periods_per_year,
        alpha_lo=(a - z * sa) * periods_per_year, alpha_hi=(a + z * sa) * periods_per_year,
        alpha_t=a / sa if sa > 0 else NAN, alpha_p=float(fit.pvalues[0]) if sa > 0 else NAN,
        beta=float(b), beta_se=float(sb), beta_lo=float(b - z * sb), beta_hi=float(b + z * sb), r2=float(fit.rsquared),
    )
    return {k: float(v) for k, v in out.items()}


def factor_regression(returns: pd.Series, factors: pd.DataFrame, periods_per_year: int, confidence: float = 0.95,
                      lags: int | None = None) -> dict[str, Any]:
    """Alpha and loadings of daily ``returns`` on several daily factor returns: OLS of
    r_t = a + sum_k b_k f_kt + e_t with Newey-West (HAC) standard errors (statsmodels), as
    :func:`capm` with more than one factor.

    Days are those of ``returns``; a factor's missing day counts as 0 (it earned nothing), a
    non-finite return drops the day. Returns ``alpha`` (a x periods_per_year, a fraction a year),
    ``alpha_se``, ``alpha_lo``, ``alpha_hi``, ``alpha_t``, ``alpha_p``, ``r2``, ``days``, ``hac_lags``
    and ``loadings``: factor -> ``{"beta", "se", "lo", "hi", "t", "mean", "contribution"}`` with
    ``mean`` the factor's mean daily return and ``contribution`` = beta x mean x periods_per_year
    (what that exposure earned, a fraction a year). Fewer than :data:`MIN_DAYS` days, or more factors
    than a tenth of the days: NaN figures; a constant strategy: alpha = its return, loadings 0."""
    import statsmodels.api as sm
    from scipy import stats as sst

    y = pd.Series(returns, dtype="float64")
    X = factors.astype("float64").reindex(y.index).fillna(0.0)
    ok = np.isfinite(y.to_numpy())
    y, X = y[ok], X[ok]
    n, k = len(y), X.shape[1]
    keys = ("alpha", "alpha_se", "alpha_lo", "alpha_hi", "alpha_t", "alpha_p", "r2")
    out: dict[str, Any] = {key: NAN for key in keys}
    out.update(days=float(n), hac_lags=NAN,
               loadings={c: {"beta": NAN, "se": NAN, "lo": NAN, "hi": NAN, "t": NAN,
                             "mean": float(X[c].mean()) if n else NAN, "contribution": NAN} for c in X.columns})
    if n < max(MIN_DAYS, 10 * k):
        return out
    lags = newey_west_lags(n) if lags is None else int(lags)
    out["hac_lags"] = float(lags)
    if float(np.ptp(y.to_numpy())) == 0.0:
        c = float(y.iloc[0]) * periods_per_year
        out.update(alpha=c, alpha_se=0.0, alpha_lo=c, alpha_hi=c, r2=0.0)
        for v in out["loadings"].values():
            v.update(beta=0.0, se=0.0, lo=0.0, hi=0.0, contribution=0.0)
        return out
    fit = sm.OLS(y.to_numpy(), sm.add_constant(X.to_numpy(), has_constant="add")).fit(
        cov_type="HAC", cov_kwds={"maxlags": lags})
    z = float(sst.norm.ppf(0.5 + confidence / 2.0))
    a, sa = float(fit.params[0]), float(fit.bse[0])
    out.update(alpha=a * periods_per_year, alpha_se=sa * periods_per_year,
               alpha_lo=(a - z * sa) * periods_per_year, alpha_hi=(a + z * sa) * periods_per_year,
               alpha_t=a / sa if sa > 0 else NAN, alpha_p=float(fit.pvalues[0]) if sa > 0 else NAN,
               r2=float(fit.rsquared))
    for i, c in enumerate(X.columns, start=1):
        b, sb = float(fit.params[i]), float(fit.bse[i])
        mean = float(X[c].mean())
        out["loadings"][c] = {"beta": b, "se": sb, "lo": b - z * sb, "hi": b + z * sb,
                              "t": b / sb if sb > 0 else NAN, "mean": mean,
                              "contribution": b * mean * periods_per_year}
    return out


def block_length(x: np.ndarray) -> int:
    """Expected block length (days) of a stationary bootstrap of the daily series ``x``: Politis &
    White's automatic choice (``arch.bootstrap.optimal_block_length``, Patton's correction), rounded,
    at least 1 and at most a tenth of the series. 1 for fewer than :data:`MIN_DAYS` values or a constant series."""
    from arch.bootstrap import optimal_block_length

    v = np.asarray(x, dtype="float64")
    v = v[np.isfinite(v)]
    if len(v) < MIN_DAYS or float(np.std(v)) == 0.0:
        return 1
    b = float(optimal_block_length(v)["stationary"].iloc[0])
    return int(min(max(1, round(b)) if np.isfinite(b) else 1, max(1, len(v) // 10)))


def _interval(stat: Callable[..., float], arrays: Sequence[np.ndarray], block: int, reps: int, seed: int,
              confidence: float) -> tuple[float, float]:
    """Percentile interval of ``stat(*arrays)`` over a stationary bootstrap of the rows (days)."""
    from arch.bootstrap import StationaryBootstrap

    bs = StationaryBootstrap(block, *arrays, seed=seed)
    ci = bs.conf_int(lambda *a: np.array([stat(*a)]), reps=reps, method="percentile", size=confidence)
    return float(ci[0, 0]), float(ci[1, 0])


def mean_interval(daily: pd.Series | np.ndarray, reps: int = 1000, seed: int = 0,
                  confidence: float = 0.95) -> dict[str, float]:
    """The mean of a daily series (IC, rank IC, a quantile spread...) with a stationary-bootstrap
    percentile interval (days resampled in blocks of :func:`block_length`).

    NaN values are dropped first. Returns ``estimate`` (the plain mean, in the series' units),
    ``lo``, ``hi``, ``days``, ``block`` and ``ir`` (mean / standard deviation, ddof=1: the ICIR of an IC
    series, per day, not annualised). Fewer than :data:`MIN_DAYS` values: NaN interval (the mean is
    still given when there is at least one value)."""
    v = np.asarray(daily, dtype="float64")
    v = v[np.isfinite(v)]
    n = len(v)
    est = float(v.mean()) if n else NAN
    sd = float(v.std(ddof=1)) if n > 1 else NAN
    out = {"estimate": est, "lo": NAN, "hi": NAN, "days": float(n), "block": NAN,
           "ir": est / sd if n > 1 and sd > 0 else NAN}
    if n < MIN_DAYS:
        return out
    if sd == 0.0:
        out.update(lo=est, hi=est, block=1.0)
        return out
    block = block_length(v)
    lo, hi = _interval(lambda a: float(a.mean()), [v], block, reps, seed, confidence)
    out.update(lo=lo, hi=hi, block=float(block))
    return out


def mean_intervals(daily: pd.DataFrame, reps: int = 1000, seed: int = 0,
                   confidence: float = 0.95) -> dict[str, dict[str, float]]:
    """:func:`mean_interval` of several daily series at once (one column each), from ONE stationary
    bootstrap that resamples the same days for every column (so their intervals cost one
    bootstrap; the block length is :func:`block_length` of the day's mean of the standardised
    columns, their common serial dependence). Days where a
    column is NaN count for the others; each column's mean is over its own days. Returns column ->
    ``{estimate, lo, hi, days, block, ir}``; a column with fewer than :data:`MIN_DAYS` values gets a
    NaN interval."""
    frame = daily.astype("float64")
    out: dict[str, dict[str, float]] = {}
    usable = []
    for c in frame.columns:
        v = frame[c].to_numpy()
        v = v[np.isfinite(v)]
        sd = float(v.std(ddof=1)) if len(v) > 1 else NAN
        out[str(c)] = {"estimate": float(v.mean()) if len(v) else NAN, "lo": NAN, "hi": NAN, "days": float(len(v)),
                       "block": NAN, "ir": float(v.mean()) / sd if len(v) > 1 and sd > 0 else NAN}
        if len(v) >= MIN_DAYS and sd > 0:
            usable.append(c)
        elif len(v) >= MIN_DAYS:
            out[str(c)].update(lo=out[str(c)]["estimate"], hi=out[str(c)]["estimate"], block=1.0)
    if not usable:
        return out
    import warnings

    x = frame[usable].to_numpy()
    with warnings.catch_warnings():  # a day on which every column is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        block = block_length(np.nanmean((x - np.nanmean(x, axis=0)) / np.nanstd(x, axis=0), axis=1))

    def means(a: np.ndarray) -> np.ndarray:
        return np.nanmean(a, axis=0)

    from arch.bootstrap import StationaryBootstrap

    bs = StationaryBootstrap(block, x, seed=seed)
    with warnings.catch_warnings():  # a resample without a day of some column: its mean is NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        ci = bs.conf_int(means, reps=reps, method="percentile", size=confidence)
    for j, c in enumerate(usable):
        out[str(c)].update(lo=float(ci[0, j]), hi=float(ci[1, j]), block=float(block))
    return out


def _edge(hits: np.ndarray, n: np.ndarray, ups: np.ndarray) -> float:
    tot = n.sum()
    if tot <= 0:
        return NAN
    up = ups.sum() / tot
    return float(hits.sum() / tot - max(up, 1.0 - up))


def accuracy_edge_interval(hits: np.ndarray, n: np.ndarray, ups: np.ndarray, reps: int = 1000, seed: int = 0,
                           confidence: float = 0.95) -> dict[str, float]:
    """Accuracy minus the best constant guess, pooled over days, with a day-block bootstrap interval.

    Per day d: ``hits[d]`` correct calls, ``n[d]`` samples with a known label, ``ups[d]`` of them
    labelled up. The statistic is sum(hits)/sum(n) - max(u, 1 - u) with u = sum(ups)/sum(n): the
    best constant guess (always-up or always-down) is re-chosen in every resample, so the interval
    also carries the uncertainty of which constant is best. Units: a fraction (0.01 = 1 percentage
    point). Days are resampled whole (their samples share the day's market move) in stationary
    blocks of :func:`block_length` of the daily hit-rate edge. Fewer than :data:`MIN_DAYS` days with
    samples: NaN interval."""
    h, m, u = (np.asarray(a, dtype="float64") for a in (hits, n, ups))
    keep = m > 0
    h, m, u = h[keep], m[keep], u[keep]
    est = _edge(h, m, u)
    out = {"estimate": est, "lo": NAN, "hi": NAN, "days": float(len(m)), "block": NAN}
    if len(m) < MIN_DAYS:
        return out
    base = u.sum() / m.sum()
    block = block_length(h / m - max(base, 1.0 - base))
    lo, hi = _interval(_edge, [h, m, u], block, reps, seed, confidence)
    out.update(lo=lo, hi=hi, block=float(block))
    return out


def deflated_sharpe(best: pd.Series | np.ndarray, trial_sharpes: Sequence[float]) -> dict[str, float]:
    """Deflated Sharpe ratio (Bailey & López de Prado, 2014) of the best of several trials.

    ``best``: the chosen trial's daily returns (for a sweep judged against the index, its daily
    excess returns); ``trial_sharpes``: every trial's Sharpe ratio in the SAME per-day units (mean /
    std, not annualised), the best one included. With N trials and V their variance (ddof=1), the
    Sharpe ratio the best of N skill-less trials reaches by luck is
    SR0 = sqrt(V) ((1 - g) Phi^-1(1 - 1/N) + g Phi^-1(1 - 1/(N e))), g = Euler-Mascheroni's constant;
    DSR = Phi((SR - SR0) sqrt(T - 1) / sqrt(1 - skew SR + (kurt - 1)/4 SR^2)), with T days, the best
    trial's skewness and (non-excess) kurtosis. DSR is the probability that the true Sharpe ratio
    exceeds SR0; above 0.95 the best trial "survives". One trial: SR0 = 0 (the probabilistic
    Sharpe ratio). Returns ``dsr``, ``sharpe`` (per day), ``sr0``, ``trials``, ``variance``,
    ``skew``, ``kurtosis``, ``days``; NaN figures for fewer than :data:`MIN_DAYS` days or no variance.
    """
    from scipy import stats as sst

    r = np.asarray(best, dtype="float64")
    r = r[np.isfinite(r)]
    sr = np.asarray(trial_sharpes, dtype="float64")
    sr = sr[np.isfinite(sr)]
    t, k = len(r), len(sr)
    out = {"dsr": NAN, "sharpe": NAN, "sr0": NAN, "trials": float(k), "variance": NAN, "skew": NAN,
           "kurtosis": NAN, "days": float(t)}
    if t < MIN_DAYS or float(r.std(ddof=1)) == 0.0:
        return out
    s = float(r.mean() / r.std(ddof=1))
    var = float(sr.var(ddof=1)) if k > 1 else 0.0
    g = float(np.euler_gamma)
    sr0 = (math.sqrt(var) * ((1 - g) * sst.norm.ppf(1 - 1 / k) + g * sst.norm.ppf(1 - 1 / (k * math.e)))
           if k > 1 else 0.0)
    skew, kurt = float(sst.skew(r)), float(sst.kurtosis(r, fisher=False))
    denom = 1.0 - skew * s + (kurt - 1.0) / 4.0 * s * s
    dsr = float(sst.norm.cdf((s - sr0) * math.sqrt(t - 1) / math.sqrt(denom))) if denom > 0 else NAN
    out.update(dsr=dsr, sharpe=s, sr0=float(sr0), variance=var, skew=skew, kurtosis=kurt)
    return out


def spa_test(benchmark: pd.Series, models: pd.DataFrame, reps: int = 1000, seed: int = 0,
             block: int | None = None) -> dict[str, Any]:
    """Hansen's (2005) test for superior predictive ability of any of several strategies over a
    benchmark (``arch.bootstrap.SPA``, stationary bootstrap, studentized).

    ``benchmark``: its daily returns; ``models``: one column of daily returns per strategy (same
    dates; rows with a NaN are dropped). Losses are negative returns, so the null hypothesis is
    "no strategy has a higher expected daily return than the benchmark". Returns ``p_spa`` (Hansen's
    consistent p-value), ``p_lower`` and ``p_upper`` (the upper one is White's Reality Check),
    ``models``, ``days``, ``block`` (default: :func:`block_length` of the best strategy's daily
    excess), ``reps`` and ``seed``. Fewer than :data:`MIN_DAYS` days: NaN p-values."""
    from arch.bootstrap import SPA

    frame = pd.concat([pd.Series(benchmark, dtype="float64").rename("__benchmark__"), models.astype("float64")],
                      axis=1).dropna()
    n = len(frame)
    out: dict[str, Any] = {"p_spa": NAN, "p_lower": NAN, "p_upper": NAN, "models": int(models.shape[1]),
                           "days": n, "block": NAN, "reps": int(reps), "seed": int(seed)}
    if n < MIN_DAYS or models.shape[1] == 0:
        return out
    bench = frame.pop("__benchmark__")
    excess = frame.sub(bench, axis=0)
    if block is None:
        block = block_length(excess[excess.mean().idxmax()].to_numpy())
    spa = SPA(-bench.to_numpy(), -frame.to_numpy(), block_size=int(block), reps=reps, bootstrap="stationary",
              seed=seed)
    spa.compute()
    p = spa.pvalues
    out.update(p_spa=float(p["consistent"]), p_lower=float(p["lower"]), p_upper=float(p["upper"]), block=int(block))
    return out

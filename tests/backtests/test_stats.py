"""The verdict's statistics against hand-computed values and planted series."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm

from backtests.evidence import stats as S

DAYS = pd.bdate_range("2024-01-01", periods=40)


def _exact_regression(alpha=0.0004, beta=1.5):
    """A market series and a strategy whose OLS fit on it is exactly (alpha, beta): the residual is
    orthogonal to the constant and to the market by construction."""
    m = np.tile([0.01, -0.02, 0.015, 0.0, -0.005, 0.02, -0.01, 0.005], 5)
    raw = np.tile([0.001, -0.002, 0.0005, 0.003, -0.001, 0.0, -0.0015, 0.001], 5) * np.linspace(1, 2, 40)
    X = np.column_stack([np.ones_like(m), m])
    e = raw - X @ np.linalg.lstsq(X, raw, rcond=None)[0]
    return pd.Series(alpha + beta * m + e, DAYS), pd.Series(m, DAYS), X, e


def test_newey_west_lag_rule():
    # floor(4 (n/100)^(2/9)): 4 at n = 100, 6 at the default run's 843 days
    assert [S.newey_west_lags(n) for n in (0, 100, 843, 5000)] == [0, 4, 6, 9]


def test_capm_recovers_alpha_and_beta_with_white_errors_at_lag_zero():
    y, m, X, e = _exact_regression()
    res = S.capm(y, m, 243, lags=0)
    assert res["alpha"] == pytest.approx(0.0004 * 243, abs=1e-12)  # annualised: daily alpha x 243
    assert res["beta"] == pytest.approx(1.5, abs=1e-12)
    # HAC with no lag is White's (HC0) sandwich: (X'X)^-1 X' diag(e^2) X (X'X)^-1
    xtxi = np.linalg.inv(X.T @ X)
    cov = xtxi @ (X.T * e**2) @ X @ xtxi
    assert res["alpha_se"] == pytest.approx(math.sqrt(cov[0, 0]) * 243, rel=1e-9)
    assert res["beta_se"] == pytest.approx(math.sqrt(cov[1, 1]), rel=1e-9)
    assert res["alpha_t"] == pytest.approx(0.0004 / math.sqrt(cov[0, 0]), rel=1e-9)
    z = norm.ppf(0.975)
    assert res["alpha_lo"] == pytest.approx((0.0004 - z * math.sqrt(cov[0, 0])) * 243, rel=1e-9)
    assert res["days"] == 40 and res["hac_lags"] == 0


def test_capm_edge_cases():
    y, m, _, _ = _exact_regression()
    assert S.capm(y, m, 243)["hac_lags"] == S.newey_west_lags(40) == 3  # floor(4 x 0.4^(2/9)) = floor(3.26)
    flat = S.capm(pd.Series(0.0, DAYS), m, 243)  # never invested
    assert (flat["alpha"], flat["beta"]) == (0.0, 0.0) and math.isnan(flat["alpha_t"])
    short = S.capm(y.iloc[:10], m, 243)  # fewer than MIN_DAYS days
    assert math.isnan(short["alpha"]) and short["days"] == 10
    assert math.isnan(S.capm(y, pd.Series(0.01, DAYS), 243)["beta"])  # constant benchmark


def test_mean_interval_is_seeded_and_covers_the_mean():
    rng = np.random.default_rng(0)
    x = 0.05 + rng.normal(0, 0.1, 600)
    a, b = S.mean_interval(x, reps=500, seed=3), S.mean_interval(x, reps=500, seed=3)
    assert a == b  # same seed, same interval
    assert a["estimate"] == pytest.approx(x.mean(), abs=1e-15)
    assert a["lo"] < 0.05 < a["hi"] and a["lo"] > 0  # a planted mean of 0.05 is found and is above 0
    assert a["ir"] == pytest.approx(x.mean() / x.std(ddof=1))
    assert S.mean_interval(np.full(30, 0.2))["lo"] == pytest.approx(0.2)  # no variance: a point
    few = S.mean_interval([0.1, 0.2, np.nan])
    assert few["estimate"] == pytest.approx(0.15) and math.isnan(few["lo"]) and few["days"] == 2


def test_accuracy_edge_is_pooled_over_days_against_the_best_constant():
    # 30 days of 100 samples: 55 right, 46 labelled up -> accuracy 55%, best constant always-down 54%
    hits, n, ups = np.full(30, 55.0), np.full(30, 100.0), np.full(30, 46.0)
    res = S.accuracy_edge_interval(hits, n, ups, reps=200)
    assert res["estimate"] == pytest.approx(0.01, abs=1e-12)
    assert res["lo"] == pytest.approx(0.01) and res["hi"] == pytest.approx(0.01)  # identical days
    rng = np.random.default_rng(1)
    noisy = S.accuracy_edge_interval(rng.binomial(100, 0.5, 300), np.full(300, 100), rng.binomial(100, 0.5, 300))
    assert noisy["lo"] < 0  # a coin has no edge over the best constant
    assert math.isnan(S.accuracy_edge_interval(hits[:5], n[:5], ups[:5])["lo"])


def test_deflated_sharpe_hand_computed():
    rng = np.random.default_rng(2)
    r = rng.normal(0.001, 0.01, 500)
    sr = r.mean() / r.std(ddof=1)
    from scipy.stats import kurtosis, skew

    g3, g4 = skew(r), kurtosis(r, fisher=False)
    one = S.deflated_sharpe(r, [sr])  # one trial: the probabilistic Sharpe ratio against 0
    assert one["sr0"] == 0.0
    assert one["dsr"] == pytest.approx(norm.cdf(sr * math.sqrt(499) / math.sqrt(1 - g3 * sr + (g4 - 1) / 4 * sr**2)))
    # two trials with Sharpe ratios sr and 0: V = sr^2 / 2, and Phi^-1(1 - 1/2) = 0, so
    # SR0 = sqrt(V) * gamma * Phi^-1(1 - 1/(2e))
    two = S.deflated_sharpe(r, [sr, 0.0])
    sr0 = math.sqrt(sr**2 / 2) * np.euler_gamma * norm.ppf(1 - 1 / (2 * math.e))
    assert two["sr0"] == pytest.approx(sr0) and two["trials"] == 2
    assert two["dsr"] < one["dsr"]  # more trials, a higher bar


def test_spa_finds_a_planted_winner_and_not_noise():
    rng = np.random.default_rng(4)
    bench = pd.Series(rng.normal(0, 0.01, 500))
    noise = pd.DataFrame({f"p{i}": bench + rng.normal(0, 0.005, 500) for i in range(20)})
    assert S.spa_test(bench, noise, reps=500, seed=0)["p_spa"] > 0.05
    winner = noise.assign(p0=bench + 0.004 + rng.normal(0, 0.005, 500))
    res = S.spa_test(bench, winner, reps=500, seed=0)
    assert res["p_spa"] < 0.01 and res["p_upper"] < 0.01 and res["models"] == 20 and res["seed"] == 0
    assert math.isnan(S.spa_test(bench.iloc[:5], noise.iloc[:5])["p_spa"])


def _ar1(n, phi, sd, seed):
    """A stationary AR(1) series x_t = phi x_{t-1} + e_t, e ~ N(0, sd^2), started in its stationary law."""
    rng = np.random.default_rng(seed)
    e = rng.normal(0.0, sd, n)
    x = np.empty(n)
    x[0] = e[0] / math.sqrt(1 - phi**2)
    for t in range(1, n):
        x[t] = phi * x[t - 1] + e[t]
    return x


def test_intervals_widen_for_serially_dependent_days():
    """A daily IC series that persists from day to day (AR(1), phi = 0.8): its mean's standard error
    is sqrt((1 + phi) / (1 - phi)) = 3 times what counting the days as independent gives. The
    reported interval (days resampled in blocks of the automatic length) must be visibly wider than
    an i.i.d. one; an interval that resamples single days (block length 1) comes out about as wide
    as the i.i.d. formula and fails. On white noise the same code must not widen it."""
    n, phi, sd = 750, 0.8, 0.1
    ic = _ar1(n, phi, sd, seed=0) + 0.02
    res = S.mean_interval(ic, reps=1000, seed=0)
    iid = 2 * norm.ppf(0.975) * ic.std(ddof=1) / math.sqrt(n)  # the interval if days were independent
    true = 2 * norm.ppf(0.975) * sd / (1 - phi) / math.sqrt(n)  # from the AR(1)'s long-run variance
    width = res["hi"] - res["lo"]
    assert width > 1.8 * iid
    assert width > 0.6 * true
    assert res["block"] > 5
    noise = np.random.default_rng(1).normal(0.02, sd, n)
    wn = S.mean_interval(noise, reps=1000, seed=0)
    assert 0.85 < (wn["hi"] - wn["lo"]) / (2 * norm.ppf(0.975) * noise.std(ddof=1) / math.sqrt(n)) < 1.2


def test_accuracy_edge_interval_widens_for_serially_dependent_days():
    """Days whose hit rate drifts slowly (an AR(1) around 52%, 200 samples a day, a 50/50 label):
    the edge's interval must carry that dependence, as the IC's does."""
    n, per_day = 750, 200
    rng = np.random.default_rng(2)
    p = np.clip(0.52 + _ar1(n, 0.8, 0.01, seed=3), 0.0, 1.0)
    hits = rng.binomial(per_day, p).astype(float)
    ups = rng.binomial(per_day, 0.5, n).astype(float)
    m = np.full(n, float(per_day))
    res = S.accuracy_edge_interval(hits, m, ups, reps=1000, seed=0)
    daily = hits / m
    iid = 2 * norm.ppf(0.975) * daily.std(ddof=1) / math.sqrt(n)
    assert res["hi"] - res["lo"] > 1.5 * iid
    assert res["block"] > 5

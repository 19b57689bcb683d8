"""Cross-sectional signal measures on small hand-made panels (and signals' IC on random ones)."""

import math

import numpy as np
import pandas as pd
import pytest

from backtests.evidence import quantiles as Q
from signals.metrics import daily_ic

D = pd.bdate_range("2024-01-01", periods=3)


def test_daily_corr_by_hand_and_skipped_days():
    x = pd.DataFrame([[1, 2, 3, np.nan], [1, 2, np.nan, np.nan], [4, 3, 2, 1]], index=D, columns=list("abcd"))
    y = pd.DataFrame([[1, 2, 4, 9], [3, 1, 2, 0], [1, 2, 3, 4]], index=D, columns=list("abcd"), dtype=float)
    ic = Q.daily_corr(x, y)
    # day 1: x = 1,2,3 and y = 1,2,4: dx = -1,0,1, dy = -4/3,-1/3,5/3 -> 3 / sqrt(2 * 14/3)
    assert ic.iloc[0] == pytest.approx(3 / math.sqrt(2 * 14 / 3))
    assert D[1] not in ic.index  # two names: undefined
    assert ic.iloc[1] == pytest.approx(-1.0)  # day 3: perfectly reversed
    rank = Q.daily_corr(x, y, "spearman")
    assert rank.iloc[0] == pytest.approx(1.0)  # 1,2,4 has the ranks of 1,2,3


def test_daily_corr_mean_is_signals_daily_ic():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2023-01-02", periods=60)
    x = pd.DataFrame(rng.normal(size=(60, 25)), index=days).where(rng.random((60, 25)) > 0.2)
    y = pd.DataFrame(rng.normal(size=(60, 25)) + 0.3 * x.fillna(0).to_numpy(), index=days)
    long = pd.DataFrame({"d": np.repeat(days, 25), "p": x.to_numpy().ravel(), "r": y.to_numpy().ravel()})
    for method in ("pearson", "spearman"):
        ours = Q.daily_corr(x, y, method).mean()
        assert ours == pytest.approx(daily_ic(long["d"].to_numpy(), long["p"].to_numpy(), long["r"].to_numpy(),
                                              method), abs=1e-12)


def test_quantile_labels_split_by_rank_and_keep_ties_together():
    s = pd.DataFrame([np.arange(1.0, 11.0), [1, 1, 1, 1, 1, 2, 2, 2, 2, 2]], index=D[:2])
    q = Q.quantile_labels(s, 5).to_numpy()
    assert q[0].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # average ranks 3 and 8 of 10: ceil(3/10*5) = 2, ceil(8/10*5) = 4 -> the up and down groups
    assert q[1].tolist() == [2] * 5 + [4] * 5


def test_quantile_returns_spread_and_monotonicity_by_hand():
    s = pd.DataFrame([[1.0, 2, 3, 4], [4.0, 3, 2, 1]], index=D[:2], columns=list("abcd"))
    r = pd.DataFrame([[0.01, 0.02, 0.03, 0.04], [0.01, 0.02, 0.03, 0.04]], index=D[:2], columns=list("abcd"))
    qr = Q.quantile_returns(s, r, 2)
    assert qr.loc[D[0]].tolist() == pytest.approx([0.015, 0.035])
    assert qr.loc[D[1]].tolist() == pytest.approx([0.035, 0.015])
    assert Q.extreme_spread(qr).tolist() == pytest.approx([0.02, -0.02])
    assert Q.monotonicity(pd.Series([0.1, 0.2, 0.3], index=[1, 2, 3])) == pytest.approx(1.0)
    assert Q.monotonicity(pd.Series([0.3, 0.2, 0.1], index=[1, 2, 3])) == pytest.approx(-1.0)
    assert math.isnan(Q.monotonicity(pd.Series([0.1, 0.2], index=[1, 2])))
    # a 0/1 call fills two quantiles only: the spread is the up group minus the down group
    binary = pd.DataFrame([[0.0, 0, 1, 1]], index=D[:1], columns=list("abcd"))
    qb = Q.quantile_returns(binary, r.iloc[:1], 10)
    assert Q.extreme_spread(qb).iloc[0] == pytest.approx(0.035 - 0.015)


def test_rank_autocorrelation_and_top_turnover():
    same = pd.DataFrame([[1.0, 2, 3, 4]] * 3, index=D, columns=list("abcd"))
    assert Q.rank_autocorrelation(same).tolist() == pytest.approx([1.0, 1.0])
    flip = pd.DataFrame([[1.0, 2, 3, 4], [4.0, 3, 2, 1], [1.0, 2, 3, 4]], index=D, columns=list("abcd"))
    assert Q.rank_autocorrelation(flip).tolist() == pytest.approx([-1.0, -1.0])
    # top half (2 of 4 names): {c, d} -> {a, b} -> {a, b}: all new, then none
    moves = pd.DataFrame([[1.0, 2, 3, 4], [4.0, 3, 2, 1], [4.0, 3, 2, 1]], index=D, columns=list("abcd"))
    assert Q.top_turnover(moves, 2).tolist() == pytest.approx([1.0, 0.0])

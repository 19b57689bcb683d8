import math

import numpy as np
import pandas as pd
import pytest

from backtests import analysis as an


def test_total_and_annual_return_hand_computed():
    r = pd.Series([0.10, -0.05, 0.02])
    # 1.1 * 0.95 * 1.02 = 1.0659
    assert an.total_return(r) == pytest.approx(0.0659, abs=1e-12)
    # over 3 days with 242 days a year: 1.0659 ** (242 / 3) - 1
    assert an.annual_return(r, 242) == pytest.approx(1.0659 ** (242 / 3) - 1, rel=1e-12)
    assert an.total_return(pd.Series([], dtype=float)) == 0.0
    assert math.isnan(an.annual_return(pd.Series([], dtype=float), 242))
    assert math.isnan(an.annual_return(pd.Series([-1.0]), 242))


def test_sharpe_and_volatility_hand_computed():
    r = pd.Series([0.01, -0.01, 0.02, 0.0])
    mean, sd = 0.005, np.std([0.01, -0.01, 0.02, 0.0], ddof=1)
    assert an.sharpe_ratio(r, 242) == pytest.approx(mean / sd * math.sqrt(242))
    assert an.annual_volatility(r, 242) == pytest.approx(sd * math.sqrt(242))
    assert math.isnan(an.sharpe_ratio(pd.Series([0.01, 0.01]), 242))  # zero volatility
    assert math.isnan(an.sharpe_ratio(pd.Series([0.01]), 242))


def test_max_drawdown_hand_computed():
    # equity 1 -> 1.2 -> 0.9 -> 1.08: peak 1.2, trough 0.9 => -25%
    r = pd.Series([0.2, -0.25, 0.2])
    assert an.max_drawdown(r) == pytest.approx(-0.25)
    assert an.max_drawdown(pd.Series([0.1, 0.1])) == 0.0
    # a fall on the first day counts against the starting equity
    assert an.max_drawdown(pd.Series([-0.1])) == pytest.approx(-0.1)


def test_window_returns_are_booked_the_day_after_each_decision_day():
    cal = pd.bdate_range("2024-01-01", periods=6)
    ret = pd.Series([0.0, 0.01, 0.02, 0.03, 0.04, 0.05], index=cal)
    bench = pd.Series(0.01, index=cal)
    w = pd.DataFrame({"window": [0], "test_start": [cal[1]], "test_end": [cal[2]]})
    out = an.window_returns(ret, bench, w, cal).iloc[0]
    # decisions on cal[1], cal[2] earn the returns of cal[2], cal[3]
    assert out["days"] == 2
    assert out["strategy_return"] == pytest.approx(1.02 * 1.03 - 1)
    assert out["benchmark_return"] == pytest.approx(1.01 ** 2 - 1)
    assert out["excess_return"] == pytest.approx(1.02 * 1.03 - 1.01 ** 2)
    # the last calendar day has no next day: nothing is booked for it
    w2 = pd.DataFrame({"window": [1], "test_start": [cal[5]], "test_end": [cal[5]]})
    assert an.window_returns(ret, bench, w2, cal).iloc[0]["days"] == 0


def test_accuracy_edge_and_verdict_wording():
    edge, se = an.accuracy_edge(0.521, 0.514, 10_000)
    assert edge == pytest.approx(0.7)
    assert se == pytest.approx(100 * math.sqrt(0.521 * 0.479 / 10_000))
    text = an.verdict("LSTM", 0.521, 0.514, 10_000, 0.51, 0.01, -0.018, 2, 4, 7)
    assert "accuracy 52.1% vs 51.4% always-up (+0.7 pp)" in text
    assert "best constant guess (always-up) scores 51.4%, an edge of +0.7 pp (naive s.e. 0.5 pp)" in text
    assert "annual excess return after costs -1.8%" in text
    assert "beat the best constant guess in 4 of 7" in text and "beat the index in 2 of 7" in text
    assert text.endswith("did not beat the index after costs.")


def test_verdict_compares_with_always_down_when_most_labels_are_down():
    # 45.8% of labels are up: predicting "down" every day scores 54.2%, so 53.8% is no skill
    text = an.verdict("LSTM", 0.538, 0.458, 200_000, 0.513, -0.005, -0.089, 1, 0, 7)
    assert "(+8.0 pp)" in text
    assert "best constant guess (always-down) scores 54.2%, an edge of -0.4 pp" in text
    assert "No evidence of skill" in text
    # a real edge over the majority class with AUC > 0.5 and a positive excess
    good = an.verdict("LSTM", 0.56, 0.458, 200_000, 0.53, 0.02, 0.03, 5, 6, 7)
    assert "earned an excess return after costs" in good


def test_pct_formatting():
    assert an.pct(0.0123) == "1.2%"
    assert an.pct(-0.0123, sign=True) == "-1.2%"
    assert an.pct(float("nan")) == "n/a"


def test_verdict_says_n_a_for_undefined_figures():
    # one stock: no cross-section, so no IC
    text = an.verdict("LSTM", 0.548, 0.453, 1_700, 0.506, float("nan"), 0.062, 4, 2, 7)
    assert "IC n/a" in text and "nan" not in text

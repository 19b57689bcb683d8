"""The report's metric functions, against values computed by hand."""

import pandas as pd
import pytest

from backtests.evidence import analysis as an


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

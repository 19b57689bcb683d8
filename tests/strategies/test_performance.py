"""The return metrics of strategies.performance, against values computed by hand."""

import math

import numpy as np
import pandas as pd
import pytest

from strategies import performance as an


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


def test_trading_days_per_year_counts_complete_years_only():
    # weekdays: 2021 has 261, 2022 260, 2023 260; the partial years 2020 and 2024 do not count
    cal = pd.bdate_range("2020-07-01", "2024-03-29")
    assert an.trading_days_per_year(cal) == 260
    # 2021-01-04 .. 2021-12-30 is complete (a day by 7 January and one from 24 December)
    assert an.trading_days_per_year(pd.bdate_range("2021-01-04", "2021-12-30")) == 259
    # no complete year: the fallback
    assert an.trading_days_per_year(pd.bdate_range("2021-01-11", "2021-12-31")) == an.FALLBACK_TRADING_DAYS == 242
    assert an.trading_days_per_year(pd.DatetimeIndex([])) == 242


def test_trading_days_per_year_of_the_snapshot(md):
    assert an.trading_days_per_year(md.calendar) == 243  # median of 2010..2024

"""BacktestResult.summary on hand-made series: annualisation on 242 trading days a year."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strategies import TRADING_DAYS_PER_YEAR, BacktestResult


def _result(n=484, r=0.001):
    dates = pd.bdate_range("2024-01-01", periods=n + 1)
    equity = pd.Series(1_000_000.0 * (1 + r) ** np.arange(n + 1), index=dates)
    trades = pd.DataFrame({"date": [dates[1], dates[2]], "symbol": ["SH600000"] * 2, "side": ["buy", "sell"],
                           "shares": [1000.0, 1000.0], "price": [10.0, 10.0], "value": [10_000.0, 10_000.0],
                           "commission": [5.0, 5.0], "stamp_duty": [0.0, 5.0]})
    rejected = pd.DataFrame({"date": [dates[3]], "symbol": ["SH600000"], "side": ["buy"], "shares": [100.0],
                             "reason": ["limit_up"], "requested": [100.0]})
    turnover = pd.Series(0.0, index=dates[1:])
    turnover.iloc[:2] = 0.01
    return BacktestResult(
        returns=equity.pct_change().iloc[1:], equity=equity, cash=equity * 0.1,
        positions=pd.DataFrame(columns=["date", "symbol", "shares", "close", "value"]),
        trades=trades, rejected=rejected, corporate_actions=pd.DataFrame(),
        turnover=turnover, benchmark_returns=pd.Series(0.0, index=dates[1:]), initial_cash=1_000_000.0,
    )


def test_annualisation_uses_242_days():
    s = _result().summary()
    assert TRADING_DAYS_PER_YEAR == 242
    assert s["days"] == 484
    assert s["total_return"] == pytest.approx(1.001 ** 484 - 1, rel=1e-12)
    assert s["annual_return"] == pytest.approx(1.001 ** 242 - 1, rel=1e-12)  # two years of 242 days
    assert s["max_drawdown"] == 0.0
    assert s["benchmark_annual_return"] == 0.0


def test_costs_turnover_and_refusals_in_the_summary():
    s = _result().summary()
    assert (s["commission"], s["stamp_duty"], s["fees"]) == (10.0, 5.0, 15.0)
    assert s["trades"] == 2 and s["buys"] == 1 and s["sells"] == 1
    assert s["rejected"] == 1 and s["rejected_by_reason"]["limit_up"] == 1
    assert set(s["rejected_by_reason"]) == {"limit_up", "limit_down", "suspended", "lot", "cash", "t_plus_1",
                                            "not_member"}
    assert s["turnover"] == pytest.approx(0.02 / 484)
    assert s["annual_turnover"] == pytest.approx(0.02 / 484 * 242)

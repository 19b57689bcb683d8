"""BacktestResult.summary on hand-made series and on a real run: annualisation on the calendar's
measured trading days a year (one figure for the summary and the run)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from strategies import BacktestResult, TopKConfig, run_backtest, trading_days_per_year


def _result(n=484, r=0.001, ppy=242):
    dates = pd.bdate_range("2024-01-01", periods=n + 1)
    equity = pd.Series(1_000_000.0 * (1 + r) ** np.arange(n + 1), index=dates)
    trades = pd.DataFrame({"date": [dates[1], dates[2]], "symbol": ["SH600000"] * 2, "side": ["buy", "sell"],
                           "shares": [1000.0, 1000.0], "price": [10.0, 10.0], "value": [10_000.0, 10_000.0],
                           "commission": [5.0, 5.0], "stamp_duty": [0.0, 5.0], "impact": [2.5, 1.5]})
    rejected = pd.DataFrame({"date": [dates[3]], "symbol": ["SH600000"], "side": ["buy"], "shares": [100.0],
                             "reason": ["limit_up"], "requested": [100.0], "days": [3],
                             "last_date": [dates[5]]})
    turnover = pd.Series(0.0, index=dates[1:])
    turnover.iloc[:2] = 0.01
    return BacktestResult(
        returns=equity.pct_change().iloc[1:], equity=equity, cash=equity * 0.1,
        positions=pd.DataFrame(columns=["date", "symbol", "shares", "close", "value"]),
        trades=trades, rejected=rejected, corporate_actions=pd.DataFrame(),
        turnover=turnover, benchmark_returns=pd.Series(0.0, index=dates[1:]), initial_cash=1_000_000.0,
        periods_per_year=ppy, volume_cut_value=5_000.0,
    )


def test_annualisation_uses_the_results_figure():
    s = _result(ppy=242).summary()
    assert s["periods_per_year"] == 242
    assert s["days"] == 484
    assert s["total_return"] == pytest.approx(1.001 ** 484 - 1, rel=1e-12)
    assert s["annual_return"] == pytest.approx(1.001 ** 242 - 1, rel=1e-12)  # two years of 242 days
    assert s["max_drawdown"] == 0.0
    assert s["benchmark_annual_return"] == 0.0
    # an explicit figure wins; a result built without one measures its own dates: the weekdays
    # of 2024, its one complete year, are 262
    assert _result(ppy=242).summary(250)["annual_return"] == pytest.approx(1.001 ** 250 - 1, rel=1e-12)
    assert _result(ppy=None).summary()["periods_per_year"] == 262


def test_summary_of_a_real_run_annualises_on_the_calendars_measured_figure(md):
    """Item 13: the run measures 243 trading days a year on the snapshot's calendar; the summary
    of a backtest uses that very figure by default (it used a fixed 242), and the run config's
    measurement is the same function."""
    from backtests import build

    assert build.trading_days_per_year is trading_days_per_year
    ppy = trading_days_per_year(md.calendar)
    assert ppy == 243
    days = md.calendar[(md.calendar >= "2024-03-01") & (md.calendar <= "2024-03-29")]
    p = pd.DataFrame([(d, s, 0.5 + 0.01 * k) for d in days for k, s in enumerate(["SH600000", "SH600036"])],
                     columns=["date", "symbol", "p_up"])
    res = run_backtest(md, p, strategy=TopKConfig(k=2, max_replace=1), initial_cash=1e6, progress=False)
    s = res.summary()
    assert res.periods_per_year == s["periods_per_year"] == 243
    n = len(res.returns)
    assert s["annual_return"] == pytest.approx((1 + s["total_return"]) ** (243 / n) - 1, rel=1e-12)
    # a caller that measured on a longer calendar passes its figure: one figure for both
    sliced = md.slice("2024-01-01", "2024-06-28")
    assert run_backtest(sliced, p, strategy=TopKConfig(k=2, max_replace=1), initial_cash=1e6, progress=False,
                        periods_per_year=ppy).summary()["periods_per_year"] == 243


def test_costs_turnover_and_refusals_in_the_summary():
    s = _result().summary()
    assert (s["commission"], s["stamp_duty"], s["fees"]) == (10.0, 5.0, 15.0)
    assert s["trades"] == 2 and s["buys"] == 1 and s["sells"] == 1
    assert s["rejected"] == 1 and s["rejected_by_reason"]["limit_up"] == 1  # one episode ...
    assert s["rejected_days"] == 3  # ... of three fill days
    assert set(s["rejected_by_reason"]) == {"limit_up", "limit_down", "suspended", "lot", "cash", "t_plus_1",
                                            "not_member", "volume"}
    # impact is in the fill prices, not in the fees; the fill rate: 20,000 traded of 20,000 + 5,000 wanted
    assert s["impact"] == 4.0
    assert s["fill_rate"] == pytest.approx(0.8)
    assert s["turnover"] == pytest.approx(0.02 / 484)
    assert s["annual_turnover"] == pytest.approx(0.02 / 484 * 242)
    assert (s["unscored_position_days"], s["unscored_share"], s["tie_days"]) == (0, 0.0, 0)

"""The QuantStats fixes of the adapter, each on a case where QuantStats 0.0.86 alone is wrong."""

import io
import math

import numpy as np
import pandas as pd
import pytest

from backtests.report import qs_adapter, qs_charts

DAYS = pd.bdate_range("2024-01-01", periods=6)


def _qs():
    return qs_adapter._quiet_imports()


def test_drawdown_from_the_first_day_is_found():
    qs = _qs()
    # equity 0.98, 0.9898, 0.9799, 0.9848, 0.9868, 0.9858: below the start from day one to the end,
    # as the default run's LSTM strategy is
    r = pd.Series([-0.02, 0.01, -0.01, 0.005, 0.002, -0.001], index=DAYS, name="Strategy")
    dd = qs.stats.to_drawdown_series(r)
    assert qs.stats.drawdown_details(dd).empty  # QuantStats alone: no drawdown at all ("%", empty table)
    fixed = qs_adapter.drawdown_details(qs.stats.drawdown_details)(dd)
    assert len(fixed) == 1
    first = fixed.iloc[0]
    assert (first["start"], first["valley"], first["end"]) == ("2024-01-01", "2024-01-03", "2024-01-08")
    assert first["max drawdown"] == pytest.approx(100 * (0.98 * 1.01 * 0.99 - 1))
    assert first["days"] == 8  # 2024-01-01 .. 2024-01-08, calendar days as QuantStats counts them
    # a recovering series is left to QuantStats as it is
    ok = pd.Series([0.01, -0.02, 0.03, 0.0, 0.0, 0.0], index=DAYS)
    dd2 = qs.stats.to_drawdown_series(ok)
    pd.testing.assert_frame_equal(qs_adapter.drawdown_details(qs.stats.drawdown_details)(dd2),
                                  qs.stats.drawdown_details(dd2))
    # a frame (strategy and benchmark) is fixed column by column
    frame = pd.DataFrame({"a": dd, "b": dd})
    both = qs_adapter.drawdown_details(qs.stats.drawdown_details)(frame)
    assert both[("a", "start")].iloc[0] == both[("b", "start")].iloc[0] == "2024-01-01"


def test_metrics_rows_that_need_more_data_say_n_a_and_cagr_has_no_missing_glyph():
    table = pd.DataFrame({"Strategy": ["1.0%", "2.0%", "3.0%", "4.0%"]},
                         index=["CAGR\ufe6a", "3Y (ann.)", "5Y (ann.)", "10Y (ann.)"])
    out = qs_adapter.metrics_table(lambda: table.copy(), months=42)()
    assert list(out.index) == ["CAGR", "3Y (ann.)", "5Y (ann.)", "10Y (ann.)"]
    assert out["Strategy"].tolist() == ["1.0%", "2.0%", "n/a", "n/a"]  # 42 months: 3Y yes, 5Y and 10Y no


def test_log_ticks_are_spaced_apart():
    ticks = qs_charts.log_ticks(0.38, 1.02)  # the default run: -62% .. +2%
    assert 0.0 in ticks and -0.6 in ticks
    gaps = np.diff(np.log(1 + np.array(ticks)))
    assert (gaps >= (math.log(1.02) - math.log(0.38)) / 7 - 1e-12).all()  # no "2%" over "0%"


def test_period_returns_compound_each_period_once():
    days = pd.bdate_range("2022-12-29", "2024-01-03")
    r = pd.Series(0.001, index=days)
    per = qs_charts.period_returns(r)
    years = per["Yearly"]
    assert list(years.index.year) == [2022, 2023, 2024]  # a value for every year with data, not ffilled
    assert years.iloc[1] == pytest.approx(1.001 ** len(days[days.year == 2023]) - 1)
    table = qs_charts.monthly_table(r)
    assert np.isnan(table.loc[2024, 2]) and np.isnan(table.loc[2022, 11])  # no data: blank, not 0.00


def test_rolling_beta_is_blank_until_its_window_is_full():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2023-01-02", periods=300)
    b = pd.Series(rng.normal(0, 0.01, 300), index=days)
    s = 1.3 * b + rng.normal(0, 0.002, 300)
    buf = io.BytesIO()
    qs_charts.rolling_beta(s, b, window1=121, window2=243, savefig={"fname": buf, "format": "svg"})
    assert b"<svg" in buf.getvalue()[:500] or b"<?xml" in buf.getvalue()[:100]
    beta = qs_charts.rolling_beta_series(s, b, 121)
    assert beta.iloc[:120].isna().all() and beta.iloc[120:].notna().all()  # QuantStats drew 0.0 there
    assert beta.iloc[-1] == pytest.approx(1.3, abs=0.05)

"""The QuantStats fixes of the adapter, each on a case where QuantStats 0.0.86 alone is wrong."""

import io
import math
import re

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


@pytest.fixture(scope="module")
def short_page(tmp_path_factory):
    """QuantStats' page of four months of a real holding (SH600519, 2023-01..04) against the CSI-300:
    shorter than the six-month windows of the rolling charts, and below its January peak at the end."""
    import data_store

    md = data_store.load(use_cache=False)
    close = md.panel("close", adjusted=True)["SH600519"].loc["2022-12-30":"2023-04-28"]
    held = close.pct_change().dropna()
    bench = md.benchmark_returns().reindex(held.index)
    out = tmp_path_factory.mktemp("qs") / "page.html"
    page = qs_adapter.html_report(held, bench, out, title="short", periods_per_year=243)
    return page, held, bench


def test_a_short_span_draws_no_empty_chart(short_page):
    from .charts_dom import chart_problems

    page, held, _ = short_page
    assert len(held) == 78
    assert chart_problems(page, {2023}) == []  # QuantStats alone: four empty charts, three dated 2000-2010
    for cid in qs_adapter.ROLLING:
        assert f'<p class="qs-note" id="{cid}-none">' in page, cid
    assert "needs 141 days of returns to draw 20 values, and the span has 78" in page


def test_daily_returns_are_drawn_on_trading_days_only(short_page):
    """QuantStats summed the returns per calendar day: every weekend and holiday read 0."""
    from .charts_dom import series_lengths

    page, held, bench = short_page
    block = page[page.index('<div id="daily_returns">'):]
    block = block[:block.index("</svg>")]
    assert max(series_lengths(block)) == len(held) == 78  # not the 116 calendar days
    s = qs_charts.daily_series(held, bench, active=True)
    assert list(s.index) == list(held.index)
    assert s.iloc[3] == pytest.approx(held.iloc[3] - bench.iloc[3], abs=1e-15)


def test_a_drawdown_that_never_recovered_has_no_recovery_date(short_page):
    page, held, _ = short_page
    equity = (1 + held).cumprod()
    peak = equity.idxmax()  # 2023-01-16; the holding ends 8% below it
    assert equity.iloc[-1] < equity.max()
    start = held.index[held.index.get_loc(peak) + 1]
    table = page[page.index("Worst 10 Drawdowns"):]
    table = table[:table.index("</table>")]
    assert f"<tr><td>{start:%Y-%m-%d}</td><td>not recovered</td>" in table
    assert "<td>2023-04-28</td>" not in table  # the last day is no recovery date


def test_the_eoy_table_says_won_yes_or_no(short_page):
    page, held, bench = short_page
    eoy = page[page.index("EOY Returns vs Benchmark"):]
    row = re.search(r"<tr><td>2023</td>(.*?)</tr>", eoy).group(1)
    won = re.findall(r"<td>([^<]*)</td>", row)[-1]
    # SH600519 +1.9% against the CSI-300's +4.1% over these days: it did not win
    assert (1 + held).prod() < (1 + bench).prod()
    assert won == "no"


def test_a_metric_that_rounds_to_zero_has_no_sign():
    page = ("<tr><td>Risk-Return Ratio</td><td>-0.07</td><td>-0.0</td></tr>"
            "<tr><td>Avg. Return</td><td>-0.07%</td><td>-0.0%</td></tr>"
            "<tr><td>x</td><td>-0.00</td><td>-10.0%</td></tr>")
    assert qs_adapter.unsigned_zeros(page) == (
        "<tr><td>Risk-Return Ratio</td><td>-0.07</td><td>0.0</td></tr>"
        "<tr><td>Avg. Return</td><td>-0.07%</td><td>0.0%</td></tr>"
        "<tr><td>x</td><td>0.00</td><td>-10.0%</td></tr>")

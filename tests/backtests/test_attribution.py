"""The return side of skill or style: style-factor returns inside the universe (one day checked by hand
on the real snapshot) and the regression of a strategy's returns on the index and the factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data_store
from backtests.evidence import stats
from backtests.evidence.attribution import EQUAL_WEIGHT, HOLD_LAG, attribute, breadth, factor_returns
from signals.styles import compute_styles

BOOKED = pd.Timestamp("2023-03-15")


@pytest.fixture(scope="module")
def md():
    return data_store.load(use_cache=False).slice("2022-01-01", "2023-06-30")


def test_a_factor_return_of_one_day_by_hand(md):
    panel = compute_styles(md, ["volatility", "reversal"])
    f = factor_returns(md, panel, share=0.1)
    i = list(md.calendar).index(BOOKED)
    formed = md.calendar[i - HOLD_LAG]  # decided at this close, bought at the next open
    close = md.panel("close", adjusted=True)
    vol = md.panel("volume")
    last = close.where(vol > 0).ffill()
    hold = last.loc[BOOKED] / last.iloc[i - 1] - 1  # held over the whole close-to-close day
    members = md.tradable_mask().loc[formed]
    ok = members & hold.notna()
    ew = hold[ok].mean()
    for name in ("volatility", "reversal"):
        x = -panel.frame(name).loc[formed]  # both hold the low side
        has = ok & x.notna()
        pct = x[has].rank(pct=True)
        top = pct[pct > 0.9].index  # the held side's 10%: a 30-name portfolio of 300 members
        assert f.loc[BOOKED, name] == pytest.approx(hold[top].mean() - ew, rel=1e-12)
    assert f.loc[BOOKED, EQUAL_WEIGHT] == pytest.approx(ew - md.benchmark_returns().loc[BOOKED], rel=1e-12)
    assert f[EQUAL_WEIGHT].iloc[:HOLD_LAG].isna().all()
    assert breadth(30, pd.Series([290, 300, 310])) == pytest.approx(0.1)
    assert breadth(3, pd.Series([300])) == 0.05 and breadth(200, pd.Series([300])) == 0.5


def test_the_regression_finds_planted_loadings_and_alpha():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2020-01-01", periods=1200)
    m = pd.Series(rng.normal(0.0003, 0.012, len(days)), index=days)
    f = pd.DataFrame({"volatility": rng.normal(0.0004, 0.006, len(days)),
                      "beta": rng.normal(0.0, 0.006, len(days))}, index=days)
    alpha = 0.0004
    y = alpha + 0.9 * m + 0.5 * f["volatility"] + rng.normal(0, 0.004, len(days))
    fit = stats.factor_regression(y, pd.concat([m.rename("index"), f], axis=1), 243)
    lo = fit["loadings"]
    for name, truth in (("index", 0.9), ("volatility", 0.5), ("beta", 0.0)):  # within 4 standard errors
        assert abs(lo[name]["beta"] - truth) < 4 * lo[name]["se"], name
        assert lo[name]["hi"] - lo[name]["lo"] == pytest.approx(2 * 1.959964 * lo[name]["se"], rel=1e-5)
    assert abs(fit["alpha"] - alpha * 243) < 4 * fit["alpha_se"] and fit["alpha_t"] > 2
    assert lo["volatility"]["contribution"] == pytest.approx(lo["volatility"]["beta"] * f["volatility"].mean() * 243)
    row = attribute(y, m, f, 243)
    assert row["style_alpha"] == pytest.approx(fit["alpha"]) and row["style_beta"] == pytest.approx(lo["index"]["beta"])
    assert row["loading_volatility_lo"] > 0 and row["contrib_volatility"] > 0
    gross = attribute(y, m, f, 243, prefix="gross_")
    assert set(gross) == {f"gross_{k}" for k in row}


def test_a_strategy_that_is_a_style_has_no_alpha_after_it(md):
    panel = compute_styles(md, ["volatility"])
    f = factor_returns(md, panel).dropna()
    bench = md.benchmark_returns().reindex(f.index)
    held = bench + f[EQUAL_WEIGHT] + f["volatility"]  # the style's held side: nothing else
    row = attribute(held, bench, f, 243)
    assert row["style_alpha"] == pytest.approx(0.0, abs=1e-12) and row["style_r2"] == pytest.approx(1.0)
    assert row["loading_volatility"] == pytest.approx(1.0) and row["loading_equal_weight"] == pytest.approx(1.0)

"""The return side of skill or style: style-factor returns inside the universe (one day checked by hand
on the real snapshot) and the regression of a strategy's returns on the index and the factors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data_store
from backtests.evidence import stats
from backtests.evidence.attribution import EQUAL_WEIGHT, HOLD_LAG, attribute, factor_returns
from signals.styles import compute_styles

BOOKED = pd.Timestamp("2023-03-15")


@pytest.fixture(scope="module")
def md():
    return data_store.load(use_cache=False).slice("2022-01-01", "2023-06-30")


def test_a_factor_return_of_one_day_by_hand(md):
    panel = compute_styles(md, ["volatility", "reversal"])
    f = factor_returns(md, panel)
    i = list(md.calendar).index(BOOKED)
    formed = md.calendar[i - HOLD_LAG]  # decided at this close, bought at the next open
    close = md.panel("close", adjusted=True)
    vol = md.panel("volume")
    last = close.where(vol > 0).ffill()
    hold = last.loc[BOOKED] / last.iloc[i - 1] - 1  # held over the whole close-to-close day
    members = md.tradable_mask().loc[formed]
    for name in ("volatility", "reversal"):
        side = -1  # both hold the low side
        x = pd.Series(side * panel.frame(name).loc[formed], dtype=float)
        ok = members & x.notna() & hold.notna()
        pct = x[ok].rank(pct=True)
        top, bottom = pct[pct > 2 / 3].index, pct[pct <= 1 / 3].index
        assert f.loc[BOOKED, name] == pytest.approx(hold[top].mean() - hold[bottom].mean(), rel=1e-12)
    ok = members & hold.notna()
    bench = md.benchmark_returns().loc[BOOKED]
    assert f.loc[BOOKED, EQUAL_WEIGHT] == pytest.approx(hold[ok].mean() - bench, rel=1e-12)
    assert f[EQUAL_WEIGHT].iloc[:HOLD_LAG].isna().all()


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
    held = bench + f["volatility"]  # the index plus the style's long-short: nothing else
    row = attribute(held, bench, f, 243)
    assert row["style_alpha"] == pytest.approx(0.0, abs=1e-12) and row["style_r2"] == pytest.approx(1.0)
    assert row["loading_volatility"] == pytest.approx(1.0)

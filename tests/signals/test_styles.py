"""The style library on the real snapshot: each style's value checked against a computation by hand
(plain pandas, one stock, one day), causality (cutting the data after a day changes nothing up to it),
and the per-day regression that leaves what the styles do not explain."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import DataValidationError
from signals.errors import ConfigError
from signals.styles import BAR_STYLES, centred_ranks, compute_styles, exposures, neutral_scores, residualise
from signals.styles.library import AMIHUD_SCALE
from signals.styles.table import check_table

DAY = pd.Timestamp("2022-06-30")
SYM = "SH600519"


@pytest.fixture(scope="module")
def md(md_full):
    return md_full.slice("2020-06-01", "2022-12-30")


@pytest.fixture(scope="module")
def panel(md):
    return compute_styles(md)


def _hand(md):
    """The inputs of one stock, as plain pandas series up to DAY."""
    c = md.panel("close", adjusted=True)[SYM].loc[:DAY]
    raw = md.panel("close")[SYM].loc[:DAY]
    vol = md.panel("volume")[SYM].loc[:DAY]
    traded = (vol > 0) & c.notna()
    r = (c / c.shift(1) - 1).where(traded & traded.shift(1, fill_value=False))
    idx = pd.Series(md.index["close"].to_numpy(), index=md.calendar).loc[:DAY]
    return c, raw, vol, r, idx.pct_change()


def test_each_bar_style_matches_a_computation_by_hand(md, panel):
    c, raw, vol, r, m = _hand(md)
    i, j = list(md.calendar).index(DAY), md.symbols.index(SYM)
    got = {n: panel.values[n][i, j] for n in BAR_STYLES}
    last60 = r.iloc[-60:].dropna()
    assert got["volatility"] == pytest.approx(last60.std(ddof=1), rel=1e-9)
    both = pd.concat([r.iloc[-250:], m.iloc[-250:]], axis=1).dropna()
    assert got["beta"] == pytest.approx(np.cov(both.iloc[:, 0], both.iloc[:, 1], ddof=0)[0, 1]
                                        / np.var(both.iloc[:, 1]), rel=1e-8)
    assert got["reversal"] == pytest.approx(c.iloc[-1] / c.iloc[-6] - 1, rel=1e-12)
    assert got["momentum"] == pytest.approx(c.iloc[-22] / c.iloc[-251] - 1, rel=1e-12)
    dv = (raw * vol).where(vol > 0)
    assert got["liquidity"] == pytest.approx((r.abs() / dv * AMIHUD_SCALE).iloc[-20:].mean(), rel=1e-9)
    assert got["size_proxy"] == pytest.approx(np.log(dv.iloc[-60:].mean()), rel=1e-12)
    assert got["price"] == pytest.approx(np.log(raw.iloc[-1]), rel=1e-12)
    # the side a style investor holds: low volatility is the high side of -volatility
    assert panel.premium("volatility")[i, j] == -got["volatility"]


def test_a_style_of_a_day_reads_nothing_after_it(md, panel):
    cut = md.slice(end=DAY)
    short = compute_styles(cut)
    n = len(cut.calendar)
    cols = [md.symbols.index(s) for s in cut.symbols]
    for name in BAR_STYLES:
        a, b = panel.values[name][:n][:, cols], short.values[name]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        assert same.all(), name


def test_a_new_listing_has_no_long_window_style(md, panel):
    """Beta needs 120 returns of its 250-day window: the first months of the data have none."""
    assert np.isnan(panel.values["beta"][:100]).all()
    assert np.isfinite(panel.values["beta"][300]).sum() > 100


def test_vendor_styles_are_refused_without_their_fields(md):
    with pytest.raises(ConfigError, match="needs vendor fields the data lack"):
        compute_styles(md, ["size"])
    assert compute_styles(md).names == list(BAR_STYLES)  # auto: the bar styles of the snapshot


def test_centred_ranks_and_the_regression_by_hand():
    v = np.array([[10.0, 30.0, 20.0, np.nan]])
    mask = np.array([[True, True, True, True]])
    np.testing.assert_allclose(centred_ranks(v, mask)[0, :3], np.array([-1.0, 1.0, 0.0]) / 3 * np.sqrt(12))
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 40, 2))
    y = 1.5 + 2.0 * x[..., 0] - 0.5 * x[..., 1] + rng.normal(size=(5, 40))
    m = np.ones((5, 40), bool)
    m[1, :7] = False
    resid, r2 = residualise(y, x, m, curve=False)
    for d in range(5):
        k = m[d]
        A = np.column_stack([np.ones(k.sum()), x[d, k]])
        beta = np.linalg.lstsq(A, y[d, k], rcond=None)[0]
        np.testing.assert_allclose(resid[d, k], y[d, k] - A @ beta, atol=1e-10)
        assert abs(resid[d, k] @ x[d, k, 0]) < 1e-8 and abs(resid[d, k].sum()) < 1e-8
        tss = ((y[d, k] - y[d, k].mean()) ** 2).sum()
        assert r2[d] == pytest.approx(1 - (resid[d, k] ** 2).sum() / tss)
    assert np.isnan(resid[1, :7]).all()
    # a style constant on a day (singular normal equations): the pseudo-inverse still leaves y - mean
    flat = np.zeros((1, 40, 1))
    left, _ = residualise(y[:1], flat, m[:1])
    np.testing.assert_allclose(left[0], y[0] - y[0].mean(), atol=1e-10)
    # a bend of a mix: the rank of a sum of three style ranks is S-shaped in the sum; the curve terms take it out
    ok = np.ones((3, 300), bool)
    ranks = centred_ranks(rng.random((3, 300, 3)).reshape(3, 900), np.ones((3, 900), bool)).reshape(3, 300, 3)
    mix = centred_ranks(ranks.sum(axis=-1), ok)
    straight, _ = residualise(mix, ranks, ok, curve=False)
    curved, r2c = residualise(mix, ranks, ok)
    assert np.nanstd(curved) < 0.5 * np.nanstd(straight) and np.nanmin(r2c) > 0.99


def test_a_score_that_is_a_style_leaves_nothing(md, panel):
    t = md.tradable_mask().loc["2022-01-04":"2022-03-31"].stack()
    t = t[t].reset_index()
    t.columns = ["date", "symbol", "ok"]
    d = md.calendar.get_indexer(t["date"])
    s = pd.Index(md.symbols).get_indexer(t["symbol"])
    preds = t[["date", "symbol"]].assign(p_up=np.exp(-panel.values["volatility"][d, s]))  # any monotone transform
    left = neutral_scores(preds.dropna(), panel, ["volatility"])
    assert np.allclose(left["p_up"], 0.5)  # every residual 0: all tied in the middle
    mixed = preds.assign(p_up=panel.values["beta"][d, s] + 0.3 * np.random.default_rng(1).random(len(preds)))
    out = neutral_scores(mixed.dropna(), panel, ["volatility"])
    assert 0 < out["p_up"].min() and out["p_up"].max() < 1 and out["p_up"].std() > 0.2


def test_exposures_of_an_industry_are_its_categories(md, panel):
    from signals.styles.library import Style, StylePanel

    codes = np.tile(np.resize(np.array([0.0, 1.0, np.nan]), len(md.symbols)), (3, 1))
    p = StylePanel(values={"industry": codes}, styles=[Style("industry", "industry", 0, 0, "", "")],
                   calendar=md.calendar[:3], symbols=md.symbols, labels={"industry": ["a", "b"]})
    X = exposures(p, ["industry"], np.ones(codes.shape, bool))
    assert X.shape == (3, len(md.symbols), 2) and X[0, 0].tolist() == [1.0, 0.0] and X[0, 2].tolist() == [0.0, 0.0]


def test_a_table_of_your_own(md):
    raw = pd.DataFrame({"date": ["2022-06-29", "2022-06-30"], "symbol": ["600519.SH", "sh600519"],
                        "book_to_price": [0.05, 0.06]})
    table = check_table(raw, "mine.csv")
    assert table["symbol"].tolist() == ["SH600519", "SH600519"]
    panel = compute_styles(md, table=table)
    i = list(md.calendar).index(DAY)
    assert panel.values["book_to_price"][i, md.symbols.index(SYM)] == 0.06
    assert panel.style("book_to_price").needs == "table"
    with pytest.raises(DataValidationError, match="column 'book_to_price' a finite number"):
        check_table(raw.assign(book_to_price=[0.05, np.nan]), "mine.csv")
    with pytest.raises(ConfigError, match="must be lower case"):
        check_table(raw.rename(columns={"book_to_price": "B/P"}), "mine.csv")
    with pytest.raises(ConfigError, match="has the name of a style already used"):
        compute_styles(md, table=check_table(raw.rename(columns={"book_to_price": "beta"}), "mine.csv"))


def test_a_day_with_too_few_names_has_no_residual():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 30, 7))
    y = rng.normal(size=(2, 30))
    m = np.ones((2, 30), bool)
    m[0, 10:] = False  # 10 names for an intercept and 7 styles: too few (2 per column)
    m[1, 20:] = False  # 20 names: enough for the straight fit (16), not for the bend too (26)
    left, r2 = residualise(y, x, m)
    assert np.isnan(left[0]).all() and np.isnan(r2[0])
    assert np.isfinite(left[1, :20]).all()
    straight, _ = residualise(y, x, m, curve=False)
    np.testing.assert_allclose(left[1], straight[1])

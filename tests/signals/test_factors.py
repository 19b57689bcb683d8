"""The factor library: hand-computed values, causality of every factor, per-day normalisation."""

import numpy as np
import pandas as pd
import pytest

import signals
from signals.inputs.factors import FACTOR_NAMES, compute_factors, resolve_factors
from signals.inputs.features import cross_section_normalise


def _panels(n=80, s=3, seed=0):
    rng = np.random.default_rng(seed)
    c = 10 * np.exp(np.cumsum(rng.normal(0, 0.02, (n, s)), axis=0))
    o = c * np.exp(rng.normal(0, 0.01, (n, s)))
    h = np.maximum(o, c) * (1 + rng.uniform(0, 0.02, (n, s)))
    lo = np.minimum(o, c) * (1 - rng.uniform(0, 0.02, (n, s)))
    v = rng.uniform(1e5, 1e6, (n, s))
    return {"open": o, "high": h, "low": lo, "close": c, "volume": v}


def test_the_library_has_157_distinct_factors_and_groups_resolve():
    assert len(FACTOR_NAMES) == len(set(FACTOR_NAMES)) == 157  # Alpha158 without VWAP0 (no amount in the data)
    assert resolve_factors(["alpha158"]) == FACTOR_NAMES
    assert resolve_factors(["ROC", "KMID", "ROC5"]) == ("KMID", "ROC5", "ROC10", "ROC20", "ROC30", "ROC60")
    with pytest.raises(ValueError, match="unknown"):
        resolve_factors(["ROC7"])
    with pytest.raises(ValueError, match="factors"):
        signals.FeatureConfig(factors=("NOPE",))


def test_factor_values_match_hand_computation():
    p = _panels()
    names = ("KMID", "KSFT2", "ROC5", "MA10", "STD20", "MAX5", "RSV10", "RANK5", "IMAX5", "CNTP10", "SUMP10", "VMA5",
             "CORR20", "BETA20", "RSQR20", "RESI20", "QTLU10")
    f = compute_factors(p, names).astype(np.float64)
    col = {n: f[:, :, i] for i, n in enumerate(names)}
    d, s = 70, 1
    o, h, lo, c, v = (p[k][:, s] for k in ("open", "high", "low", "close", "volume"))
    np.testing.assert_allclose(col["KMID"][d, s], (c[d] - o[d]) / o[d], rtol=1e-5)
    np.testing.assert_allclose(col["KSFT2"][d, s], (2 * c[d] - h[d] - lo[d]) / (h[d] - lo[d]), rtol=1e-5)
    np.testing.assert_allclose(col["ROC5"][d, s], c[d - 5] / c[d], rtol=1e-5)
    np.testing.assert_allclose(col["MA10"][d, s], c[d - 9: d + 1].mean() / c[d], rtol=1e-5)
    np.testing.assert_allclose(col["STD20"][d, s], c[d - 19: d + 1].std(ddof=1) / c[d], rtol=1e-4)
    np.testing.assert_allclose(col["MAX5"][d, s], h[d - 4: d + 1].max() / c[d], rtol=1e-5)
    hi, low = h[d - 9: d + 1].max(), lo[d - 9: d + 1].min()
    np.testing.assert_allclose(col["RSV10"][d, s], (c[d] - low) / (hi - low), rtol=1e-4)
    win = c[d - 4: d + 1]
    np.testing.assert_allclose(col["RANK5"][d, s], (win < c[d]).sum() / 4, rtol=1e-5)
    np.testing.assert_allclose(col["IMAX5"][d, s], (4 - np.argmax(h[d - 4: d + 1])) / 5, rtol=1e-5)
    r = c[1:] / c[:-1] - 1
    np.testing.assert_allclose(col["CNTP10"][d, s], (r[d - 10: d] > 0).mean(), rtol=1e-5)
    dc = np.diff(c)[d - 10: d]
    np.testing.assert_allclose(col["SUMP10"][d, s], np.maximum(dc, 0).sum() / np.abs(dc).sum(), rtol=1e-4)
    np.testing.assert_allclose(col["VMA5"][d, s], v[d - 4: d + 1].mean() / v[d], rtol=1e-5)
    np.testing.assert_allclose(col["CORR20"][d, s], np.corrcoef(c[d - 19: d + 1], np.log1p(v[d - 19: d + 1]))[0, 1],
                               rtol=1e-3)
    y, t = np.log(c[d - 19: d + 1]), np.arange(20)
    slope, icpt = np.polyfit(t, y, 1)
    np.testing.assert_allclose(col["BETA20"][d, s], slope, rtol=1e-3)
    np.testing.assert_allclose(col["RSQR20"][d, s], np.corrcoef(t, y)[0, 1] ** 2, rtol=1e-3)
    np.testing.assert_allclose(col["RESI20"][d, s], y[-1] - (icpt + slope * 19), atol=1e-5)
    np.testing.assert_allclose(col["QTLU10"][d, s], np.quantile(c[d - 9: d + 1], 0.8) / c[d], rtol=1e-5)


def test_every_factor_is_causal_and_skips_unobserved_days():
    """Changing every bar after day k leaves every factor of days <= k unchanged (bit for bit)."""
    p = _panels(n=120)
    p["close"][50, 0] = np.nan  # a suspended day is skipped, never filled
    for k in ("open", "high", "low", "volume"):
        p[k][50, 0] = np.nan
    ref = compute_factors(p, FACTOR_NAMES)
    k = 90
    q = {n: a.copy() for n, a in p.items()}
    rng = np.random.default_rng(1)
    for n in q:
        q[n][k + 1:] *= rng.uniform(0.5, 1.5, q[n][k + 1:].shape)
    new = compute_factors(q, FACTOR_NAMES)
    np.testing.assert_array_equal(ref[: k + 1], new[: k + 1])
    changed = ~np.isclose(np.nan_to_num(ref[k + 1:]), np.nan_to_num(new[k + 1:]))
    assert changed.any(axis=(0, 1)).mean() > 0.9  # and the future does reach the later days
    assert np.isnan(ref[50, 0]).all()  # no bar, no factor
    assert np.isfinite(ref[70:, :, :]).mean() > 0.99


def test_robust_and_rank_normalisation_use_the_days_members():
    x = np.array([[1.0, 2.0, 3.0, 100.0], [4.0, 4.0, 5.0, 6.0]])[:, :, None].repeat(2, axis=2)
    members = np.array([[True, True, True, False], [True, True, True, True]])
    rob = x.copy()
    cross_section_normalise(rob, members, "robust")
    mad = np.median(np.abs(np.array([1.0, 2.0, 3.0]) - 2.0)) * 1.4826
    np.testing.assert_allclose(rob[0, :, 0], np.clip((x[0, :, 0] - 2.0) / mad, -3, 3))
    rk = x.copy()
    cross_section_normalise(rk, members, "rank")
    np.testing.assert_allclose(rk[0, :, 0], [1 / 6 - 0.5, 0.5 - 0.5, 5 / 6 - 0.5, 1.0 - 0.5])
    np.testing.assert_allclose(rk[1, :, 0], [0.25 - 0.5, 0.25 - 0.5, 0.625 - 0.5, 0.875 - 0.5])


def test_feature_panel_carries_factors_in_its_channels_and_tabular_view(md_small):
    cfg = signals.FeatureConfig(lookback=5, engineered=("ret_5",), factors=("KMID", "ROC5"), cross_section="robust")
    assert cfg.channels[-3:] == ("ret_5", "KMID", "ROC5") and cfg.linear_channels == list(range(7))
    panel = signals.build_feature_panel(md_small, cfg)
    d = np.array([300, 301]), np.array([0, 1])
    tab = panel.tabular(*d)
    assert tab.shape == (2, 3) and panel.tabular_channels == ("ret_5", "KMID", "ROC5")
    np.testing.assert_array_equal(tab, panel.samples(*d)[:, -1, 6:])
    day = pd.Timestamp(md_small.calendar[300])
    members = md_small.tradable_mask().loc[day].to_numpy()
    vals = panel.day[300, members, 7]
    assert np.nanmedian(vals) == pytest.approx(0.0, abs=1e-6)  # robust-normalised over the day's members

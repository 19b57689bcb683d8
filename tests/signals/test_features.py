"""Features: hand-computed raw channels, causality, suspended days masked (never forward-filled)."""

import numpy as np
import pandas as pd
import pytest

import signals
from signals.errors import ConfigError


def _bars(md, sym):
    b = md.bars[md.bars["symbol"] == sym].set_index("date")
    adj = b[["open", "high", "low", "close"]].mul(b["factor"], axis=0)
    return adj, b["volume"]


def test_raw_sequence_is_relative_to_the_last_close(md_small):
    cfg = signals.FeatureConfig(lookback=5, engineered=("ret_1", "range", "gap"))
    panel = signals.build_feature_panel(md_small, cfg)
    sym, t = "SH600036", pd.Timestamp("2022-03-10")
    d, s = md_small.calendar.get_loc(t), md_small.symbols.index(sym)
    X = panel.samples(np.array([d]), np.array([s]))
    assert X.shape == (1, 5, len(cfg.channels)) and X.dtype == np.float32
    adj, vol = _bars(md_small, sym)
    days = md_small.calendar[d - 4: d + 1]
    last_close = adj.loc[t, "close"]
    for i, f in enumerate(("open", "high", "low", "close")):
        np.testing.assert_allclose(X[0, :, i], np.log(adj.loc[days, f] / last_close), atol=2e-6)
    np.testing.assert_allclose(X[0, :, 4], np.log(vol.loc[days] / vol.loc[days].mean()), atol=2e-6)
    np.testing.assert_array_equal(X[0, :, 5], 1.0)
    c = cfg.channels
    prev = md_small.calendar[d - 1]
    assert X[0, -1, c.index("ret_1")] == pytest.approx(np.log(last_close / adj.loc[prev, "close"]), abs=2e-6)
    assert X[0, -1, c.index("range")] == pytest.approx(np.log(adj.loc[t, "high"] / adj.loc[t, "low"]), abs=2e-6)
    assert X[0, -1, c.index("gap")] == pytest.approx(np.log(adj.loc[t, "open"] / adj.loc[prev, "close"]), abs=2e-6)


def test_channels_of_a_day_do_not_depend_on_later_bars(md_small):
    cfg = signals.FeatureConfig(lookback=20,
                                engineered=("ret_1", "ret_5", "ret_20", "vol_20", "vol_60", "range", "gap"))
    full = signals.build_feature_panel(md_small, cfg).day
    cut = md_small.slice(end="2022-06-30")
    part = signals.build_feature_panel(cut, cfg).day
    cols = [md_small.symbols.index(s) for s in cut.symbols]
    np.testing.assert_array_equal(full[: part.shape[0]][:, cols], part)


def test_suspended_days_are_masked_not_forward_filled(md_full):
    sym = "SZ002024"  # has zero-volume (suspended) bars in 2020-2023
    md = md_full.slice("2020-01-01", "2023-06-30", symbols=[sym, "SH600000"])
    vol = md.panel("volume")[sym]
    susp = vol.index[(vol == 0).to_numpy()]
    assert len(susp) > 0
    t = susp[0]
    d, s = md.calendar.get_loc(t), md.symbols.index(sym)
    cfg = signals.FeatureConfig(lookback=5, engineered=("ret_1",))
    panel = signals.build_feature_panel(md, cfg)
    day = panel.day[d, s]
    assert np.isnan(day[[0, 1, 2, 3, 4, 6]]).all() and day[5] == 0.0
    # the first tradable day after it: its window shows the hole, the price is not carried over
    nxt = next(i for i in range(d + 1, len(md.calendar)) if vol.iloc[i] > 0)
    X = panel.samples(np.array([nxt]), np.array([s]))[0]
    k = 4 - (nxt - d)  # position of the suspended day inside the window
    assert np.isnan(X[k, :5]).all() and X[k, 5] == 0.0 and X[-1, 5] == 1.0
    # ... and after scaling the hole is 0 (the training centre), the observed flag tells the model
    Xs = signals.SequenceScaler().fit(X[None]).transform(X[None])[0]
    assert np.all(Xs[k, :5] == 0.0) and np.isfinite(Xs).all()


def test_history_before_the_data_start_is_masked(md_small):
    panel = signals.build_feature_panel(md_small, signals.FeatureConfig(lookback=10, engineered=()))
    X = panel.samples(np.array([3]), np.array([0]))[0]
    assert np.isnan(X[:6, :5]).all() and (X[:6, 5] == 0).all() and (X[6:, 5] == 1).all()


def test_feature_config_is_validated_with_the_value():
    with pytest.raises(ConfigError, match=r"FeatureConfig.lookback = 1 is out of range: allowed 2\.\.500"):
        signals.FeatureConfig(lookback=1)
    with pytest.raises(ConfigError,
                       match=r"engineered = \('gap', 'momentum'\) is not allowed \('momentum'\): .*ret_<n>"):
        signals.FeatureConfig(engineered=("gap", "momentum"))
    with pytest.raises(ConfigError, match=r"is not allowed \('ret_0'\)"):
        signals.FeatureConfig(engineered=("ret_0",))
    with pytest.raises(ConfigError, match="appear twice"):
        signals.FeatureConfig(engineered=("gap",), extra=(("gap", lambda p: p["close"]),))
    assert signals.FeatureConfig(engineered=("ret_3",)).channels == ("open", "high", "low", "close", "volume",
                                                                     "observed", "ret_3")

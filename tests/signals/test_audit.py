"""The leakage audit passes for the shipped features and models and catches the two classic leaks."""

import numpy as np
import pandas as pd
import pytest

import signals


def _centred_mean(p):
    """A deliberately LEAKY feature: a rolling mean centred on the day reads two days ahead."""
    return p["close"].rolling(5, center=True).mean() / p["close"] - 1.0


@pytest.fixture(scope="module")
def md_audit(md_small):
    return md_small.slice(end="2022-12-31")


def _cfg(**over):
    cfg = dict(
        features=signals.FeatureConfig(lookback=10, engineered=("ret_5", "vol_20", "range", "gap")),
        labels=signals.LabelConfig(),
        splitter=signals.WalkForwardSplit(train_days=200, val_days=30, test_days=40, test_start="2022-07-01"),
        estimator=signals.LSTMClassifier(hidden_size=8, max_epochs=2, batch_size=256, seed=0, num_threads=1),
    )
    cfg.update(over)
    return cfg


def test_audit_passes_for_the_shipped_features_and_models(md_audit):
    rep = signals.leakage_audit(md_audit, **_cfg(
        features=signals.FeatureConfig(lookback=10, engineered=("ret_1", "ret_5", "ret_20", "vol_20", "range", "gap"))))
    assert rep.passed, rep.message
    d = rep.details
    assert set(d["check"]) == {"fitted labels end by the cut", "bars after cut changed", "bars after cut removed"}
    cuts = sorted(d["cut"].unique())
    assert pd.Timestamp("2022-07-01") in cuts and len(cuts) == 3  # a window boundary, a mid-span day, the next boundary
    assert (d.loc[d["check"] != "fitted labels end by the cut", "compared"] > 0).all()
    assert rep.message.startswith("no look-ahead found")


@pytest.mark.parametrize("est", [signals.GRUClassifier(hidden_size=6, max_epochs=1, seed=1, num_threads=1),
                                 signals.AttentionLSTMClassifier(hidden_size=6, max_epochs=1, seed=1, num_threads=1)])
def test_audit_passes_for_gru_and_attention_with_excess_labels(md_audit, est):
    labels = signals.LabelConfig(horizon=2, relative="index")
    rep = signals.leakage_audit(md_audit, **_cfg(estimator=est, labels=labels), baselines=(), max_windows=1)
    assert rep.passed, rep.message


def test_audit_catches_a_centred_rolling_mean(md_audit):
    leaky = signals.FeatureConfig(lookback=10, engineered=("ret_5",), extra=(("centred_mean", _centred_mean),))
    rep = signals.leakage_audit(md_audit, **_cfg(features=leaky))
    assert not rep.passed
    d = rep.details
    bad = d[~d["passed"]]
    assert set(bad["check"]) == {"bars after cut changed", "bars after cut removed"}
    assert (bad["max_abs_diff"] > 1e-3).all()
    assert "LOOK-AHEAD" in rep.message and "centred" in rep.message


def test_audit_catches_a_split_without_embargo(md_audit):
    no_embargo = signals.WalkForwardSplit(train_days=200, val_days=30, test_days=40, test_start="2022-07-01",
                                          embargo_days=0, allow_leakage=True)
    rep = signals.leakage_audit(md_audit, **_cfg(splitter=no_embargo))
    assert not rep.passed
    bad = rep.details[~rep.details["passed"]]
    assert "fitted labels end by the cut" in set(bad["check"])
    assert "fits a label ending" in rep.message


def test_audit_passes_for_the_factor_library_lightgbm_and_the_new_targets_and_objectives(md_audit):
    """Every new piece under audit at once: the whole factor library with per-day robust
    normalisation, a cross-sectional rank target on the close-to-close span, the IC objective
    with early stopping on validation rank IC, a seed ensemble, and the LightGBM baseline."""
    feats = signals.FeatureConfig(lookback=5, engineered=("ret_5", "range"), factors=("alpha158",),
                                  cross_section="robust")
    est = signals.LSTMClassifier(hidden_size=4, max_epochs=2, batch_size=256, seed=0, num_threads=1,
                                 objective="ic", early_stop="rank_ic", n_seeds=2)
    for labels in (signals.LabelConfig(relative="median", target="rank", span="close"),
                   signals.LabelConfig(relative="median")):
        rep = signals.leakage_audit(md_audit, **_cfg(features=feats, labels=labels, estimator=est),
                                    baselines=("lightgbm", "logistic"), max_windows=1)
        assert rep.passed, rep.message
        assert set(rep.details["check"]) == {"fitted labels end by the cut", "bars after cut changed",
                                             "bars after cut removed"}


def test_audit_catches_a_leak_planted_inside_the_factor_code(md_audit, monkeypatch):
    """A factor of the library made to read the NEXT day's close (KMID from close(t+1)) is caught."""
    import signals.factors as factors

    honest = factors._day

    def leaky_day(name, p):
        if name != "KMID":
            return honest(name, p)
        c_next = np.vstack([p["close"][1:], np.full((1, p["close"].shape[1]), np.nan)])
        return (c_next - p["open"]) / p["open"]

    monkeypatch.setattr(factors, "_day", leaky_day)
    feats = signals.FeatureConfig(lookback=5, engineered=("ret_5",), factors=("KMID",))
    rep = signals.leakage_audit(md_audit, **_cfg(features=feats), baselines=("lightgbm",), max_windows=1)
    assert not rep.passed
    bad = rep.details[~rep.details["passed"]]
    assert set(bad["check"]) == {"bars after cut changed", "bars after cut removed"}
    assert "LOOK-AHEAD" in rep.message

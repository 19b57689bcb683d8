"""The leakage audit passes for the shipped features and models and catches planted leaks, each by
the check meant for it, naming the leaking channel."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import signals
from core.timing import label_end_offset
from signals.inputs import prepared as prepared_module
from signals.inputs.scaling import SequenceScaler

CHECKS = {"channels", "labels", "fitted labels", "predictions"}


def _centred_mean(p):
    """A deliberately LEAKY feature: a rolling mean centred on the day reads two days ahead."""
    return p["close"].rolling(5, center=True).mean() / p["close"] - 1.0


def _later_leak(p):
    """Causal (yesterday's return) until 2022-10-31, then tomorrow's return: a leak that starts in a
    later window, where cut dates placed in the first windows only never look."""
    past = p["close"] / p["close"].shift(1) - 1.0
    future = p["close"].shift(-1) / p["close"] - 1.0
    later = past.index >= pd.Timestamp("2022-10-31")
    out = past.copy()
    out.loc[later] = future.loc[later]
    return out


def _tomorrow_high(p):
    """Tomorrow's high against tomorrow's close: scaling a whole bar by one factor leaves it unchanged."""
    return p["high"].shift(-1) / p["close"].shift(-1) - 1.0


def _tomorrow_open_to_close(p):
    """Tomorrow's open-to-close return: also invisible to a change that scales a bar by one factor."""
    return np.log(p["close"].shift(-1) / p["open"].shift(-1))


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


def _leaky(name, fn):
    return signals.FeatureConfig(lookback=10, engineered=("ret_5",), extra=((name, fn),))


def _failed(rep, check, variant=None):
    d = rep.details
    rows = d[(d["check"] == check) & ~d["passed"]]
    return rows if variant is None else rows[rows["variant"] == variant]


def test_audit_passes_for_the_shipped_features_and_models(md_audit):
    rep = signals.leakage_audit(md_audit, **_cfg(
        features=signals.FeatureConfig(lookback=10, engineered=("ret_1", "ret_5", "ret_20", "vol_20", "range", "gap"))))
    assert rep.passed, rep.message
    d = rep.details
    assert set(d["check"]) == CHECKS
    windows = list(_cfg()["splitter"].split(md_audit.calendar, 1))
    assert len(windows) == 4
    # a prediction cut in the test span of EVERY window, each rerunning its window
    pred = d[d["check"] == "predictions"]
    assert sorted(pred["cut"].unique()) == sorted(
        {md_audit.calendar[(w.pos[4] + w.pos[5]) // 2] for w in windows})
    assert (pred["compared"] > 0).all() and set(pred["variant"]) == {"changed", "removed"}
    # the cheap checks look at cuts in every span of every window
    assert d.loc[d["check"] == "channels", "cut"].nunique() >= 3 * len(windows)
    assert rep.label_reach == 2 and rep.leaking_channels == []
    assert rep.message.startswith("no look-ahead found")


@pytest.mark.parametrize("est", [signals.GRUClassifier(hidden_size=6, max_epochs=1, seed=1, num_threads=1),
                                 signals.AttentionLSTMClassifier(hidden_size=6, max_epochs=1, seed=1, num_threads=1)])
def test_audit_passes_for_gru_and_attention_with_excess_labels(md_audit, est):
    labels = signals.LabelConfig(horizon=2, relative="index")
    rep = signals.leakage_audit(md_audit, **_cfg(estimator=est, labels=labels), baselines=(), max_windows=1)
    assert rep.passed, rep.message
    assert rep.label_reach == 3


def test_audit_catches_a_centred_rolling_mean_and_names_it(md_audit):
    rep = signals.leakage_audit(md_audit, **_cfg(features=_leaky("centred_mean", _centred_mean)))
    assert not rep.passed
    assert rep.leaking_channels == ["centred_mean"]
    assert len(_failed(rep, "channels", "changed")) and len(_failed(rep, "channels", "removed"))
    bad = _failed(rep, "predictions")
    assert set(bad["variant"]) == {"changed", "removed"} and (bad["max_abs_diff"] > 1e-3).all()
    assert "LOOK-AHEAD" in rep.message and "feature channel(s) centred_mean read data after their day" in rep.message


def test_audit_catches_a_split_without_embargo(md_audit):
    no_embargo = signals.WalkForwardSplit(train_days=200, val_days=30, test_days=40, test_start="2022-07-01",
                                          embargo_days=0, allow_leakage=True)
    rep = signals.leakage_audit(md_audit, **_cfg(splitter=no_embargo))
    assert not rep.passed
    assert len(_failed(rep, "fitted labels")) == 4  # every window
    assert "fits a label ending" in rep.message and rep.leaking_channels == []


def test_audit_catches_a_leak_that_starts_in_a_later_window(md_audit):
    rep = signals.leakage_audit(md_audit, **_cfg(features=_leaky("later", _later_leak)))
    assert not rep.passed
    assert rep.leaking_channels == ["later"]
    first_bad = _failed(rep, "channels")["cut"].min()
    assert first_bad >= pd.Timestamp("2022-10-31")  # nothing before the leak starts is flagged
    bad = _failed(rep, "predictions")
    assert len(bad) and (bad["cut"] >= pd.Timestamp("2022-10-31")).all()
    # the cut dates of the first two windows, where the audit used to look, see nothing
    early = signals.leakage_audit(md_audit, **_cfg(features=_leaky("later", _later_leak)),
                                  cut_dates=["2022-07-01", "2022-07-28", "2022-08-26"], max_windows=2)
    assert _failed(early, "predictions").empty


@pytest.mark.parametrize(("name", "fn"), [("tomorrow_high", _tomorrow_high),
                                          ("tomorrow_open_to_close", _tomorrow_open_to_close)])
def test_audit_catches_intraday_leaks_by_changing_each_field_on_its_own(md_audit, name, fn):
    rep = signals.leakage_audit(md_audit, **_cfg(features=_leaky(name, fn)), max_windows=2)
    assert not rep.passed
    assert rep.leaking_channels == [name]
    # caught by the CHANGED data too, not only by removing it: open, high, low and close move apart
    assert len(_failed(rep, "channels", "changed")) and len(_failed(rep, "predictions", "changed"))


def test_perturbation_changes_each_field_by_its_own_factor_and_keeps_bars_valid(md_audit):
    cut = pd.Timestamp("2022-09-30")
    new = signals.audit.checks.perturb_after(md_audit, cut, seed=3)
    old, b = md_audit.bars, new.bars
    after = (old["date"] > cut).to_numpy()
    assert old.loc[~after].equals(b.loc[~after])
    ratio = {c: b.loc[after, c].to_numpy() / old.loc[after, c].to_numpy() for c in ("open", "close")}
    assert np.abs(ratio["open"] - ratio["close"]).max() > 0.1  # not one factor per bar
    assert (b.loc[after, "high"] >= b.loc[after, ["open", "close"]].max(axis=1)).all()
    assert (b.loc[after, "low"] <= b.loc[after, ["open", "close"]].min(axis=1)).all()


def test_audit_checks_label_ends_against_the_data_not_the_declaration(md_audit, monkeypatch):
    """A label that reads two days further than its declared end (open(t+4) with H = 1, declaring
    t+2): the default embargo then lets the last validation labels reach into the test span."""
    real = prepared_module.make_labels

    def far(open_adj, volume, config=None, index_open=None, **kw):
        lab = real(open_adj, volume, dataclasses.replace(config, horizon=config.horizon + 2), index_open, **kw)
        return dataclasses.replace(lab, end_offset=label_end_offset(config.horizon))

    monkeypatch.setattr(prepared_module, "make_labels", far)
    rep = signals.leakage_audit(md_audit, **_cfg(), max_windows=2)
    assert not rep.passed
    assert rep.label_reach == 4
    assert len(_failed(rep, "labels", "changed")) and len(_failed(rep, "fitted labels")) == 2
    assert "labels read 4 days after their decision day but declare 2" in rep.message
    assert "declares its end 2 days later" in rep.message


def test_a_feature_computed_outside_the_pipeline_is_flagged_structurally(md_audit):
    """What no perturbation can see: a feature baked from the full history before the audit runs
    (here a z-score with the full sample's mean and deviation). Its values do not change when the
    data the audit gives it change, so the channel and prediction checks pass, and only the
    structural check (an extra feature must read its input) names it."""
    close = md_audit.panel("close", adjusted=True)
    baked = (close - close.mean()) / close.std()

    rep = signals.leakage_audit(md_audit, **_cfg(features=_leaky("baked_z", lambda p: baked)), max_windows=1)
    assert not rep.passed
    bad = rep.details[~rep.details["passed"]]
    assert set(bad["check"]) == {"extra features read their input"}
    assert rep.unchecked_features == ["baked_z"] and rep.leaking_channels == []
    assert "computed outside the pipeline" in rep.message


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
        assert set(rep.details["check"]) == {"channels", "labels", "fitted labels", "predictions"}


def test_audit_catches_a_leak_planted_inside_the_factor_code(md_audit, monkeypatch):
    """A factor of the library made to read the NEXT day's close (KMID from close(t+1)) is caught."""
    import signals.inputs.factors as factors

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
    assert {"channels", "predictions"} <= set(bad["check"])
    assert rep.leaking_channels == ["KMID"]
    assert "LOOK-AHEAD" in rep.message and "KMID" in rep.message


def test_audit_catches_a_training_target_that_reads_further_than_its_traded_return(md_audit, monkeypatch):
    """The rank target of day d made from the return two days later than the traded one (which
    stays honest, as does the declared end): only the target moves, and the label check sees it."""
    real = prepared_module.make_labels

    def far_target(open_adj, volume, config=None, index_open=None, **kw):
        honest = real(open_adj, volume, config, index_open, **kw)
        far = real(open_adj, volume, dataclasses.replace(config, horizon=config.horizon + 2), index_open, **kw)
        return dataclasses.replace(honest, target=far.target)

    monkeypatch.setattr(prepared_module, "make_labels", far_target)
    est = signals.LSTMClassifier(hidden_size=8, max_epochs=2, batch_size=256, seed=0, num_threads=1, objective="mse")
    rep = signals.leakage_audit(md_audit, **_cfg(labels=signals.LabelConfig(relative="median", target="rank"),
                                                 estimator=est), max_windows=1)
    assert not rep.passed
    assert len(_failed(rep, "labels", "changed"))


@pytest.fixture(scope="module")
def md_audit_jump(md_audit):
    """md_audit with a missed adjustment planted just after the audit's cut: one symbol's raw
    prices x 0.6 from the jump day on, its factor unchanged (a suspect jump)."""
    from data_store.schema import anomaly_report

    sym, jump = md_audit.symbols[0], md_audit.calendar[md_audit.calendar.get_loc(JUMP_CUT) + 2]
    bars = md_audit.bars.copy()
    hit = (bars["symbol"] == sym) & (bars["date"] >= jump)
    bars.loc[hit, ["open", "high", "low", "close"]] *= 0.6
    md = dataclasses.replace(md_audit, bars=bars, anomalies=anomaly_report(bars, md_audit.calendar), _memo={})
    assert bool(md.suspect_jumps().loc[jump, sym])
    return md


JUMP_CUT = pd.Timestamp("2022-07-29")


def test_audit_passes_with_the_suspect_jump_masks_and_catches_a_mask_that_looks_ahead(md_audit_jump, monkeypatch):
    """The jump masks of signals.prepare are under audit: honest ones pass; a fit mask that looks 3
    days past the decision day is named by the channel check (the removed bars take the jump away)."""
    cfg = _cfg(features=signals.FeatureConfig(lookback=5, engineered=("ret_5",)))
    rep = signals.leakage_audit(md_audit_jump, **cfg, cut_dates=[JUMP_CUT], max_windows=1)
    assert rep.passed, rep.message
    real = prepared_module.crossing_jumps
    monkeypatch.setattr(prepared_module, "crossing_jumps",
                        lambda md, first, last: real(md, first, last + 3 if last == 0 else last))
    rep = signals.leakage_audit(md_audit_jump, **cfg, cut_dates=[JUMP_CUT], max_windows=1)
    assert not rep.passed
    bad = _failed(rep, "channels")
    assert len(bad) and all("fit mask" in c for c in bad["channels"])


LATE_LEAK_FROM = pd.Timestamp("2022-12-05")


def _leak_in_the_last_days(p):
    """Causal until LATE_LEAK_FROM, then tomorrow's return: a leak that starts in the last 14 trading
    days of the test span, after the middle of the last window (where the prediction cut is)."""
    past = p["close"] / p["close"].shift(1) - 1.0
    future = p["close"].shift(-1) / p["close"] - 1.0
    out = past.copy()
    late = past.index >= LATE_LEAK_FROM
    out.loc[late] = future.loc[late]
    return out


def test_audit_covers_the_whole_test_span_and_catches_a_leak_in_its_last_days(md_audit):
    """The last window tests 2022-10-31..2022-12-23 and its prediction cut is its middle day
    (2022-11-25): a one-day-ahead read that starts on 2022-12-05 moves nothing before it. The feature
    checks now look over the whole test span, up to its last day, and the report says so."""
    splitter = signals.WalkForwardSplit(train_days=200, val_days=30, test_days=40, test_start="2022-07-01",
                                        test_end="2022-12-23")
    windows = list(splitter.split(md_audit.calendar, 1))
    assert windows[-1].test_end == pd.Timestamp("2022-12-23")
    rep = signals.leakage_audit(md_audit, **_cfg(splitter=splitter, features=_leaky("late", _leak_in_the_last_days)))
    assert not rep.passed, rep.message
    assert rep.leaking_channels == ["late"]
    bad = _failed(rep, "channels")
    assert (bad["cut"] >= LATE_LEAK_FROM).all() and bad["cut"].max() == pd.Timestamp("2022-12-23")
    assert _failed(rep, "predictions").empty  # the prediction cuts alone never see it
    assert rep.covered == (rep.details.loc[rep.details["check"] == "channels", "cut"].min(), pd.Timestamp("2022-12-23"))
    assert "to 2022-12-23 (every window's spans; the test span 2022-07-01..2022-12-23 to its end)" in rep.message
    # the cheap checks look at most 20 trading days apart over the test span
    probes = pd.DatetimeIndex(sorted(rep.details.loc[rep.details["check"] == "channels", "cut"].unique()))
    cal = md_audit.calendar
    in_test = cal[(cal >= windows[0].test_start) & (cal <= windows[-1].test_end)]
    pos = in_test.get_indexer(probes[probes >= windows[0].test_start])
    assert pos[0] == 0 and pos[-1] == len(in_test) - 1 and np.diff(pos).max() <= 20


class _TestFittedScaler(SequenceScaler):
    """A planted preprocessing leak: the test tensor is standardised with its OWN statistics (the
    window's whole test span), so a prediction of day d moves with the test rows after d."""

    def transform(self, X, copy=True):
        if copy:  # the test tensor (training and validation are scaled in place)
            self.fit(X)
        return super().transform(X, copy=copy)


def test_a_leak_seen_only_in_the_predictions_points_at_preprocessing_and_model_side_fitting(md_audit, monkeypatch):
    import signals.window as window_module

    monkeypatch.setattr(window_module, "SequenceScaler", _TestFittedScaler)
    rep = signals.leakage_audit(md_audit, **_cfg(), baselines=(), max_windows=1)
    assert not rep.passed
    bad = rep.details[~rep.details["passed"]]
    assert set(bad["check"]) == {"predictions"}
    assert "preprocessing fitted on test rows" in rep.message
    assert "normalisation" in rep.message and "model-side fitting" in rep.message
    assert "Check custom features" not in rep.message  # not the hint of a feature leak


def test_audit_runs_on_a_small_quiet_universe(md_full):
    """Three quiet names: before 2022-11-29 (SZ000001's +10% day) none moved 9.9% in a day, and the
    scrambled future changes every factor, so the changed data hold no candidate price jump at all;
    its anomaly report (which feeds the jump masks) used to stop on an empty array."""
    from signals.audit.checks import perturb_after

    md = md_full.slice("2021-01-01", "2023-12-31", symbols=["SH600519", "SH600036", "SZ000001"])
    cut = pd.Timestamp("2022-06-30")
    changed = perturb_after(md, cut, seed=1)
    assert changed.anomalies.jumps.empty
    assert not changed.bars.loc[changed.bars["date"] > cut, "close"].equals(md.bars.loc[md.bars["date"] > cut, "close"])

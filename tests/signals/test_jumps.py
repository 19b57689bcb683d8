"""Suspect jumps keep their labels and samples out of training and metrics unless the user opts in.

The case is the issue's (SH688256: a 1868.00 close, then a 1217.03 open with the factor
unchanged: a missed ex-rights adjustment), planted in real bars: SH600000's raw prices from
2021-08-10 on are scaled by 0.6 while its factor stays as it was. The snapshot's own flagged
jumps are resumptions after long suspensions, whose day-before labels are unknown anyway."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

import signals
from data_store.schema import anomaly_report
from signals.inputs.prepared import prepare

SYM, JUMP = "SH600000", pd.Timestamp("2021-08-10")
OTHERS = ["SH600519", "SZ000001", "SH601318", "SZ000333", "SH600036"]


@pytest.fixture(scope="module")
def md_jump(md_full):
    md = md_full.slice("2021-05-01", "2021-10-29", symbols=[SYM, *OTHERS])
    bars = md.bars.copy()
    hit = (bars["symbol"] == SYM) & (bars["date"] >= JUMP)
    bars.loc[hit, ["open", "high", "low", "close"]] *= 0.6
    return dataclasses.replace(md, bars=bars, anomalies=anomaly_report(bars, md.calendar), _memo={})


def _day(md, offset):
    """The trading day ``offset`` days from the jump day."""
    return md.calendar[md.calendar.get_loc(JUMP) + offset]


def test_the_planted_jump_is_flagged_by_the_data_layer(md_jump):
    assert bool(md_jump.suspect_jumps().loc[JUMP, SYM])
    assert int(md_jump.suspect_jumps().to_numpy().sum()) == 1


def test_feature_reach_counts_the_lookback_and_the_longest_window():
    assert signals.FeatureConfig(lookback=10, engineered=("ret_5",)).reach == 9 + 5
    assert signals.FeatureConfig(lookback=20).reach == 19 + 20  # ret_20, vol_20
    assert signals.FeatureConfig(lookback=10, engineered=("range",), factors=("alpha158",)).reach == 9 + 60
    assert signals.FeatureConfig(lookback=4, engineered=("range",)).reach == 3
    assert signals.FeatureConfig(lookback=4, engineered=("gap",), factors=("KMID",)).reach == 4


@pytest.mark.parametrize("target", ["updown", "rank"])
def test_labels_crossing_the_jump_are_unknown_and_samples_reading_it_are_not_fitted(md_jump, target):
    feats = signals.FeatureConfig(lookback=4, engineered=("ret_5",))  # reach 3 + 5 = 8
    labels = signals.LabelConfig(relative="median", target=target)
    kept = prepare(md_jump, feats, signals.LabelConfig(relative="median", target=target, keep_jumps=True))
    out = prepare(md_jump, feats, labels)
    s = md_jump.symbols.index(SYM)
    pos = md_jump.calendar.get_loc(JUMP)
    # H = 1: the label of day d runs from the open of d+1 to the open of d+2, so only d = jump - 2
    # crosses the jump (which lies between the close of jump-1 and the open of the jump day)
    assert kept.labels.ret[pos - 2, s] < -0.35  # the false -40%
    crossed = np.isnan(out.labels.ret[:, s]) & np.isfinite(kept.labels.ret[:, s])
    assert list(np.flatnonzero(crossed)) == [pos - 2]
    for name in ("label", "target", "target_ret", "event"):
        assert np.isnan(getattr(out.labels, name)[pos - 2, s])
    assert np.isfinite(out.labels.target[pos - 1, s]) and np.isfinite(out.labels.target[pos - 3, s])
    # samples of days jump .. jump + reach - 1 read the jump's move; the day before does not
    not_fitted = ~out.fit_known()[:, s] & kept.fit_known()[:, s]
    assert list(np.flatnonzero(not_fitted)) == [pos - 2, *range(pos, pos + feats.reach)]
    assert kept.clean is None and (kept.fit_known() == np.isfinite(kept.labels.target)).all()
    # the other stocks keep every label, and the day's cross-section leaves the jumping stock out
    others = [i for i in range(len(md_jump.symbols)) if i != s]
    assert np.isfinite(out.labels.target[pos - 2, others]).all()
    if target == "rank":
        alone = md_jump.slice(symbols=OTHERS)
        ref = prepare(alone, feats, labels).labels.target[pos - 2]
        got = dict(zip([md_jump.symbols[i] for i in others], out.labels.target[pos - 2, others], strict=True))
        assert np.allclose([got[sym] for sym in alone.symbols], ref)
        with_jump = dict(zip(md_jump.symbols, kept.labels.target[pos - 2], strict=True))
        assert not np.allclose([with_jump[sym] for sym in alone.symbols], ref)


def test_the_walk_forward_fits_no_sample_crossing_the_jump(md_jump):
    """The rows a window fits (the splitter on the prepared mask) leave the crossed days out."""
    feats = signals.FeatureConfig(lookback=4, engineered=("ret_5",))
    split = signals.WalkForwardSplit(train_days=60, val_days=10, test_days=20, test_start="2021-09-15")
    out = prepare(md_jump, feats, signals.LabelConfig())
    w = next(iter(split.split(md_jump.calendar, signals.LabelConfig())))
    rows = split.rows(w, out.eligible, out.fit_known())
    s = md_jump.symbols.index(SYM)
    fitted = {(int(d), int(k)) for part in (rows.train, rows.val) for d, k in zip(*part, strict=True)}
    pos = md_jump.calendar.get_loc(JUMP)
    assert w.pos[0] <= pos - 2 and pos + feats.reach <= w.pos[4]  # the jump lies inside the fitted span
    assert not {(pos - 2, s), *((d, s) for d in range(pos, pos + feats.reach))} & fitted
    assert (pos - 1, s) in fitted or not out.eligible[pos - 1, s]

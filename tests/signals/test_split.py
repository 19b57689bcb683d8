"""Walk-forward splitter: layout properties (hypothesis), embargo, test rows, validation messages."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import signals
from signals.errors import ConfigError, LookaheadError

CAL = pd.bdate_range("2015-01-01", periods=900)


@settings(max_examples=60, deadline=None)
@given(train=st.integers(1, 120), val=st.integers(1, 40), test=st.integers(1, 60), extra_step=st.integers(0, 30),
       horizon=st.integers(1, 10), extra_emb=st.integers(0, 5), expanding=st.booleans(), start_pad=st.integers(0, 200))
def test_windows_never_overlap_and_hold_the_embargo(train, val, test, extra_step, horizon, extra_emb, expanding,
                                                    start_pad):
    emb = horizon + 1 + extra_emb
    need = train + val + 2 * emb
    sp = signals.WalkForwardSplit(train_days=train, val_days=val, test_days=test, step_days=test + extra_step,
                                  embargo_days=emb, expanding=expanding, test_start=CAL[need + start_pad])
    wins = list(sp.split(CAL, horizon))
    assert wins and wins[0].test_start == CAL[need + start_pad]
    prev_test_end = -1
    for k, w in enumerate(wins):
        r0, r1, v0, v1, t0, t1 = w.pos
        assert w.index == k and 0 <= r0 <= r1 < v0 <= v1 < t0 <= t1 < len(CAL)
        # the embargo: days strictly between the spans, and no label (ends at t + 1 + horizon) reaching over
        assert v0 - r1 - 1 == emb and t0 - v1 - 1 == emb
        assert r1 + 1 + horizon < v0 and v1 + 1 + horizon < t0
        assert v1 - v0 + 1 == val and t1 - t0 + 1 <= test
        assert (r1 - r0 + 1 == train) if not expanding else (r0 == wins[0].pos[0])
        assert t0 > prev_test_end  # test spans never overlap
        prev_test_end = t1
        assert (w.train_start, w.test_end) == (CAL[r0], CAL[t1])
    # laid out to the end of the calendar: no further window would start inside it
    assert wins[-1].pos[4] + test + extra_step > len(CAL) - 1


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), density=st.floats(0.05, 0.95), horizon=st.integers(1, 5),
       cap=st.one_of(st.none(), st.integers(1, 400)))
def test_rows_respect_eligibility_and_never_share_a_day(seed, density, horizon, cap):
    rng = np.random.default_rng(seed)
    cal = CAL[:300]
    eligible = rng.random((300, 7)) < density
    known = rng.random((300, 7)) < 0.9
    sp = signals.WalkForwardSplit(train_days=80, val_days=20, test_days=30, max_train_samples=cap)
    for w in sp.split(cal, horizon):
        rows = sp.rows(w, eligible, known)
        assert eligible[rows.test].all() and len(rows.test[0]) == eligible[w.pos[4]: w.pos[5] + 1].sum()
        for part in (rows.train, rows.val):
            assert eligible[part].all() and known[part].all()
            # the label of every fitted sample ends before the first test day
            assert len(part[0]) == 0 or part[0].max() + 1 + horizon < w.pos[4]
        if cap is not None:
            assert len(rows.train[0]) <= cap
        days = [set(p[0].tolist()) for p in (rows.train, rows.val, rows.test)]
        assert not (days[0] & days[1]) and not (days[0] & days[2]) and not (days[1] & days[2])


def test_default_embargo_is_horizon_plus_one_and_shorter_is_refused():
    sp = signals.WalkForwardSplit(train_days=50, val_days=10, test_days=10)
    assert sp.embargo_for(1) == 2 and sp.embargo_for(5) == 6
    w = next(sp.split(CAL, signals.LabelConfig(horizon=3)))
    assert w.embargo == 4 and w.pos[2] - w.pos[1] - 1 == 4
    with pytest.raises(LookaheadError, match="embargo_days = 1 is shorter than the label's end offset "
                                             "\\(horizon \\+ 1\\) = 2"):
        next(signals.WalkForwardSplit(train_days=50, val_days=10, test_days=10, embargo_days=1).split(CAL, 1))
    leaky = signals.WalkForwardSplit(train_days=50, val_days=10, test_days=10, embargo_days=0, allow_leakage=True)
    assert next(leaky.split(CAL, 1)).embargo == 0
    assert issubclass(LookaheadError, ValueError)


def test_the_embargo_comes_from_the_labels_end_offset():
    sp = signals.WalkForwardSplit(train_days=50, val_days=10, test_days=10)
    # close-to-close reads the close of t+1+H: the same day as the open-to-open end
    assert signals.LabelConfig(span="close", horizon=2).end_offset == 3
    assert next(sp.split(CAL, signals.LabelConfig(span="close", relative="median", target="rank"))).embargo == 2

    class _LateLabel:  # a target that reads 5 days ahead: the embargo must follow it, not a formula
        end_offset = 5

    assert next(sp.split(CAL, _LateLabel())).embargo == 5
    with pytest.raises(LookaheadError, match="end offset"):
        signals.WalkForwardSplit(train_days=50, val_days=10, test_days=10, embargo_days=4).embargo_for(_LateLabel())


@pytest.mark.parametrize("kwargs, match", [
    (dict(train_days=0), r"WalkForwardSplit.train_days = 0 is out of range: allowed 1\.\.5000"),
    (dict(train_days=10.5), "train_days = 10.5 is not a valid int"),
    (dict(embargo_days=float("nan")), "embargo_days = nan must be a finite number"),
    (dict(val_days=-3), "val_days = -3"),
    (dict(test_days=20, step_days=10), "step_days = 10 is smaller than test_days = 20"),
    (dict(test_start="not a date"), "test_start = 'not a date' is not a date"),
    (dict(test_start="2020-01-01", test_end="2019-01-01"), "test_end = 2019-01-01 is before test_start = 2020-01-01"),
    (dict(max_train_samples=0), r"max_train_samples = 0 is out of range: allowed 1\.\.100000000, or 'all'"),
])
def test_parameters_are_validated_with_their_values(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        signals.WalkForwardSplit(**kwargs)


def test_first_window_that_does_not_fit_names_the_numbers():
    sp = signals.WalkForwardSplit(train_days=500, val_days=60, test_days=20, test_start=CAL[100])
    with pytest.raises(ConfigError, match="needs 564 trading days before its test start .* has only 100"):
        list(sp.split(CAL, 1))


def test_test_rows_are_members_and_tradable_on_real_data(md_small):
    sp = signals.WalkForwardSplit(train_days=242, val_days=40, test_days=60, test_start="2022-07-01")
    eligible = md_small.tradable_mask().to_numpy()
    lab = signals.make_labels(md_small.panel("open", adjusted=True), md_small.panel("volume"))
    known = np.isfinite(lab.label)
    member = md_small.membership_mask().to_numpy()
    vol = md_small.panel("volume").to_numpy()
    n_windows = 0
    for w in sp.split(md_small.calendar, 1):
        rows = sp.rows(w, eligible, known)
        for part in (rows.train, rows.val, rows.test):
            assert member[part].all() and (vol[part] > 0).all()
        assert known[rows.train].all() and known[rows.val].all()
        # every eligible (member, tradable) day of the test span is a test row, label known or not
        t0, t1 = w.pos[4], w.pos[5]
        assert len(rows.test[0]) == eligible[t0:t1 + 1].sum()
        assert rows.train[0].max() + 1 + 1 < w.pos[2] and rows.val[0].max() + 2 < t0
        n_windows += 1
    assert n_windows == 5  # 2022-07-01 .. 2023-06-30 in 60-day steps


def test_max_train_samples_subsamples_reproducibly_in_time_order(md_small):
    eligible = md_small.tradable_mask().to_numpy()
    known = np.isfinite(signals.make_labels(md_small.panel("open", adjusted=True), md_small.panel("volume")).label)
    sp = signals.WalkForwardSplit(train_days=242, val_days=40, test_days=60, test_start="2022-07-01",
                                  max_train_samples=500, seed=3)
    w = next(sp.split(md_small.calendar, 1))
    a, b = sp.rows(w, eligible, known), sp.rows(w, eligible, known)
    assert len(a.train[0]) == 500 and np.array_equal(a.train[0], b.train[0])
    assert np.all(np.diff(a.train[0]) >= 0)
    full = signals.WalkForwardSplit(train_days=242, val_days=40, test_days=60, test_start="2022-07-01")
    assert len(full.rows(w, eligible, known).val[0]) == len(a.val[0])  # validation is never subsampled


def test_window_prints_its_dates():
    w = next(signals.WalkForwardSplit(train_days=50, val_days=10, test_days=10).split(CAL, 1))
    s = str(w)
    assert s.startswith("window 0: train 2015-01-01..") and "(embargo 2 days)" in s

"""The tutorial-illusion scripts (examples/tutorial_*.py) on the real snapshot, with small arguments.

Each test asserts a property that makes an illusion (or its correction), not a figure: the
tutorial's test samples all fall on one day; its accuracy is tied to that day's share of the class
it predicts; the corrected steps score every test day, fit the scaler on training rows, test on
point-in-time members with the toolkit's label; the price regression and persistence are scored on
the same days; the bidirectional model over a centred window scores well and fails the audit."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

import data_store
import signals

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
README = EXAMPLES.parent / "README.md"
sys.path.insert(0, str(EXAMPLES))

import tutorial_a_akshare as proto_a  # noqa: E402
import tutorial_b_tushare as proto_b  # noqa: E402
import tutorial_c_bidirectional as proto_c  # noqa: E402
from tutorial_illusions import QUICK  # noqa: E402


def _parsed(module, argv):
    import argparse

    p = argparse.ArgumentParser()
    module.add_args(p)
    return p.parse_args(argv)


@pytest.fixture(scope="module")
def md():
    return data_store.load(use_cache=False)


@pytest.fixture(scope="module")
def keep_threads():
    n = torch.get_num_threads()
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def res_a(md, keep_threads):
    return proto_a.run_from_args(_parsed(proto_a, QUICK["A"]), md)


@pytest.fixture(scope="module")
def res_b(md, keep_threads):
    return proto_b.run_from_args(_parsed(proto_b, QUICK["B"]), md)


@pytest.fixture(scope="module")
def res_c(md, keep_threads):
    return proto_c.run_from_args(_parsed(proto_c, QUICK["C"]), md)


def _step(res, n):
    return res.steps.set_index("step").loc[n]


def _qfq_up_share(md, symbols, day, prev):
    """Independently of the script: the share of ``symbols`` whose forward-adjusted close (raw x
    factor / the last factor, to the fen) on ``day`` is >= that of ``prev``: always-up's accuracy."""
    close, factor = md.panel("close"), md.panel("factor")
    last = factor.loc[:day, symbols].ffill().iloc[-1]
    q = (close.loc[[prev, day], symbols] * factor.loc[[prev, day], symbols] / last).round(2)
    return float((q.loc[day] - q.loc[prev] >= 0).mean())


# ------------------------------------------------------------------------------------------------
# protocol A
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_step1_every_test_sample_is_the_same_calendar_day(res_a, md):
    one = res_a.predictions[1]
    assert one["date"].nunique() == 1
    assert len(one) == one["symbol"].nunique() == len(res_a.data.symbols)
    # the day is the last labelled day: the one before the tutorial's end date
    cal = md.calendar
    assert one["date"].iloc[0] == cal[cal.get_loc(res_a.data.end) - 1]
    s1 = _step(res_a, 1)
    assert s1["days"] == 1 and s1["samples"] == len(one)


@pytest.mark.slow
def test_a_step1_accuracy_is_that_days_share_of_the_predicted_class(res_a, md):
    one = res_a.predictions[1]
    day = one["date"].iloc[0]
    nxt = md.calendar[md.calendar.get_loc(day) + 1]              # the label reads the next close
    up_share = _qfq_up_share(md, list(one["symbol"]), nxt, day)
    s2 = _step(res_a, 2)
    assert s2["always_up"] == pytest.approx(up_share)          # the baseline step 2 puts beside it
    assert s2["best_constant"] == pytest.approx(max(up_share, 1 - up_share))
    acc, called_up = s2["accuracy"], s2["called_up"]
    assert acc == _step(res_a, 1)["accuracy"]                   # the same predictions as step 1
    # accuracy - always-up = P(called down, was down) - P(called down, was up): at most the share called down
    assert abs(acc - up_share) <= (1 - called_up) + 1e-12
    assert abs(acc - (1 - up_share)) <= called_up + 1e-12
    # a model that predicts one class scores exactly that day's share of the class
    for p, share in ((1.0, up_share), (0.0, 1 - up_share)):
        assert proto_a.score(one.assign(p_up=p), ic=False)["accuracy"] == pytest.approx(share)
    if called_up in (0.0, 1.0):
        assert acc == pytest.approx(up_share if called_up == 1.0 else 1 - up_share)


@pytest.mark.slow
def test_a_rolling_step1_tracks_the_days_move(res_a):
    r = res_a.rolling
    assert len(r) == 3 and (r["test_day"] < r["end"]).all()
    # one calendar day whenever the modal stock traded every day of the year (rows stacked by position
    # otherwise mix dates: the tutorial's stacking, kept as it is)
    full = r["modal_days"] == r["calendar_days"]
    assert full.any() and (r.loc[full, "test_dates"] == 1).all()
    assert (r["test_dates"] >= 1).all()
    assert ((r["accuracy"] - r["always_up"]).abs() <= (1 - r["called_up"]) + 1e-12).all()
    assert ((r["accuracy"] - (1 - r["always_up"])).abs() <= r["called_up"] + 1e-12).all()
    one_class = r["called_up"].isin([0.0, 1.0])
    expect = np.where(r["called_up"] == 1.0, r["always_up"], 1 - r["always_up"])
    assert np.allclose(r.loc[one_class, "accuracy"], expect[one_class.to_numpy()])
    s = proto_a.rolling_summary(r)
    assert s["end_dates"] == 3 and 0 <= s["acc_min"] <= s["acc_median"] <= s["acc_max"] <= 1


@pytest.mark.slow
def test_a_step3_scores_every_day_of_the_test_span(res_a):
    d = res_a.data
    p3 = res_a.predictions[3]
    n_test = d.n_labelled - d.n_train
    assert p3["date"].nunique() == n_test == _step(res_a, 3)["days"]
    assert len(p3) == n_test * len(d.symbols)
    # the same model as step 1: its last-day predictions are step 1's
    last = p3[p3["date"] == p3["date"].max()].set_index("symbol")["p_up"]
    assert np.array_equal(last.loc[res_a.predictions[1]["symbol"]].to_numpy(), res_a.predictions[1]["p_up"].to_numpy())
    assert np.isfinite(_step(res_a, 3)["ic"])


@pytest.mark.slow
def test_a_step4_scaler_sees_training_rows_only(res_a):
    d = res_a.data
    leaky, _ = proto_a.minmax_scaled(d, None)
    honest, sc = proto_a.minmax_scaled(d, d.n_train)
    assert leaky.min() >= -1e-6 and leaky.max() <= 1 + 1e-6      # the tutorial's scaler knew every row
    assert honest[:, :d.n_train].min() >= -1e-6 and honest[:, :d.n_train].max() <= 1 + 1e-6
    test = honest[:, d.n_train:]
    assert (test < -1e-6).any() or (test > 1 + 1e-6).any()          # ... including the test span's range
    assert np.allclose(sc.data_max_, d.feats[:, :d.n_train].reshape(-1, 5).max(axis=0))


@pytest.mark.slow
def test_a_step5_validates_before_the_test_span():
    rng = np.random.default_rng(0)
    X = rng.random((6, 40, 5)).astype(np.float32)
    y = (rng.random((6, 39)) > 0.5).astype(np.float64)
    fit = proto_a.fit_and_step(X[:, :39], y, 20, 7, 39, proto_a.TutorialModel(epochs=30, patience=3), True)
    assert fit.p_up.shape == (6, 39 - 27)           # predictions only for the days after validation
    assert 1 <= fit.best_epoch <= fit.epochs_run <= 30


@pytest.mark.slow
def test_a_step6_is_the_toolkits_walk_forward_on_point_in_time_members(res_a, md):
    p6 = res_a.predictions[6]
    d = res_a.data
    test_days = pd.DatetimeIndex(np.unique(d.dates[:, d.n_train:d.n_labelled]))
    assert set(p6["date"]) == set(test_days)                     # the same test days as steps 3-5
    tradable = md.tradable_mask()
    for day, g in p6.groupby("date"):                            # every tradable point-in-time member, no other
        assert set(g["symbol"]) == set(tradable.columns[tradable.loc[day].to_numpy()])
        assert set(g["symbol"]) <= set(md.members(day))
    assert all("embargo 2 days" in w for w in res_a.windows)
    # the label: back-adjusted open(t+2) / open(t+1) - 1
    op = md.panel("open", adjusted=True)
    cal = md.calendar
    row = p6.dropna(subset=["ret"]).iloc[len(p6) // 2]
    i = cal.get_loc(row["date"])
    assert row["ret"] == pytest.approx(op.iloc[i + 2][row["symbol"]] / op.iloc[i + 1][row["symbol"]] - 1)


@pytest.mark.slow
def test_a_step7_trades_with_costs_and_gives_the_verdict(res_a):
    s7 = _step(res_a, 7)
    b = res_a.backtest
    assert b["fees"] > 0 and b["trades"] > 0
    assert s7["excess_return"] == pytest.approx(b["strategy_return"] - b["index_return"])
    assert res_a.verdict.startswith("LSTM (toolkit): accuracy") and "best constant guess" in res_a.verdict
    # the verdict reads the run's evidence: intervals, the alpha and the costs, not "n/a"
    assert re.search(r"IC [+-]\d\.\d{3} \[", res_a.verdict) and re.search(r"beta \d\.\d\d \[", res_a.verdict)
    assert "Costs took n/a" not in res_a.verdict and "alpha after that exposure n/a" not in res_a.verdict
    text = proto_a.report_text(res_a, 1)
    assert "torch threads 1" in text and "verdict (toolkit)" in text


# ------------------------------------------------------------------------------------------------
# protocol B
# ------------------------------------------------------------------------------------------------
def test_b_persistence_is_scored_on_the_same_test_days(res_b, md):
    t = res_b.test
    close = proto_b.index_close(md)
    n_samples = len(close) - proto_b.WINDOW
    assert len(t) == n_samples - int(proto_b.TRAIN_SHARE * n_samples)
    assert t["date"].is_monotonic_increasing and t["date"].iloc[-1] == close.index[-1]
    # persistence ("tomorrow = today") is the previous close of each of those very days
    prev = close.shift(1).reindex(t["date"]).to_numpy()
    assert np.array_equal(prev, t["prev_close"].to_numpy())
    rmse_p = float(np.sqrt(((prev - close.reindex(t["date"]).to_numpy()) ** 2).mean()))
    assert res_b.figures["rmse_persistence"] == pytest.approx(rmse_p)
    assert res_b.figures["test_days"] == len(t)


def test_b_levels_look_right_but_the_model_does_not_beat_persistence(res_b):
    f = res_b.figures
    assert f["level_corr"] > 0.9                            # the tutorial's chart "looks right"
    assert f["rmse"] >= 0.9 * f["rmse_persistence"]          # ... but tomorrow = today is as good or better
    assert abs(f["return_corr"]) < 0.3                       # drawn as returns, little is left
    n = f["test_days"]
    assert f["always_up"] + f["always_down"] == pytest.approx(1.0)
    best = max(f["always_up"], f["always_down"])
    assert f["direction_accuracy"] < best + 2 * np.sqrt(0.25 / n)   # no edge over a constant direction


# ------------------------------------------------------------------------------------------------
# protocol C
# ------------------------------------------------------------------------------------------------
def test_c_the_refusal_a_user_sees():
    with pytest.raises(signals.LookaheadError, match="bidirectional") as e:
        signals.LSTMClassifier(bidirectional=True)
    assert "LATER" in str(e.value)
    msgs = proto_c.refusal_messages()
    assert len(msgs) == 2 and all(m.startswith("LookaheadError:") for m in msgs.values())
    # the static check sees the flag, not a backward pass written by hand: the audit is what catches that
    with pytest.raises(signals.LookaheadError):
        signals.check_causal(proto_c.FlagBiLSTM())
    signals.check_causal(proto_c.GuideBiLSTM(7, 4, centre=3))


@pytest.mark.slow
def test_c_a_centred_window_scores_well_and_fails_the_audit(res_c):
    t = res_c.table.set_index("model")
    leaky = t.loc[[m for m in t.index if "centred" in m]].iloc[0]
    honest = t.loc[[m for m in t.index if "centred" not in m]]
    assert leaky["accuracy"] > leaky["best_constant"] + 0.05 and leaky["auc"] > 0.6
    assert leaky["audit"] == "FAILED" and leaky["audit_changed"] > 0
    assert (honest["audit"] == "passed").all() and (honest["audit_changed"] == 0).all()
    assert (honest["accuracy"] < honest["best_constant"] + 0.05).all()
    rep = res_c.audits[leaky.name]
    assert not rep.passed and "LOOK-AHEAD" in rep.message


def test_c_the_centred_feature_reads_days_after_the_decision_day(md):
    sub = md.slice("2022-01-01", "2022-03-31", symbols=["SH600000", "SZ000001"])
    px = {"close": sub.panel("close", adjusted=True)}
    c = proto_c.centred_return(proto_c.HALF)(px)
    assert c.iloc[-proto_c.HALF:].isna().all().all()              # the last k days need the future
    assert np.allclose(c.iloc[0], np.log(px["close"]).diff().iloc[proto_c.HALF], equal_nan=True)


# ------------------------------------------------------------------------------------------------
# the driver and the README
# ------------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_driver_prints_every_table_and_writes_the_report(tmp_path):
    proc = subprocess.run([sys.executable, str(EXAMPLES / "tutorial_illusions.py"), "--quick", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=900, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    for head in ("Protocol A", "Protocol B", "Protocol C", "torch threads 1", "verdict (toolkit)"):
        assert head in proc.stdout
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count("data:image/png;base64") == 3
    steps = pd.read_csv(tmp_path / "protocol_a_steps.csv")
    assert list(steps["step"]) == [1, 2, 3, 4, 5, 6, 7]


def test_the_tutorial_page_holds_protocol_a_and_says_how_to_rerun():
    """The docs page carries the table the script prints (same columns) and the command; the
    README shows the command and leads to the page."""
    page = (README.parent / "docs" / "tutorial.md").read_text(encoding="utf-8")
    header = proto_a.markdown_table(pd.DataFrame(columns=[c for c, _, _ in proto_a.STEP_COLUMNS]),
                                    proto_a.STEP_COLUMNS).splitlines()[0]
    assert header in page
    assert "python examples/tutorial_illusions.py" in page
    text = README.read_text(encoding="utf-8")
    assert "python examples/tutorial_illusions.py" in text and "(docs/tutorial.md)" in text
    assert "examples/tutorial_illusions.py" in (README.parent / "docs" / "research.md").read_text(encoding="utf-8")

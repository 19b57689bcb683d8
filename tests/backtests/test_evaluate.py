"""``python -m backtests.evaluate``: bad input stops with one line and exit 2 and writes nothing; a run's
own predictions reproduce its metrics; scores, close-to-close labels and coverage counts."""

import json
import re

import numpy as np
import pandas as pd
import pytest

import data_store
from backtests import evaluate as E

SYMS = ["SH600519", "SH600036", "SH601318", "SZ000858", "SZ000333"]


@pytest.fixture(scope="module")
def good():
    """Tradable member days of five stocks in 2023 with a noise p_up."""
    md = data_store.load(use_cache=False).slice("2023-01-01", "2023-06-30", SYMS)
    t = md.tradable_mask().stack()
    t = t[t].reset_index()
    t.columns = ["date", "symbol", "ok"]
    df = t[["date", "symbol"]].assign(symbol=t["symbol"].astype(str))
    return df.assign(p_up=np.random.default_rng(0).random(len(df)))


def _fail(tmp_path, capsys, frame=None, *args, name="bad.csv"):
    f = tmp_path / name
    if frame is not None:
        frame.to_csv(f, index=False)
    out = tmp_path / "runs"
    rc = E.main([str(f), "--out", str(out), "-q", *args])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: "), err
    assert not out.exists() or not any(out.iterdir())  # nothing half-written
    return err


@pytest.mark.parametrize(("change", "message"), [
    (lambda d: d.assign(symbol=d["symbol"].where(d.index != 3, "SH999999")), r"1 symbol\(s\) have no bars.*SH999999"),
    (lambda d: d.assign(date=d["date"].where(d.index != 0, pd.Timestamp("2030-01-02"))),
     r"1 row\(s\) are dated outside the data \(2010-01-04\.\.2025-06-30\), e\.g\. 2030-01-02"),
    (lambda d: d.assign(date=d["date"].where(d.index != 0, pd.Timestamp("2023-01-01"))),
     r"not trading days, e\.g\. 2023-01-01"),
    (lambda d: pd.concat([d, d.iloc[:2]]), r"4 rows repeat a \(date, symbol\) of one model"),
    (lambda d: d.assign(p_up=d["p_up"].where(d.index != 5, np.nan)), r"1 p_up value\(s\) are missing or not finite"),
    (lambda d: d.assign(p_up=d["p_up"].where(d.index != 5, np.inf)), r"not finite, e\.g\. row 5"),
    (lambda d: d.assign(p_up=d["p_up"].where(d.index != 5, 1.5)), r"p_up = 1\.5 .* not a probability"),
    (lambda d: d.drop(columns="p_up"), r"lack column\(s\) \['p_up or score'\]"),
    (lambda d: d.assign(date="yesterday"), r"no readable date, e\.g\. 'yesterday'"),
])
def test_bad_input_is_one_line_and_exit_2(good, tmp_path, capsys, change, message):
    import re

    err = _fail(tmp_path, capsys, change(good.copy()))
    assert re.search(message, err), err


def test_missing_file_and_unknown_model(good, tmp_path, capsys):
    assert "does not exist" in _fail(tmp_path, capsys, None, name="none.parquet")
    two = pd.concat([good.assign(model="a"), good.assign(model="b")])
    assert "choose the one to judge with --model" in _fail(tmp_path, capsys, two)
    assert "--model 'c' is not in the predictions' model column" in _fail(tmp_path, capsys, two, "--model", "c")


@pytest.mark.slow
def test_scores_close_labels_and_coverage_counts(good, tmp_path):
    # a score (any real number) instead of p_up, one day of one stock left out, one row of a
    # non-member day added (left out and counted)
    df = good.rename(columns={"p_up": "score"}).assign(score=lambda d: 40 * (d["score"] - 0.5))
    df = df.drop(index=df.index[0])
    md = data_store.load(use_cache=False)
    outsider = next(s for s in md.symbols if not md.tradable_mask().loc["2023-03-01"].get(s, False))
    df = pd.concat([df, pd.DataFrame({"date": [pd.Timestamp("2023-03-01")], "symbol": [outsider], "score": [1.0]})])
    f = tmp_path / "scores.csv"
    df.to_csv(f, index=False)
    out = tmp_path / "runs"
    assert E.main([str(f), "--out", str(out), "--label", "close", "--start", "2022-06-01", "--end", "2023-12-31",
                   "--symbols", ",".join([*SYMS, outsider]), "--set", "strategy.topk.k=2", "-q",
                   "--set", "evaluation.bootstrap_reps=200"]) == 0
    (run,) = list(out.iterdir())
    m = json.loads((run / "metrics.json").read_text())
    src = m["source"]
    assert src["score_column"] == "score" and src["label"] == "close"
    assert src["left_out_not_tradable_member"] == 1 and src["members_without_score"] == {"scores": 1}
    assert m["evaluation"]["ic_return"].startswith("adjusted close(t+H)/close(t) - 1")
    preds = pd.read_parquet(run / "predictions.parquet")
    # p_up = 0.5 + score / (2 max|score|): order and sign kept
    assert preds["p_up"].between(0, 1).all()
    s = df.set_index(["date", "symbol"])["score"]
    back = preds.set_index(["date", "symbol"])["p_up"]
    assert ((back > 0.5) == (s.reindex(back.index) > 0)).all()
    # the label is the sign of the close-to-close return of the next day
    close = md.panel("close", adjusted=True)
    row = preds.iloc[10]
    t = md.calendar.get_loc(row["date"])
    expected = close[row["symbol"]].iloc[t + 1] / close[row["symbol"]].iloc[t] - 1
    assert row["ret"] == pytest.approx(expected, abs=1e-12) and row["label"] == float(expected > 0)
    assert (run / "tearsheet.html").is_file() and (run / "manifest.json").is_file()


@pytest.mark.slow
def test_a_runs_own_predictions_reproduce_its_metrics(small_run, tmp_path):
    run_dir, _ = small_run
    out = tmp_path / "runs"
    assert E.main([str(run_dir / "predictions.parquet"), "--config", str(run_dir / "config.toml"),
                   "--out", str(out), "-q"]) == 0
    (again,) = list(out.iterdir())
    a = json.loads((run_dir / "metrics.json").read_text())
    b = json.loads((again / "metrics.json").read_text())
    for key in ("model", "reference", "strategy", "strategy_gross", "verdict", "verdict_class", "models", "windows",
                "evaluation"):
        assert a[key] == b[key], key  # exactly: the same pieces on the same rows
    assert b["source"]["main_model"] == "lstm" and b["source"]["models"] == ["lstm", "logistic", "always_up",
                                                                             "yesterday"]
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "returns.csv"), pd.read_csv(again / "returns.csv"))


def _members_of(start, end, syms=SYMS):
    md = data_store.load(use_cache=False).slice(start, end, syms)
    t = md.tradable_mask().stack()
    t = t[t].reset_index()
    t.columns = ["date", "symbol", "ok"]
    return t[["date", "symbol"]].assign(symbol=t["symbol"].astype(str))


def test_out_pointing_at_a_file_exits_2_before_any_data_is_loaded(good, tmp_path, capsys, monkeypatch):
    def no_data(*_a, **_k):
        raise AssertionError("the market data were loaded before --out was checked")

    monkeypatch.setattr(data_store, "load", no_data)
    f = tmp_path / "p.csv"
    good.to_csv(f, index=False)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    rc = E.main([str(f), "--out", str(blocker), "-q"])
    err = capsys.readouterr().err.strip()
    assert rc == 2, err
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and "a-file" in err, err


def test_a_table_with_both_p_up_and_score_must_name_one(good, tmp_path, capsys):
    both = good.assign(score=good["p_up"] - 0.5)
    err = _fail(tmp_path, capsys, both)
    assert "both a p_up and a score column" in err and "--score-column" in err
    f = tmp_path / "both.csv"
    both.to_csv(f, index=False)
    assert E.main([str(f), "--score-column", "score", "--print-config", "-q"]) == 0


@pytest.mark.parametrize("setting", ["model.hidden_size=64", "features.lookback=20", "walk_forward.train_days=100",
                                     "execution.threads=2", "report.audit=true", "labels.target=rank"])
def test_settings_of_training_are_refused_not_ignored(good, tmp_path, capsys, setting):
    err = _fail(tmp_path, capsys, good, "--set", setting)
    assert f"--set {setting.split('=')[0]}: evaluate trains nothing" in err


def test_the_tradeoff_settings_apply_to_an_evaluation():
    """evaluate trades the main model's frontier and capacity table as a run does: their settings
    are taken, a training setting beside them is still refused."""
    E.check_settings_apply(["tradeoff.frontier=", "tradeoff.capitals=1e8", "strategy.topk.hold_days=1"])
    with pytest.raises(E.InputError, match="--set model.kind: evaluate trains nothing"):
        E.check_settings_apply(["tradeoff.frontier=", "model.kind=gru"])


def test_a_prediction_before_start_is_one_line_with_the_right_fix(good, tmp_path, capsys):
    err = _fail(tmp_path, capsys, good, "--start", "2023-03-01")
    assert re.search(r"row\(s\) are dated before --start 2023-03-01, e\.g\. 2023-01-03: drop them, or give --start "
                     r"2023-01-03 or earlier", err), err
    assert "update the data" not in err
    err = _fail(tmp_path, capsys, good, "--end", "2023-05-31")
    assert "are dated after --end 2023-05-31, e.g. 2023-06-30" in err


def test_codes_in_a_csv_are_read_as_text_and_a_bare_code_gets_a_suggestion(good, tmp_path, capsys):
    bare = good.assign(symbol=good["symbol"].str[2:])  # 000333, 000858 ... written without their prefix
    err = _fail(tmp_path, capsys, bare)
    assert "did you mean" in err and "SZ000333 for 000333" in err and "SZ000858 for 000858" in err, err
    assert "python -m data_store symbols" in err


def test_dates_follow_the_table_before_and_after_the_presets_span(tmp_path, capsys):
    """A table of 2017 (before the quick preset's 2019 start) and one that ends after a configured
    end: nothing is trained, so no span of training data is asked for before the first prediction."""
    early = _members_of("2017-01-01", "2017-06-30").assign(p_up=0.5)
    f = tmp_path / "early.csv"
    early.to_csv(f, index=False)
    assert E.main([str(f), "--print-config", "-q"]) == 0
    toml = capsys.readouterr().out
    assert 'start = "2017-01-02"' in toml and 'test_start = "2017-01-03"' in toml and 'end = "2025-06-30"' in toml
    conf = tmp_path / "short.toml"
    conf.write_text('[universe]\nstart = "2015-01-01"\nend = "2016-12-31"\n')
    assert E.main([str(f), "--config", str(conf), "--print-config", "-q"]) == 0
    toml = capsys.readouterr().out
    assert 'start = "2015-01-01"' in toml and 'end = "2017-06-30"' in toml


@pytest.mark.slow
def test_a_users_table_reads_as_evaluated_and_its_ic_is_the_independent_one(tmp_path, caplog):
    """A table of 2017 H1 (one evaluation period) whose score is the next open-to-open return plus
    noise: evaluated without dates, its IC equals the mean daily Pearson correlation computed here
    from the adjusted opens; the report does not pretend the toolkit trained it, the coverage
    warning is given once, and the one-period scatter is left out."""
    import logging

    md = data_store.load(use_cache=False)
    syms = sorted(md.tradable_mask().loc["2017-01-03":"2017-06-30"].sum().nlargest(40).index)
    t = _members_of("2017-01-01", "2017-06-30", syms)
    opens = md.panel("open", adjusted=True)
    fwd = opens.shift(-2) / opens.shift(-1) - 1  # open(t+2) / open(t+1) - 1: what a decision of day t captures
    r = fwd.stack().rename("r")
    t = t.join(r, on=["date", "symbol"])
    rng = np.random.default_rng(5)
    t["score"] = t["r"].fillna(0.0) + rng.normal(0, 0.05, len(t))
    f = tmp_path / "lgb.csv"
    t[["date", "symbol", "score"]].to_csv(f, index=False)
    out = tmp_path / "runs"
    with caplog.at_level(logging.WARNING, logger="backtests.run"):
        assert E.main([str(f), "--out", str(out), "-q", "--set", "evaluation.bootstrap_reps=200"]) == 0
    assert sum("have no score" in rec.getMessage() for rec in caplog.records) == 1
    (run,) = list(out.iterdir())
    m = json.loads((run / "metrics.json").read_text())
    expected = t.dropna(subset=["r"]).groupby("date")[["score", "r"]].apply(lambda g: g["score"].corr(g["r"])).mean()
    row = next(x for x in m["models"] if x["model"] == m["model"])
    assert row["ic"] == pytest.approx(expected, abs=1e-9)
    page = (run / "tearsheet.html").read_text()
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert "preset" not in title and "lgb.csv" in title and "evaluated" in title, title
    assert "walk-forward" not in page[page.index('<div id="accuracy-vs-returns">'):page.index("QuantStats report")]
    assert 'alt="accuracy vs excess return"' not in page and 'id="one-period"' in page

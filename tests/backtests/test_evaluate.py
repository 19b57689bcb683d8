"""``python -m backtests.evaluate``: bad input stops with one line and exit 2 and writes nothing; a run's
own predictions reproduce its metrics; scores, close-to-close labels and coverage counts."""

import json

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

"""Planted cases: signals whose truth is known, built from real returns of the snapshot, judged by the
whole path a user's predictions take (``python -m backtests.evaluate``) and, for a sweep, by the
comparison's multiple-testing step. The verdict must call each one what it is.

* a signal that knows the sign of the next open-to-open return of 10 stocks -> skill;
* pure noise -> no evidence;
* noise that holds the 30 highest-beta stocks in the 2019-2020 rise -> exposure, not skill;
* 50 noise sweep points traded without costs: the best one beats the index on paper, but survives
  neither the deflated Sharpe ratio nor the SPA test (while a skilled point among them does).

Universes are point-in-time (every tradable member of the day), never chosen by later survival:
a basket picked for staying in the index to the end beats the index by construction.
"""

import json

import numpy as np
import pandas as pd
import pytest

import data_store
import strategies
from backtests import compare
from backtests import evaluate as E
from backtests.evidence.forward import forward_returns
from backtests.evidence.outcomes import GROSS_COSTS

pytestmark = pytest.mark.slow

# the planted signals are daily (they know tomorrow, or nothing): the TopK trades them daily, without the
# tranches, rank buffer and minimum holding period that the defaults put on a slow model's turnover; no
# frontier or capacity table (not judged here)
FAST = ["--set", "evaluation.bootstrap_reps=300", "--set", "evaluation.decay_horizons=2", "--set",
        "strategy.baseline_backtests=false", "--set", "strategy.topk.buffer=0", "--set", "strategy.topk.min_hold=0",
        "--set", "strategy.topk.hold_days=1",
        "--set", "strategy.topk.score_halflife=0", "--set", "strategy.topk.cost_aware=false",
        "--set", "tradeoff.frontier=", "--set", "tradeoff.capitals=", "-q"]


@pytest.fixture(scope="module")
def data():
    return data_store.load(use_cache=False)


def _members(md, start, end):
    """Every (date, symbol) on which the stock is a tradable point-in-time member."""
    t = md.tradable_mask().loc[start:end].stack()
    t = t[t].reset_index()
    t.columns = ["date", "symbol", "ok"]
    return t.assign(symbol=t["symbol"].astype(str))[["date", "symbol"]]


def _judge(tmp_path, preds, name, *args):
    f = tmp_path / f"{name}.parquet"
    preds.to_parquet(f)
    out = tmp_path / "runs"
    assert E.main([str(f), "--out", str(out), "--name", name, *FAST, *args]) == 0
    (run,) = [p for p in out.iterdir() if p.name.endswith(name)]
    m = json.loads((run / "metrics.json").read_text())
    return m["verdict_class"], next(r for r in m["models"] if r["model"] == m["model"]), m["verdict"]


def test_knowing_the_sign_of_a_few_stocks_is_skill(data, tmp_path):
    md = data.slice("2022-06-01", "2023-12-31")
    df = _members(md, "2023-01-01", "2023-12-31")
    rng = np.random.default_rng(0)
    r = forward_returns(md, 1, "open").stack().reindex(pd.MultiIndex.from_arrays([df["date"], df["symbol"]]))
    known = rng.choice(sorted(df.loc[df["date"] == df["date"].min(), "symbol"]), 10, replace=False)
    knows = df["symbol"].isin(known).to_numpy() & np.isfinite(r.to_numpy())
    df["p_up"] = np.where(knows, np.where(r.to_numpy() > 0, 0.9, 0.1), 0.4 + 0.2 * rng.random(len(df)))
    cat, row, text = _judge(tmp_path, df, "skill", "--start", "2022-06-01", "--end", "2023-12-31",
                            "--set", "strategy.topk.k=10", "--set", "strategy.topk.max_replace=10")
    assert cat == "skill", text
    assert row["alpha_lo"] > 0 and row["ic_lo"] > 0
    assert row["style_alpha_lo"] > 0 and row["residual_rank_ic_lo"] > 0  # and beyond the styles
    assert "Skill beyond styles: what is left of the scores after the styles still predicts" in text


def test_pure_noise_is_no_evidence(data, tmp_path):
    md = data.slice("2022-06-01", "2023-12-31")
    df = _members(md, "2023-01-01", "2023-12-31")
    df["p_up"] = np.random.default_rng(0).random(len(df))
    cat, row, text = _judge(tmp_path, df, "noise", "--start", "2022-06-01", "--end", "2023-12-31",
                            "--set", "strategy.topk.k=10", "--set", "strategy.topk.max_replace=10")
    assert cat == "no_evidence", text
    assert row["ic_lo"] < 0 < row["ic_hi"] and row["gross_alpha_lo"] < 0 < row["gross_alpha_hi"]
    assert text.startswith("noise: accuracy") and "No evidence of skill" in text


def test_noise_holding_high_beta_stocks_in_a_rising_market_is_exposure(data, tmp_path):
    md = data.slice("2019-01-01", "2020-12-31")  # the CSI-300 rose about 32% a year
    df = _members(md, "2019-01-02", "2020-12-31")
    daily = md.panel("close", adjusted=True).pct_change()
    bench = md.benchmark_returns().reindex(daily.index)
    beta = daily.apply(lambda c: c.cov(bench) / bench.var() if c.count() > 200 else np.nan).dropna()
    high = beta.sort_values(ascending=False).index.astype(str)[:30]
    u = np.random.default_rng(0).random(len(df))
    df["p_up"] = np.where(df["symbol"].isin(high), 0.6 + 0.1 * u, 0.4 * u)
    cat, row, text = _judge(tmp_path, df, "highbeta", "--start", "2019-01-01", "--end", "2020-12-31",
                            "--set", "strategy.topk.k=10", "--set", "strategy.topk.max_replace=1")
    assert cat == "exposure", text
    assert row["annual_excess_return"] > 0.1 and row["beta"] > 1.3 and row["alpha_lo"] < 0 < row["alpha_hi"]
    assert "Exposure, not skill" in text and "in a rising market" in text


def _point(folder, rets, bench):
    folder.mkdir()
    pd.DataFrame({"strategy": rets, "benchmark": bench.reindex(rets.index).fillna(0.0)}).rename_axis("date").to_csv(
        folder / "returns.csv")
    (folder / "metrics.json").write_text(json.dumps({"periods_per_year": 243,
                                                     "evaluation": {"intervals": {"replications": 500, "seed": 0}}}))
    return folder


def test_the_best_of_50_noise_points_does_not_survive_multiple_testing(data, tmp_path):
    md = data.slice("2022-06-01", "2023-12-31")
    df = _members(md, "2023-01-01", "2023-12-31")
    bench = md.benchmark_returns()
    rng = np.random.default_rng(0)
    topk = strategies.TopKConfig(k=10, max_replace=10, buffer=0, min_hold=0, hold_days=1, score_halflife=0.0,
                                 cost_aware=False)  # daily, traded daily
    folders = []
    for i in range(50):  # gross: without costs, lucky noise can beat the index on paper
        res = strategies.run_backtest(md, df.assign(p_up=rng.random(len(df))), strategy=topk, costs=GROSS_COSTS,
                                      progress=False)
        folders.append(_point(tmp_path / f"noise{i:02d}", res.returns, bench))
    mt = compare.multiple_testing(folders)
    assert mt["trials"] == 50 and mt["sharpe_annual"][mt["best"]] > 0.5  # the best looks good alone...
    assert mt["deflated_sharpe"]["dsr"] < compare.DSR_LEVEL and mt["spa"]["p_spa"] > compare.SPA_LEVEL
    assert not mt["survives"]
    assert "does not survive" in compare.multiple_testing_text(mt)
    # ...and the same test lets a skilled point through: it knows tomorrow's sign of 10 stocks
    r = forward_returns(md, 1, "open").stack().reindex(pd.MultiIndex.from_arrays([df["date"], df["symbol"]]))
    known = df["symbol"].isin(sorted(df["symbol"].unique())[:10]).to_numpy() & np.isfinite(r.to_numpy())
    skilled = df.assign(p_up=np.where(known, np.where(r.to_numpy() > 0, 0.9, 0.1), 0.4 + 0.2 * rng.random(len(df))))
    res = strategies.run_backtest(md, skilled, strategy=topk, costs=GROSS_COSTS, progress=False)
    mt2 = compare.multiple_testing([*folders, _point(tmp_path / "skilled", res.returns, bench)])
    assert mt2["best"] == "skilled" and mt2["survives"], compare.multiple_testing_text(mt2)


def _future_return(md, df):
    """The open-to-open return each decision of ``df`` captures (NaN where unknown)."""
    r = forward_returns(md, 1, "open").stack().reindex(pd.MultiIndex.from_arrays([df["date"], df["symbol"]]))
    return r.to_numpy()


def _judge_all(tmp_path, preds, name, *args):
    f = tmp_path / f"{name}.parquet"
    preds.to_parquet(f)
    out = tmp_path / "runs"
    assert E.main([str(f), "--out", str(out), "--name", name, *FAST, *args]) == 0
    (run,) = [p for p in out.iterdir() if p.name.endswith(name)]
    return json.loads((run / "metrics.json").read_text()), (run / "tearsheet.html").read_text()


def test_a_score_that_is_the_future_return_is_too_good_to_be_true(data, tmp_path):
    """The return the decision captures, given as the score: IC 1 and every call right. It used to
    pass as "some information without money"; it must lead with a look-ahead alarm."""
    md = data.slice("2022-06-01", "2023-12-31")
    df = _members(md, "2023-01-01", "2023-12-31")
    df["score"] = _future_return(md, df)
    df = df.dropna(subset=["score"])
    m, page = _judge_all(tmp_path, df, "oracle", "--start", "2022-06-01", "--end", "2023-12-31")
    row = next(r for r in m["models"] if r["model"] == m["model"])
    assert row["ic"] == pytest.approx(1.0, abs=1e-9) and row["accuracy"] > 0.99
    assert len(m["warnings"]) == 1 and m["warnings"][0].startswith("TOO GOOD TO BE TRUE, LOOK-AHEAD SUSPECTED")
    assert m["verdict"].startswith("TOO GOOD TO BE TRUE")
    section = page[page.index('<div id="accuracy-vs-returns">'):]
    assert section.index('id="alarm-0"') < section.index('id="verdict"')


def test_a_signal_that_ranks_backwards_is_called_so(data, tmp_path):
    """Minus the captured return, drowned in noise: an IC clearly below zero, far from too good."""
    md = data.slice("2022-06-01", "2023-12-31")
    df = _members(md, "2023-01-01", "2023-12-31")
    r = _future_return(md, df)
    df["score"] = -np.nan_to_num(r) + np.random.default_rng(3).normal(0, 0.2, len(df))
    m, _ = _judge_all(tmp_path, df, "backwards", "--start", "2022-06-01", "--end", "2023-12-31",
                      "--set", "strategy.topk.k=10", "--set", "strategy.topk.max_replace=10")
    row = next(r for r in m["models"] if r["model"] == m["model"])
    assert row["ic_hi"] < 0 and row["ic"] > -0.2 and m["warnings"] == []
    assert "the IC and the rank IC are BELOW zero beyond noise: the signal ranks the stocks backwards" in m["verdict"]

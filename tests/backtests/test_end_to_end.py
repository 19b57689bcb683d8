"""End to end through ``python -m backtests.run`` on the real snapshot: the run folder's files
exist and agree with each other."""

import json
import tomllib

import numpy as np
import pandas as pd
import pytest

import data_store
from strategies import performance as an

from .conftest import SMALL_SYMBOLS

pytestmark = pytest.mark.slow

FILES = ["config.toml", "manifest.json", "predictions.parquet", "window_metrics.csv", "trades.csv",
         "rejected_orders.csv", "returns.csv", "metrics.json", "tearsheet.html"]


def test_run_folder_has_every_file_and_no_leftovers(small_run):
    run_dir, proc = small_run
    for name in FILES:
        assert (run_dir / name).is_file(), name
    assert not [p for p in run_dir.parent.iterdir() if p.name.startswith(".incomplete")]
    assert "tearsheet.html" in proc.stdout and str(run_dir) in proc.stdout
    # the terminal summary table
    assert "always-up" in proc.stdout and "LSTM" in proc.stdout


def test_manifest_records_provenance(small_run):
    run_dir, _ = small_run
    man = json.loads((run_dir / "manifest.json").read_text())
    assert len(man["data"]["fingerprint_sha256"]) == 64
    assert set(man["data"]["snapshot_files_sha256"]) >= {"bars.parquet", "index_000300.parquet"}
    assert man["versions"]["torch"] and man["versions"]["backtrader"]
    assert man["seeds"]["model"] == 0
    assert {"data", "signals (walk-forward)", "backtests", "report", "total"} <= set(man["timings_seconds"])
    cfg = tomllib.loads((run_dir / "config.toml").read_text())
    assert cfg["universe"]["symbols"] == SMALL_SYMBOLS and cfg["model"]["hidden_size"] == 8


def test_manifest_records_the_command_the_cache_and_the_threads_really_used(small_run):
    import os
    import shlex

    run_dir, _ = small_run
    man = json.loads((run_dir / "manifest.json").read_text())
    # the command as typed (python -m ..., not the path of run.py), quoted for a shell
    argv = shlex.split(man["command"])
    assert argv[:3] == ["python", "-m", "backtests.run"] and "--symbols" in argv and argv[-1] == "data.use_cache=true"
    assert man["python"]
    assert man["data"]["use_cache"] is True and man["data"]["cache_dir"] == os.environ["CSI300_CACHE_DIR"]
    # measured inside the windows while they trained, not read after the counts were restored
    assert man["threads"]["torch"] == [1] and man["threads"]["blas"] in ([1], []) and man["threads"]["setting"] == 1
    wm = pd.read_csv(run_dir / "window_metrics.csv")
    assert man["attempts"] == {str(w): 1 for w in sorted(wm["window"].unique())}
    assert set(man["executor"]["tasks"]) == set(man["attempts"])


def _replay_equity(run_dir):
    cfg = tomllib.loads((run_dir / "config.toml").read_text())
    rets = pd.read_csv(run_dir / "returns.csv", index_col="date", parse_dates=True)
    trades = pd.read_csv(run_dir / "trades.csv", parse_dates=["date"])
    trades = trades[trades["model"] == cfg["model"]["kind"]]
    pos = pd.read_csv(run_dir / "positions.csv", parse_dates=["date"])
    corp = pd.read_csv(run_dir / "corporate_actions.csv", parse_dates=["date"])
    sign = np.where(trades["side"] == "buy", -1.0, 1.0)
    flow = sign * trades["value"] - trades["commission"] - trades["stamp_duty"]
    flows = flow.groupby(trades["date"]).sum()
    if len(corp):
        flows = flows.add(corp.groupby("date")["cash"].sum(), fill_value=0.0)
    days = rets.index
    first = days[0]
    assert flows.index.min() >= first  # nothing fills before the first return day
    cash = cfg["strategy"]["initial_cash"] + flows.reindex(days, fill_value=0.0).cumsum()
    held = pos.groupby("date")["value"].sum().reindex(days, fill_value=0.0)
    equity = cash + held
    return rets, cash, equity, cfg


def test_returns_reconcile_with_trades_and_positions(small_run):
    run_dir, _ = small_run
    rets, cash, equity, cfg = _replay_equity(run_dir)
    assert np.allclose(cash.to_numpy(), rets["cash"].to_numpy(), rtol=0, atol=1e-4)
    assert np.allclose(equity.to_numpy(), rets["equity"].to_numpy(), rtol=0, atol=1e-4)
    prev = np.concatenate([[cfg["strategy"]["initial_cash"]], equity.to_numpy()[:-1]])
    recomputed = equity.to_numpy() / prev - 1.0
    assert np.max(np.abs(recomputed - rets["strategy"].to_numpy())) < 1e-9


def test_metrics_json_agrees_with_returns_csv(small_run):
    run_dir, _ = small_run
    m = json.loads((run_dir / "metrics.json").read_text())
    r = pd.read_csv(run_dir / "returns.csv", index_col="date", parse_dates=True)["strategy"]
    ppy = m["periods_per_year"]
    assert 240 <= ppy <= 245
    s = m["strategy"]
    assert s["total_return"] == pytest.approx(an.total_return(r), abs=1e-9)
    assert s["annual_return"] == pytest.approx(an.annual_return(r, ppy), abs=1e-9)
    assert s["sharpe"] == pytest.approx(an.sharpe_ratio(r, ppy), abs=1e-9)
    assert s["max_drawdown"] == pytest.approx(an.max_drawdown(r), abs=1e-9)
    main = next(x for x in m["models"] if x["model"] == m["model"])
    assert main["total_return"] == pytest.approx(s["total_return"], abs=1e-12)


def test_metrics_json_carries_the_evidence(small_run):
    run_dir, _ = small_run
    m = json.loads((run_dir / "metrics.json").read_text())
    main = next(x for x in m["models"] if x["model"] == m["model"])
    for key in ("alpha", "alpha_lo", "alpha_hi", "alpha_t", "beta", "beta_lo", "beta_hi", "accuracy_edge",
                "accuracy_edge_lo", "accuracy_edge_hi", "ic_lo", "ic_hi", "icir", "rank_ic_lo", "rank_ic_hi", "spread",
                "spread_lo", "spread_hi", "gross_annual_return", "cost_drag", "break_even_cost", "daily_turnover"):
        assert isinstance(main[key], float), key
        if key.endswith("_lo"):
            base = key[:-3]
            assert main[key] <= main[base] <= main[f"{base}_hi"], key
    assert m["verdict_class"] in ("skill", "skill_before_costs", "style_not_skill", "exposure", "signal_without_money",
                                  "no_evidence")
    ev = m["evaluation"]
    assert [q["quantile"] for q in ev["quantiles"]] == list(range(1, 11))
    assert [d["horizon"] for d in ev["ic_decay"]] == list(range(1, 11))
    assert ev["intervals"]["seed"] == 0 and ev["intervals"]["replications"] == 1000
    # the 1-day decay is the headline IC (signals' daily IC; H = 1)
    assert ev["ic_decay"][0]["ic"] == pytest.approx(main["ic"], abs=1e-12)
    # gross and net side by side, from returns.csv
    r = pd.read_csv(run_dir / "returns.csv", index_col="date", parse_dates=True)
    ppy = m["periods_per_year"]
    assert main["gross_annual_return"] == pytest.approx(an.annual_return(r["strategy_gross"], ppy), abs=1e-12)
    assert main["cost_drag"] == pytest.approx(main["gross_annual_return"] - main["annual_return"], abs=1e-12)
    assert m["strategy_gross"]["fees"] == 0.0 and m["strategy"]["fees"] > 0
    assert an.total_return(r["strategy_gross"]) > an.total_return(r["strategy"])  # costs only take
    assert json.loads((run_dir / "manifest.json").read_text())["seeds"]["bootstrap"] == 0


def test_a_small_basket_gets_no_style_evidence(small_run):
    """Ten stocks are too few to regress on seven styles: the run says so and keeps the index-only
    verdict; the preset's style-neutral target falls back to the plain one on such days."""
    run_dir, proc = small_run
    m = json.loads((run_dir / "metrics.json").read_text())
    main = next(x for x in m["models"] if x["model"] == m["model"])
    assert "styles" not in m and "residual_rank_ic" not in main and "style_alpha" not in main
    assert not any(x["model"].startswith("style_") for x in m["models"])
    assert "no style evidence: 10 tradable names a day, the styles need 30" in proc.stderr
    assert 'id="skill-or-style"' not in (run_dir / "tearsheet.html").read_text()


def test_predictions_cover_every_tradable_member_test_day(small_run):
    run_dir, _ = small_run
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    wm = pd.read_csv(run_dir / "window_metrics.csv", parse_dates=["test_start", "test_end"])
    md = data_store.load(use_cache=False).slice("2020-01-01", "2023-12-31", SMALL_SYMBOLS)
    tradable = md.tradable_mask()
    main = preds[preds["model"] == "lstm"]
    assert not main.duplicated(["date", "symbol"]).any()
    for w in wm[wm["model"] == "lstm"].itertuples():
        block = tradable.loc[w.test_start:w.test_end].stack()
        expected = set(block[block].index)
        got = main[main["window"] == w.window]
        got_keys = set(zip(pd.to_datetime(got["date"]), got["symbol"].astype(str), strict=True))
        assert got_keys == expected, (w.window, len(expected - got_keys), len(got_keys - expected))
        assert got["p_up"].between(0, 1).all()
        # the last days of the data have no label yet: predicted, but not scored
        assert got["label"].notna().sum() == w.n
    # every model predicts the same samples
    keys = preds.groupby("model").size()
    assert keys.nunique() == 1, keys


def test_window_metrics_match_predictions(small_run):
    run_dir, _ = small_run
    preds = pd.read_parquet(run_dir / "predictions.parquet")
    wm = pd.read_csv(run_dir / "window_metrics.csv")
    # window_metrics.csv keeps 10 significant digits
    for w in wm.itertuples():
        p = preds[(preds["model"] == w.model) & (preds["window"] == w.window)].dropna(subset=["label"])
        acc = ((p["p_up"] > 0.5).astype(float) == p["label"]).mean()
        assert w.accuracy == pytest.approx(acc, abs=1e-9)
        assert w.base_rate == pytest.approx(p["label"].mean(), abs=1e-9)
        assert w.base_rate == pytest.approx(p["label"].mean(), abs=1e-9)


def test_single_stock_study_trades_one_instrument_with_the_threshold_rule(tmp_path):
    import subprocess
    import sys

    from .conftest import ROOT

    proc = subprocess.run(
        [sys.executable, "-m", "backtests.run", "--out", str(tmp_path), "--symbols", "SH600519",
         "--start", "2019-01-01", "--end", "2023-12-31", "--test-start", "2022-01-01",
         "--set", "model.max_epochs=1", "--set", "model.hidden_size=8", "-q"],
        capture_output=True, text=True, cwd=ROOT, timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run_dir,) = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    cfg = tomllib.loads((run_dir / "config.toml").read_text())
    assert cfg["strategy"]["kind"] == "threshold" and cfg["universe"]["symbols"] == ["SH600519"]
    trades = pd.read_csv(run_dir / "trades.csv")
    assert set(trades["symbol"]) <= {"SH600519"}
    # holding the stock is shown beside the models, computed from the adjusted closes
    m = json.loads((run_dir / "metrics.json").read_text())
    hold = next(r for r in m["models"] if r["model"] == "Buy-and-hold SH600519")
    md = data_store.load(use_cache=False)
    rets = pd.read_csv(run_dir / "returns.csv", index_col="date", parse_dates=True)
    close = md.panel("close", adjusted=True)["SH600519"].ffill()
    expected = close.pct_change().reindex(rets.index).fillna(0.0)
    assert hold["total_return"] == pytest.approx(an.total_return(expected), abs=1e-12)
    assert (run_dir / "tearsheet.html").stat().st_size > 10_000
    # the verdict, the excess and the alpha are against holding the stock, not the CSI-300
    assert m["reference"] == "SH600519"
    assert "Against holding SH600519 it returned" in m["verdict"] and "the CSI-300" not in m["verdict"]
    main = next(r for r in m["models"] if r["model"] == m["model"])
    assert main["annual_excess_return"] == pytest.approx(main["annual_return"] - hold["annual_return"], abs=1e-12)
    assert hold["annual_excess_return"] == pytest.approx(0.0, abs=1e-12)
    assert "Buy-and-hold CSI-300" in [r["model"] for r in m["models"]] or "index" in [r["model"] for r in m["models"]]
    page = (run_dir / "tearsheet.html").read_text()
    assert "LSTM up/down signals on SH600519 (quick preset, threshold rule vs holding SH600519)" in page
    assert "The stock over the test days" in page and "One stock: no cross-section" in page
    assert "strategy vs SH600519" in page

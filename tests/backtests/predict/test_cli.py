"""``python -m backtests.predict`` on the real snapshot: a past day's lists checked against the data,
stale data refused with its fix, bad input refused, and ``--help`` at once."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from strategies.rules import round_fen

ROOT = Path(__file__).resolve().parents[3]
HEAVY = ("torch", "sklearn", "backtrader", "ray", "matplotlib", "quantstats", "pandas", "numpy", "exchange_calendars")
SYMBOLS = ["SH600519", "SH600036", "SH601318", "SZ000858", "SZ000333", "SH600276", "SZ300750", "SH601166",
           "SZ000001", "SH600030", "SH688981", "SH688111"]
SMALL = ["--symbols", ",".join(SYMBOLS), "--start", "2022-06-01", "--set", "walk_forward.train_days=242",
         "--set", "walk_forward.val_days=40", "--set", "walk_forward.test_days=60", "--set", "model.hidden_size=8",
         "--set", "model.max_epochs=2", "--set", "strategy.topk.k=4", "--set", "strategy.topk.max_replace=4",
         "--set", "strategy.topk.min_hold=0", "--set", "strategy.topk.buffer=0", "--set", "strategy.topk.hold_days=1",
         "--set", "strategy.topk.score_halflife=0", "--set", "strategy.topk.cost_aware=false",
         "--device", "cpu", "-q"]
D, F = pd.Timestamp("2025-06-20"), pd.Timestamp("2025-06-23")
# SH600000 and SH600016 are CSI-300 members outside the study: unscored holdings rank last and are sold;
# the SH600000 shares were bought on the session the orders are for, so T+1 keeps them
HOLDINGS = "symbol,shares,bought\nSH600000,2000,2025-06-23\nSH600016,1500,2025-06-02\n"


def _run(*args, timeout=900):
    return subprocess.run([sys.executable, "-m", "backtests.predict", *args], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout)


def _error_lines(proc):
    return [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]


@pytest.fixture(scope="module")
def as_of_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("predict")
    (tmp / "book.csv").write_text(HOLDINGS, encoding="utf-8")
    out = tmp / "runs"
    proc = _run("--as-of", "2025-06-20", "--holdings", str(tmp / "book.csv"), "--cash", "2000000", "--record", "1",
                "--audit", "--out", str(out), *SMALL)
    assert proc.returncode == 0, proc.stderr[-4000:]
    (folder,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    return folder, proc


@pytest.fixture(scope="module")
def bars():
    import data_store

    md = data_store.load(use_cache=False)
    return md, md.bars.assign(symbol=md.bars["symbol"].astype(str)).set_index(["date", "symbol"])


def test_the_folder_holds_the_lists_beside_the_record(as_of_run):
    folder, proc = as_of_run
    assert folder.name.endswith("predict-20250620-quick-lstm-SH600519_SH600036_SH601318")
    for f in ("targets.csv", "orders.csv", "record.csv", "record_windows.csv", "predictions.parquet",
              "window_metrics.csv", "summary.txt", "config.toml", "manifest.json", "audit.csv"):
        assert (folder / f).is_file(), f
    m = json.loads((folder / "manifest.json").read_text())
    assert m["days"] == {"decision": "2025-06-20", "fill": "2025-06-23", "fill_from": "the data's calendar",
                         "as_of": True, "latest_session": None}
    assert m["command"].startswith("python -m backtests.predict --as-of 2025-06-20")
    assert pd.Timestamp(m["fit"]["fit_label_end"]) < D and m["audit"]["passed"] is True
    # the run's layout: one record window, then the decision day alone, the embargo of a run between
    wm = pd.read_csv(folder / "window_metrics.csv", parse_dates=["test_start", "test_end", "val_end"])
    last = wm[wm["window"] == 1].iloc[0]
    assert (last["test_start"], last["test_end"]) == (D, D) and sorted(wm["window"].unique()) == [0, 1]
    first = wm[wm["window"] == 0].iloc[0]
    assert first["test_end"] < D and (first["test_end"] - first["test_start"]).days > 60
    assert "Orders for the open of 2025-06-23 (Monday), decided after the close of 2025-06-20" in proc.stdout
    rec = pd.read_csv(folder / "record.csv").set_index("model")
    assert rec.loc["lstm", "days"] >= 55
    assert np.isfinite(rec.loc["lstm", ["ic", "rank_ic", "ic_lo", "ic_hi"]].to_numpy(dtype=float)).all()


def test_targets_match_the_data_and_the_rules(as_of_run, bars):
    folder, _ = as_of_run
    md, b = bars
    t = pd.read_csv(folder / "targets.csv", keep_default_na=False, na_values=[""]).set_index("symbol")
    preds = pd.read_parquet(folder / "predictions.parquet")
    day = preds[(preds["date"] == D) & (preds["model"] == "lstm")].set_index("symbol")["p_up"]
    scored = t[t["score"].notna()]
    assert set(scored.index) == set(day.index) == set(SYMBOLS)  # every tradable member of the study
    assert np.allclose(scored["score"], day.reindex(scored.index), atol=1e-9)
    assert sorted(scored["rank"]) == list(range(1, len(SYMBOLS) + 1))
    assert (np.diff(scored.sort_values("rank")["score"]) <= 0).all()
    for sym, r in t.iterrows():
        close = b.loc[(D, sym), "close"]
        pct = 0.2 if sym.startswith(("SH688", "SZ30")) else 0.1
        assert r["ref_price"] == close
        assert (r["limit_up"], r["limit_down"]) == (round_fen(close * (1 + pct)), round_fen(close * (1 - pct)))
        assert (r["next_open"], r["next_close"]) == (b.loc[(F, sym), "open"], b.loc[(F, sym), "close"])
        # the realised return of the decision: adjusted open of 06-24 over the adjusted open of 06-23
        o1 = b.loc[(F, sym), "open"] * b.loc[(F, sym), "factor"]
        o2 = b.loc[(pd.Timestamp("2025-06-24"), sym), "open"] * b.loc[(pd.Timestamp("2025-06-24"), sym), "factor"]
        assert r["realised_ret"] == pytest.approx(o2 / o1 - 1, rel=1e-6)
        shares = r["target_shares"]
        if r["action"] == "buy":  # lots by board
            assert shares >= 200 and shares % 1 == 0 if sym.startswith("SH688") else shares % 100 == 0
    assert (t["action"] == "buy").sum() == 4 and t.loc["SH600000", "target_shares"] == 2_000
    assert t.loc["SH600016", "target_shares"] == 0 and t.loc["SH600016", "action"] == "sell"
    assert t["target_weight"].sum() == pytest.approx(
        (t["target_shares"] * t["ref_price"]).sum() / (2e6 + 2000 * 13.02 + 1500 * 4.79))


def test_orders_respect_lots_t_plus_1_and_show_the_realised_fill(as_of_run, bars):
    folder, _ = as_of_run
    o = pd.read_csv(folder / "orders.csv", keep_default_na=False, na_values=[""]).set_index("symbol")
    md, b = bars
    assert list(o["side"]) == ["sell", "sell", "buy", "buy", "buy", "buy"]
    t1 = o.loc["SH600000"]
    assert (t1["status"], t1["reason"], t1["requested"], t1["shares"]) == ("not placed", "t_plus_1", 2000, 0)
    assert t1["outcome"] == "t_plus_1"
    s = o.loc["SH600016"]
    value = 1500 * 4.79
    assert (s["status"], s["shares"], s["price"]) == ("place", 1500, 4.79) and s["value"] == pytest.approx(value)
    assert s["commission"] == 5.0 and s["stamp_duty"] == pytest.approx(value * 0.0005)
    buys = o[o["side"] == "buy"]
    for sym, r in buys.iterrows():
        assert r["status"] == "place" and r["price"] == b.loc[(D, sym), "close"]
        assert r["value"] == pytest.approx(r["shares"] * r["price"])
        assert r["commission"] == pytest.approx(max(5.0, r["value"] * 0.00025)) and r["stamp_duty"] == 0
        assert (r["shares"] >= 200) if sym.startswith("SH688") else (r["shares"] % 100 == 0)
        assert r["next_open"] == b.loc[(F, sym), "open"]
        if r["outcome"].startswith("filled"):
            assert r["fill_price"] == r["next_open"] and r["next_open"] < round_fen(r["price"] * 1.2)
    # all orders of the day fit the cash: the one sale's proceeds and the 2,000,000 CNY, less the 2% buffer
    assert (buys["value"] + buys["commission"]).sum() <= 2e6 + value - 5 - value * 0.0005


def test_without_as_of_the_snapshot_is_stale_and_refused_with_its_fix(tmp_path):
    out = tmp_path / "runs"
    proc = _run("--out", str(out), "-q", timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = _error_lines(proc)
    assert line.startswith("error: the data end on 2025-06-30 but the latest session of the exchange is")
    assert "python -m data_store update" in line
    assert not out.exists()


@pytest.mark.parametrize(("args", "needle"), [
    (["--as-of", "2025-06-21"], "--as-of 2025-06-21 is not a trading day of the data; the nearest are 2025-06-20 "
                                "and 2025-06-23"),
    (["--as-of", "2025-07-15"], "--as-of 2025-07-15 is after the data's last day 2025-06-30"),
    (["--as-of", "2025-06-20", "--holdings", "book.csv"], "--holdings needs --cash"),
    (["--as-of", "2025-06-20", "--cash", "nan"], "--cash = nan must be a finite amount"),
    (["--as-of", "2025-06-20", "--start", "2024-06-01", "--record", "3"], "start the data earlier (--start) or lower "
                                                                          "--record"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(tmp_path, args, needle):
    out = tmp_path / "runs"
    proc = _run("--out", str(out), "-q", *args, timeout=300)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = _error_lines(proc)
    assert needle in line
    assert not out.exists()


def test_help_answers_at_once_and_imports_nothing_heavy():
    code = ("import runpy, sys\nsys.argv = ['backtests.predict', '--help']\n"
            "try:\n    runpy.run_module('backtests.predict', run_name='__main__')\n"
            "except SystemExit as e:\n    code = e.code\n"
            f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules), 'EXIT', code)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.stdout.strip().splitlines()[-1] == "HEAVY [] EXIT 0", proc.stderr[-2000:]
    assert "--as-of" in proc.stdout and "--holdings" in proc.stdout and "python -m data_store update" in proc.stdout
    best = min(_timed(["--help"]) for _ in range(3))
    assert best < 1.0, f"--help took {best:.2f} s"


def _timed(args):
    t0 = time.perf_counter()
    proc = _run(*args, timeout=60)
    assert proc.returncode == 0
    return time.perf_counter() - t0


def test_every_option_has_help_text():
    from backtests.predict.cli import build_parser
    from backtests.run import build_parser as run_parser

    p = build_parser()
    assert [a.dest for a in p._actions if not a.help] == []
    shared = {a.dest for a in run_parser()._actions} - {"end", "test_start", "clean"}
    assert shared <= {a.dest for a in p._actions}  # the run's options, but its days

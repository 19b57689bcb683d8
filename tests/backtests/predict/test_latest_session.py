"""A cache updated to the latest session predicts for the next one: the update runs through a
recorded source (real bars of 2025-06-16..2026-05-08 served in akshare's own form) and "now" is
frozen, on the evening of 2026-05-08 and then after the next session has closed."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import data_store
from backtests.predict import session
from backtests.predict.cli import main
from data_store.cache.store import Cache
from data_store.sources import AkshareSource, CallPolicy
from data_store.sources.membership import IndexConstitutionSource
from data_store.update import run_update

from ...data_store.recorded_after import REAL_SYMBOLS, AfterAkshare

FAST = CallPolicy(timeout=5.0, retries=0, calls_per_minute=float("inf"))
SMALL = ["--symbols", ",".join(REAL_SYMBOLS), "--start", "2024-01-02", "--set", "walk_forward.train_days=242",
         "--set", "walk_forward.val_days=40", "--set", "walk_forward.test_days=40", "--set", "model.hidden_size=8",
         "--set", "model.max_epochs=2", "--set", "strategy.topk.k=1", "--set", "strategy.topk.max_replace=1",
         "--device", "cpu", "--record", "1", "-q"]


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    snap = data_store.load(use_cache=False)
    cache = Cache(tmp_path_factory.mktemp("cache") / "c", durable=False)
    rep = run_update(AkshareSource(FAST, module=AfterAkshare()), cache, snapshot=snap, symbols=list(REAL_SYMBOLS),
                     end="2026-05-08", membership=IndexConstitutionSource(), progress=False, probe=False)
    assert rep.complete, rep.as_dict()
    return cache.root


def _frozen(monkeypatch, moment):
    monkeypatch.setattr(session, "now", lambda: pd.Timestamp(moment, tz="UTC"))


def test_the_updated_cache_predicts_for_the_next_session(cache_dir, tmp_path, monkeypatch, capsys):
    _frozen(monkeypatch, "2026-05-08 09:00")  # 17:00 in Shanghai, Friday: the session has closed
    out = tmp_path / "runs"
    assert main(["--out", str(out), "--set", f"data.cache_dir={cache_dir}", *SMALL]) == 0
    (folder,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    m = json.loads((folder / "manifest.json").read_text())
    # Monday 2026-05-11 is beyond the data: the exchange calendar names it
    assert m["days"] == {"decision": "2026-05-08", "fill": "2026-05-11", "fill_from": "the XSHG exchange calendar",
                         "as_of": False, "latest_session": "2026-05-08"}
    assert m["data"]["end"] == "2026-05-08" and "snapshot" in m["data"]["sources"] and len(m["data"]["sources"]) > 1
    assert pd.Timestamp(m["fit"]["fit_label_end"]) < pd.Timestamp("2026-05-08")
    t = pd.read_csv(folder / "targets.csv")
    assert 2 <= t["score"].notna().sum() <= len(REAL_SYMBOLS) and "next_open" not in t  # nothing realised yet
    o = pd.read_csv(folder / "orders.csv")
    assert list(o["side"]) == ["buy"] and "outcome" not in o
    # SH688256 closed at 1182.53 on 2026-05-08 (the recorded missed-adjustment day); a STAR name:
    # 20% limits, 1182.53 x 1.2 = 1419.036 and x 0.8 = 946.024, to the fen
    star = t.set_index("symbol").loc["SH688256"]
    assert (star["ref_price"], star["limit_up"], star["limit_down"]) == (1182.53, 1419.04, 946.02)
    printed = capsys.readouterr().out
    assert "Orders for the open of 2026-05-11 (Monday), decided after the close of 2026-05-08" in printed


def test_once_the_next_session_has_closed_the_same_cache_is_stale(cache_dir, tmp_path, monkeypatch, capsys):
    _frozen(monkeypatch, "2026-05-11 07:30")  # 15:30 in Shanghai on Monday
    out = tmp_path / "runs"
    assert main(["--out", str(out), "--set", f"data.cache_dir={cache_dir}", *SMALL]) == 2
    err = capsys.readouterr().err
    assert "the data end on 2026-05-08 but the latest session of the exchange is 2026-05-11" in err
    assert "python -m data_store update" in err and not out.exists()
    # a past day of the same cache is still fine to ask for
    assert main(["--out", str(out), "--set", f"data.cache_dir={cache_dir}", "--as-of", "2026-05-07", *SMALL]) == 0

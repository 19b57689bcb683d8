"""Updates: per-symbol failures, resume, two concurrent updaters, both real sources end to end."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pandas as pd
import pytest

from data_store.cache.merge import merge_cache
from data_store.cache.store import Cache, bars_path
from data_store.sources import AkshareSource, CallPolicy, TushareSource
from data_store.update import run_update

from .recorded import FakeAkshare, FakeSource, FakeTushare, canonical, many_symbols

SNAP_END = pd.Timestamp("2025-06-20")
RANGE = dict(start="2025-06-16", end="2025-06-30")


def test_per_symbol_failure_then_resume(tmp_path):
    cache = Cache(tmp_path / "c")
    src = FakeSource(fail=("SZ000001",))
    rep = run_update(src, cache, snapshot_end=SNAP_END, symbols=["SH600519", "SZ000001", "600000"],
                     progress=False, **RANGE)
    assert rep.ok == ["SH600000", "SH600519"]
    assert list(rep.failed) == ["SZ000001"] and "ConnectionError: reset" in rep.failed["SZ000001"]
    assert rep.index_rows == 11 and rep.membership_rows == 2 and rep.bar_rows == 22
    assert cache.verify() == []  # consistent after a partial update
    files = cache.read_manifest()["files"]
    assert sorted(files) == ["bars/SH600000.parquet", "bars/SH600519.parquet", "index.parquet", "membership.parquet"]
    assert cache.read_manifest()["updates"][-1]["failed"] == {"SZ000001": rep.failed["SZ000001"]}
    # resume: the same command fetches only what is missing
    src2 = FakeSource()
    rep2 = run_update(src2, cache, snapshot_end=SNAP_END, symbols=["SH600519", "SZ000001", "600000"],
                      progress=False, **RANGE)
    assert src2.fetched == ["SZ000001"] and rep2.skipped == ["SH600000", "SH600519"] and rep2.complete
    assert cache.verify() == []
    assert len(cache.read().bars) == 33


def test_default_symbols_are_constituents_plus_snapshot_members(tmp_path):
    src = FakeSource()
    rep = run_update(src, Cache(tmp_path / "c"), snapshot_end=SNAP_END, default_symbols=["SH600000"],
                     progress=False, **RANGE)
    assert sorted(src.fetched) == ["SH600000", "SH600519", "SZ000001"] and rep.complete


def test_default_range_overlaps_snapshot(tmp_path):
    rep = run_update(FakeSource(), Cache(tmp_path / "c"), snapshot_end=SNAP_END, symbols=["SH600519"],
                     end="2025-06-30", progress=False)
    assert rep.start == pd.Timestamp("2025-06-06")  # 14 days of overlap to check and anchor factors


def _updater(root: str, symbols: list[str], bump: float, q) -> None:
    try:
        rep = run_update(FakeSource(delay=0.01, volume_bump=bump), Cache(root, lock_timeout=60),
                         snapshot_end=SNAP_END, symbols=symbols, progress=False, probe=False, **RANGE)
        # a symbol the other updater already finished counts as skipped (resume logic)
        q.put(("ok", len(rep.ok) + len(rep.skipped), sorted(rep.failed)))
    except BaseException as exc:  # reported to the parent
        q.put(("error", repr(exc), []))


def test_two_concurrent_updaters_leave_a_consistent_cache(tmp_path):
    root = str(tmp_path / "shared")
    a = many_symbols(30)
    b = many_symbols(45)[15:]  # 15 symbols in common
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    procs = [ctx.Process(target=_updater, args=(root, syms, bump, q)) for syms, bump in ((a, 1.0), (b, 2.0))]
    for p in procs:
        p.start()
    results = [q.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert sorted(results) == [("ok", 30, []), ("ok", 30, [])]
    cache = Cache(root)
    assert cache.verify() == []
    man = cache.read_manifest()
    assert man["symbols"] == sorted(set(a) | set(b)) and len(man["symbols"]) == 45
    assert man["rows"]["bars"] == 45 * 11 and len(man["updates"]) == 2
    contents = cache.read()
    assert len(contents.bars) == 45 * 11 and contents.problems == []
    # every file is whole: one writer's rows, never a mix (the bump tells the writers apart)
    bars = contents.bars
    base = canonical("SZ000001").set_index("date")["volume"]
    bump = (bars["volume"] - bars["date"].map(base)).groupby(bars["symbol"].astype(str)).agg(["nunique", "first"])
    assert (bump["nunique"] == 1).all()
    assert set(bump.loc[a[:15], "first"]) == {1.0} and set(bump.loc[b[-15:], "first"]) == {2.0}
    assert set(bump.loc[a[15:], "first"]) <= {1.0, 2.0}
    assert not list(Path(root).rglob("*.tmp"))


def test_akshare_update_end_to_end(short_snap, snap, tmp_path):
    cache = Cache(tmp_path / "c")
    ak = FakeAkshare(cons=snap.members("2025-06-30"))
    src = AkshareSource(CallPolicy(timeout=2, retries=0, calls_per_minute=float("inf")), module=ak)
    rep = run_update(src, cache, snapshot_end=short_snap.end, symbols=["SH600519", "SZ000001"],
                     progress=False, probe=False, **RANGE)
    assert sorted(rep.ok) == ["SH600519", "SZ000001"] and rep.complete
    man = cache.read_manifest()
    assert man["sources"] == ["akshare"] and man["files"]["index.parquet"]["library_versions"]["akshare"] == "1.19.5"
    md = merge_cache(short_snap, cache.root)
    # akshare volume is whole lots: within one lot of the snapshot, so the overlap agrees
    assert md.merge_report.empty and rep.membership_rows == 300
    assert md.members("2025-06-30") == snap.members("2025-06-30")
    got = md.bars[(md.bars["date"] == "2025-06-30") & (md.bars["symbol"] == "SH600519")]
    assert got["close"].item() == 1409.52 and got["volume"].item() == 3045700.0
    want = snap.bars[(snap.bars["date"] == "2025-06-30") & (snap.bars["symbol"] == "SH600519")]["factor"].item()
    assert got["factor"].item() == pytest.approx(want, rel=1e-5)


def test_tushare_update_end_to_end(short_snap, snap, tmp_path):
    cache = Cache(tmp_path / "c")
    ts = FakeTushare(adj_scale=1.1, weights={"2025-06-03": snap.members("2025-06-03")})
    policy = CallPolicy(timeout=2, retries=0, calls_per_minute=float("inf"))
    src = TushareSource(token="secret-token-xyz", policy=policy, module=ts)
    rep = run_update(src, cache, snapshot_end=short_snap.end, symbols=["SH600519", "SZ000001"],
                     progress=False, probe=False, **RANGE)
    assert sorted(rep.ok) == ["SH600519", "SZ000001"] and rep.complete and rep.membership_rows == 300
    assert "secret-token-xyz" not in cache.manifest_path.read_text()
    assert not any(b"secret-token-xyz" in p.read_bytes() for p in cache.root.rglob("*") if p.is_file())
    md = merge_cache(short_snap, cache.root)
    assert md.merge_report.empty and md.end == pd.Timestamp("2025-06-30")
    new = md.bars[md.bars["date"] > "2025-06-20"].reset_index(drop=True)
    truth = snap.bars[(snap.bars["date"] > "2025-06-20") & snap.bars["symbol"].isin(["SH600519", "SZ000001"])]
    pd.testing.assert_series_equal(new["close"], truth["close"].reset_index(drop=True))
    pd.testing.assert_series_equal(new["factor"], truth["factor"].reset_index(drop=True), rtol=1e-12)
    pd.testing.assert_series_equal(new["volume"], truth["volume"].reset_index(drop=True), rtol=1e-12)


def test_cache_read_by_bars_path_after_update(tmp_path):
    cache = Cache(tmp_path / "c")
    run_update(FakeSource(), cache, snapshot_end=SNAP_END, symbols=["SH600519"], progress=False, **RANGE)
    assert cache.read_file(bars_path("SH600519"))["close"].iloc[-1] == 1409.52


def test_resume_when_end_is_past_the_last_trading_day(tmp_path):
    """--end on a weekend (or today, before the close): the index's last day is the target, and a
    symbol whose last bar is earlier (suspended) still counts as done."""
    cache = Cache(tmp_path / "c")
    src = FakeSource()
    orig = src.bars
    src.bars = lambda sym, s, e: orig(sym, s, e).iloc[:-1] if sym == "SZ000001" else orig(sym, s, e)
    kw = dict(snapshot_end=SNAP_END, symbols=["SH600519", "SZ000001"], start="2025-06-16", end="2025-07-05",
              progress=False)
    assert sorted(run_update(src, cache, **kw).ok) == ["SH600519", "SZ000001"]
    assert cache.read_manifest()["files"]["bars/SZ000001.parquet"]["end"] == "2025-06-27"
    again = FakeSource()
    rep = run_update(again, cache, **kw)
    assert again.fetched == [] and rep.skipped == ["SH600519", "SZ000001"]

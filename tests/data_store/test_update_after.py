"""Updates beyond the snapshot on ten months of recorded real bars: members without bars, a
rebalance between two updates, the seam, a missed adjustment and a calendar gap."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data_store
from data_store.cache.merge import merge_cache
from data_store.cache.store import INDEX_FILE, Cache, bars_path
from data_store.jumps import spanning
from data_store.sources import AkshareSource, CallPolicy, TushareSource
from data_store.sources.membership import IndexConstitutionSource
from data_store.update import run_update

from .recorded_after import DELISTED, AfterAkshare, AfterTushare, members_on, real_bars, real_index

FAST = CallPolicy(timeout=5.0, retries=0, calls_per_minute=float("inf"))
SYMS = ["SH600519", "SZ000001", "SH688256"]


def _ak(**kw) -> AkshareSource:
    return AkshareSource(FAST, module=AfterAkshare(**kw))


def _update(cache, snap, src=None, **kw):
    kw.setdefault("end", "2026-05-08")
    kw.setdefault("membership", IndexConstitutionSource())
    return run_update(src or _ak(), cache, snapshot=snap, progress=False, probe=False, **kw)


def test_member_without_bars_is_recorded_and_the_update_finishes(snap, tmp_path):
    cache = Cache(tmp_path / "c", durable=False)
    rep = _update(cache, snap, symbols=[*SYMS, DELISTED])
    assert sorted(rep.ok) == sorted(SYMS) and rep.failed == {} and rep.complete
    why = rep.no_bars[DELISTED]
    assert why["reason"].startswith("left the CSI-300 on 2025-08-04")
    assert why["range"] == ["2025-06-16", "2026-05-08"] and why["last_bar"] is None  # no bars in the snapshot either
    assert cache.read_manifest()["no_bars"][DELISTED] == why
    # resume: nothing is asked again, the delisted symbol included
    ak = AfterAkshare()
    again = _update(cache, snap, AkshareSource(FAST, module=ak), symbols=[*SYMS, DELISTED])
    assert [c for c in ak.calls if c[0] == "stock_zh_a_hist"] == [] and len(again.skipped) == 4 and again.complete


def test_a_symbol_that_trades_again_leaves_the_no_bars_table(snap, tmp_path):
    cache = Cache(tmp_path / "c", durable=False)
    _update(cache, snap, _ak(today="2025-11-28"), symbols=["SH600519", "SZ000001"], end="2025-11-28")
    _update(cache, snap, _ak(today="2025-12-31", empty=("SZ000001",)), symbols=["SZ000001"], end="2025-12-31")
    assert list(cache.read_manifest()["no_bars"]) == ["SZ000001"]
    rep = _update(cache, snap, _ak(), symbols=["SZ000001"], end="2026-05-08")
    assert rep.ok == ["SZ000001"] and cache.read_manifest()["no_bars"] == {}


def test_default_symbols_follow_the_dated_membership(snap, tmp_path):
    """Without --symbols an update fetches every member of any day of the range: the leaver of
    2025-08-04 and the joiners of 2025-12-08 included."""
    ak = AfterAkshare()
    src = AkshareSource(FAST, module=ak)
    rep = _update(Cache(tmp_path / "c", durable=False), snap, src, start="2025-06-16")
    asked = {("SH" if c[1]["symbol"].startswith("6") else "SZ") + c[1]["symbol"] for c in ak.calls
             if c[0] == "stock_zh_a_hist"}
    joiners = set(members_on("2025-12-08")) - set(members_on("2025-12-05"))
    assert DELISTED in asked and joiners <= asked and "SH601298" in asked
    assert len(rep.ok) + len(rep.no_bars) == len(asked) and list(rep.no_bars) == [DELISTED]


def test_rebalance_between_two_updates(snap, tmp_path):
    """Two updates, before and after the 2025-12-08 review: the dated history puts every change on
    its day; the vendor's list of each update day alone dates them on the update day."""
    dated, observed = Cache(tmp_path / "dated", durable=False), Cache(tmp_path / "obs", durable=False)
    for today in ("2025-11-28", "2026-05-08"):
        _update(dated, snap, _ak(today=today), symbols=SYMS, end=today)
        _update(observed, snap, _ak(today=today), symbols=SYMS, end=today, membership=None)
    md, mo = merge_cache(snap, dated.root), merge_cache(snap, observed.root)
    for d in ("2025-08-01", "2025-08-04", "2025-12-05", "2025-12-08", "2026-05-08"):
        assert md.members(d) == members_on(d), d
    joiners = sorted(set(members_on("2025-12-08")) - set(members_on("2025-12-05")))
    assert len(joiners) == 11 and not set(joiners) & set(mo.members("2026-05-07"))  # observed: late
    assert set(joiners) <= set(mo.members("2026-05-08"))
    # every span names its source; the merge cross-checks the lists against the history
    sp = md.membership.spans
    new = sp[sp["symbol"].isin(joiners) & (sp["start"] == pd.Timestamp("2025-12-08"))]
    assert len(new) == 11 and set(new["source"]) == {"index-constitution 1.0.1"}
    assert md.merge_report[md.merge_report["kind"] == "membership"].empty
    entry = dated.read_manifest()["files"]["membership_spans.parquet"]
    assert entry["agreement_with_snapshot"]["member_days_differ"] == 0
    assert entry["span_sources"] == {"index-constitution 1.0.1": 1225} and entry["as_of"] == "2026-10-19"
    assert {c["date"] for c in entry["changes_after_snapshot"]} >= {"2025-08-04", "2025-12-08"}


def test_the_default_range_overlaps_the_snapshot_and_anchors_the_factor(snap, tmp_path, caplog):
    """tushare's adj_factor has another base than the snapshot's (x1.1 here): the default start
    overlaps the snapshot, so the merge rescales it, checks the overlap and warns about nothing."""
    cache = Cache(tmp_path / "c", durable=False)
    src = TushareSource(token="t", policy=FAST, module=AfterTushare(adj_scale=1.1))
    rep = _update(cache, snap, src, symbols=SYMS)
    assert rep.start == pd.Timestamp("2025-06-16") and rep.complete
    with caplog.at_level("WARNING"):
        md = merge_cache(snap, cache.root)
    assert md.merge_report.empty and "factor base is not checked" not in caplog.text
    f = md.bars.loc[(md.bars["symbol"] == "SH600519") & (md.bars["date"] == "2026-05-08"), "factor"].item()
    assert f == pytest.approx(7.491968, rel=1e-6)  # the snapshot's base, not 1.1x


def test_a_later_start_still_overlaps_for_snapshot_symbols(snap, tmp_path, caplog):
    ak = AfterAkshare()
    cache = Cache(tmp_path / "c", durable=False)
    _update(cache, snap, AkshareSource(FAST, module=ak), symbols=SYMS, start="2025-07-01")
    starts = {c[1]["symbol"]: c[1]["start_date"] for c in ak.calls if c[0] == "stock_zh_a_hist"}
    assert set(starts.values()) == {"20250616"}
    with caplog.at_level("WARNING"):
        assert merge_cache(snap, cache.root).merge_report.empty
    assert "factor base is not checked" not in caplog.text


def test_cached_bars_without_overlap_are_named_at_the_seam(snap, tmp_path, caplog):
    cache = Cache(tmp_path / "c", durable=False)
    cache.commit(bars_path("SH600519"), real_bars("SH600519", start="2025-07-01"), kind="bars", source="x",
                 symbol="SH600519")
    cache.commit(INDEX_FILE, real_index(), kind="index", source="x")
    with caplog.at_level("WARNING"):
        md = merge_cache(snap, cache.root)
    assert "1 symbol(s) traded in the snapshot's last 10 days but their cached bars start after it" in caplog.text
    assert md.merge_report[["symbol", "field"]].values.tolist() == [["SH600519", "seam"]]


def test_missed_adjustment_is_flagged_by_symbol_and_day(snap, tmp_path):
    cache = Cache(tmp_path / "c", durable=False)
    _update(cache, snap, symbols=SYMS)
    md = merge_cache(snap, cache.root)
    j = md.anomalies.jumps
    last = j[j["date"] > snap.end]
    assert last[["date", "symbol", "prev_close", "open"]].values.tolist() == [
        [pd.Timestamp("2026-05-08"), "SH688256", 1868.0, 1217.03]]
    # the move is the larger of the open's and the close's
    assert last["limit"].item() == 0.2 and last["move"].item() == pytest.approx(1182.53 / 1868 - 1)
    assert md.anomalies.suspect_jump == len(snap.anomalies.jumps) + 1
    mask = md.suspect_jumps()
    assert mask.loc["2026-05-08", "SH688256"] and int(mask.to_numpy().sum()) == md.anomalies.suspect_jump
    # the real dividend of SH600519 on 2025-12-19 changed the factor: no flag
    assert not mask.loc["2025-12-19", "SH600519"]
    # a 1-day label decided on d fills at the open of d+1 and exits at the open of d+2
    label = spanning(mask, 2, 2)
    cal = md.calendar
    t = cal.get_loc(pd.Timestamp("2026-05-08"))
    assert label.loc[cal[t - 2], "SH688256"] and not label.loc[cal[t - 1], "SH688256"]
    feat = spanning(mask, -19, 0)  # 20 closes up to d
    assert feat.loc[cal[t], "SH688256"] and not feat.loc[cal[t - 1], "SH688256"]


def test_calendar_gap_at_write_is_reported_and_the_cache_loads(snap, tmp_path):
    """The index vendor lacks 2026-01-05; bars of that day are not cached, the gap is reported
    (a failure: run again once the index has it) and every load works."""
    cache = Cache(tmp_path / "c", durable=False)
    rep = _update(cache, snap, _ak(index_drop=("2026-01-05",)), symbols=SYMS)
    assert rep.calendar_gaps == {"2026-01-05": 3} and not rep.complete and sorted(rep.ok) == sorted(SYMS)
    md = data_store.load(cache_dir=cache.root)
    assert pd.Timestamp("2026-01-05") not in md.calendar and md.end == pd.Timestamp("2026-05-08")
    assert cache.verify(snap.calendar) == []


def test_spanning_edges():
    mask = pd.DataFrame({"A": [False, False, True, False, False]}, index=pd.bdate_range("2026-01-05", periods=5))
    assert spanning(mask, 2, 2)["A"].tolist() == [True, False, False, False, False]
    assert spanning(mask, 0, 0)["A"].tolist() == mask["A"].tolist()
    assert spanning(mask, -1, 1)["A"].tolist() == [False, True, True, True, False]
    with pytest.raises(ValueError, match="first must be <= last"):
        spanning(mask, 1, 0)
    assert np.asarray(spanning(mask.iloc[:0], 0, 3)).size == 0

"""Merging the immutable snapshot with the cache: appended days, overlap checks, membership."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import pytest

import data_store
from data_store.cache.merge import merge_cache
from data_store.cache.store import INDEX_FILE, MEMBERSHIP_FILE, Cache, bars_path

from .recorded import canonical, canonical_index


def _cache(root, bars: dict[str, pd.DataFrame], index: pd.DataFrame | None = None,
           members: pd.DataFrame | None = None) -> Cache:
    c = Cache(root)
    for sym, df in bars.items():
        c.commit(bars_path(sym), df, kind="bars", source="fake", symbol=sym)
    if index is not None:
        c.commit(INDEX_FILE, index, kind="index", source="fake")
    if members is not None:
        c.commit(MEMBERSHIP_FILE, members, kind="membership", source="fake")
    return c


def test_appends_later_days_exactly(snap, short_snap, tmp_path):
    """Snapshot cut at 06-20 + cache of 06-16..06-30 == the real snapshot on the appended days."""
    c = _cache(tmp_path / "c", {s: canonical(s) for s in ("SH600519", "SZ000001")}, canonical_index())
    md = merge_cache(short_snap, c.root)
    assert md.end == pd.Timestamp("2025-06-30") and len(md.calendar) == len(short_snap.calendar) + 6
    assert md.merge_report.empty
    new = md.bars[md.bars["date"] > pd.Timestamp("2025-06-20")]
    assert len(new) == 12 and sorted(new["symbol"].astype(str).unique()) == ["SH600519", "SZ000001"]
    truth = snap.bars[(snap.bars["date"] > pd.Timestamp("2025-06-20"))
                      & snap.bars["symbol"].isin(["SH600519", "SZ000001"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(
        new.reset_index(drop=True).assign(symbol=new["symbol"].astype(str).to_numpy()),
        truth.assign(symbol=truth["symbol"].astype(str)),
    )
    # canonical invariants still hold on the merged frame
    data_store.validate_bars(md.bars, "merged", md.calendar)
    assert list(md.bars["symbol"].cat.categories) == sorted(md.bars["symbol"].cat.categories)
    assert md.panel("close").loc["2025-06-30", "SH600519"] == 1409.52
    assert np.isnan(md.panel("close").loc["2025-06-30", "SH600000"])  # not fetched: missing, not filled
    assert md.sources == ("snapshot", "cache:fake")
    assert "## Cache" in md.provenance
    # the snapshot object itself is untouched
    assert short_snap.end == pd.Timestamp("2025-06-20") and short_snap.merge_report.empty


def test_overlap_disagreement_reported_snapshot_kept(short_snap, tmp_path, caplog):
    bad = canonical("SH600519")
    bad.loc[bad["date"] == "2025-06-19", "close"] = 1427.00  # snapshot: 1426.00
    bad.loc[bad["date"] == "2025-06-17", "volume"] += 5000  # beyond a lot
    bad.loc[bad["date"] == "2025-06-18", "volume"] += 60  # within a lot: agrees
    c = _cache(tmp_path / "c", {"SH600519": bad}, canonical_index())
    with caplog.at_level(logging.WARNING):
        md = merge_cache(short_snap, c.root)
    rep = md.merge_report.sort_values("date").reset_index(drop=True)
    assert rep[["kind", "symbol", "field"]].to_dict("list") == {
        "kind": ["bars", "bars"], "symbol": ["SH600519", "SH600519"], "field": ["volume", "close"]}
    assert list(rep["date"]) == [pd.Timestamp("2025-06-17"), pd.Timestamp("2025-06-19")]
    assert rep.loc[1, "snapshot"] == 1426.0 and rep.loc[1, "cache"] == 1427.0
    assert rep.loc[0, "snapshot"] == 2723151.0 and rep.loc[0, "cache"] == 2728151.0
    kept = md.bars[(md.bars["date"] == "2025-06-19") & (md.bars["symbol"] == "SH600519")]
    assert kept["close"].item() == 1426.0
    assert "disagrees with the snapshot (snapshot kept) on 2 item(s)" in caplog.text


def test_factor_base_rescaled_at_seam(snap, short_snap, tmp_path):
    other_base = canonical("SH600519").assign(factor=lambda f: f["factor"] * 1.37)
    c = _cache(tmp_path / "c", {"SH600519": other_base}, canonical_index())
    md = merge_cache(short_snap, c.root)
    assert md.merge_report.empty
    got = md.bars.loc[(md.bars["symbol"] == "SH600519") & (md.bars["date"] > "2025-06-20"), "factor"].to_numpy()
    want = snap.bars.loc[(snap.bars["symbol"] == "SH600519") & (snap.bars["date"] > "2025-06-20"), "factor"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_index_disagreement_and_bars_beyond_index(short_snap, tmp_path):
    idx = canonical_index()
    idx.loc[idx["date"] == "2025-06-18", "close"] += 1.0
    idx = idx[idx["date"] <= "2025-06-26"]  # the index lags the bars by two days
    c = _cache(tmp_path / "c", {"SH600519": canonical("SH600519")}, idx)
    md = merge_cache(short_snap, c.root)
    assert md.end == pd.Timestamp("2025-06-26")
    rep = md.merge_report
    row = rep[rep["kind"] == "index"].iloc[0]
    assert (row["date"], row["field"], row["snapshot"], row["cache"]) == (
        pd.Timestamp("2025-06-18"), "close", 3874.9707, 3875.9707)
    beyond = rep[(rep["kind"] == "bars") & (rep["field"] == "date")].iloc[0]
    assert beyond["symbol"] == "SH600519" and beyond["cache"] == 2.0 and "left out" in beyond["note"]
    assert md.bars["date"].max() == pd.Timestamp("2025-06-26")


def test_membership_observations_extend_spans(snap, tmp_path):
    """A list dated after the snapshot closes spans of dropped names and opens new ones."""
    last = snap.members(snap.end)
    assert len(last) == 300 and "SH600519" in last
    listed = sorted((set(last) - {"SH600519"}) | {"SH603999"})
    obs = pd.DataFrame({"date": pd.Timestamp("2025-07-01"), "symbol": listed, "name": "n"})
    before = pd.DataFrame({"date": pd.Timestamp("2025-06-30"), "symbol": sorted(set(last) - {"SZ000001"}), "name": "n"})
    c = _cache(tmp_path / "c", {}, None, pd.concat([before, obs], ignore_index=True))
    md = merge_cache(snap, c.root)
    assert "SH600519" in md.members("2025-06-30") and "SH600519" not in md.members("2025-07-01")
    assert "SH603999" in md.members("2025-07-01") and "SH603999" not in md.members("2025-06-30")
    assert len(md.members("2025-07-01")) == 300
    # the 06-30 list disagrees with the snapshot on SZ000001: reported, snapshot kept
    rep = md.merge_report
    assert rep[["kind", "symbol", "field", "snapshot", "cache"]].values.tolist() == [
        ["membership", "SZ000001", "member", 1.0, 0.0]]
    assert "SZ000001" in md.members("2025-06-30")
    assert md.bars is snap.bars and md.anomalies is snap.anomalies  # nothing appended


def test_load_merges_env_cache(short_snap, tmp_path, monkeypatch):
    """data_store.load() finds the cache through $CSI300_CACHE_DIR and the given folder."""
    root = tmp_path / "envcache"
    _cache(root, {"SH600519": canonical("SH600519")}, canonical_index())
    monkeypatch.setattr(data_store.loader, "load_snapshot", lambda validate=True: short_snap)
    monkeypatch.setenv("CSI300_CACHE_DIR", str(root))
    md = data_store.load()
    assert md.end == pd.Timestamp("2025-06-30") and "cache:fake" in md.sources
    assert data_store.load(use_cache=False) is short_snap
    assert data_store.load(cache_dir=tmp_path / "none").end == pd.Timestamp("2025-06-20")


def test_cached_day_off_calendar_is_a_validation_error(short_snap, tmp_path):
    bars = canonical("SH600519")
    bars.loc[bars.index[-1], "date"] = pd.Timestamp("2025-06-29")  # a Sunday
    c = _cache(tmp_path / "c", {"SH600519": bars}, canonical_index())
    with pytest.raises(data_store.DataValidationError) as ei:
        merge_cache(short_snap, c.root)
    assert ei.value.rule.startswith("every date is a trading day") and ei.value.count == 1
    assert str(c.root) in ei.value.source


def test_incomplete_member_list_ignored(snap, tmp_path):
    obs = pd.DataFrame({"date": pd.Timestamp("2025-07-01"), "symbol": ["SH600519", "SZ000001"], "name": "n"})
    c = _cache(tmp_path / "c", {}, None, obs)
    md = merge_cache(snap, c.root)
    assert md.members("2025-07-01") == snap.members("2025-06-30")
    assert md.merge_report[["kind", "field", "cache"]].values.tolist() == [["membership", "list size", 2.0]]


def test_cut_snapshot_plus_cache_reproduces_the_snapshot(snap, tmp_path):
    """The real snapshot cut at 2025-05-30, plus a cache holding its real rows from 2025-05-16
    (two weeks of overlap) for every symbol: the merge equals the whole snapshot exactly."""
    cut = snap.slice(end="2025-05-30")
    c = Cache(tmp_path / "c", durable=False)  # ~700 files: skip the fsyncs
    tail = snap.bars[snap.bars["date"] >= "2025-05-16"]
    files = {bars_path(str(sym)): g.assign(symbol=str(sym)).reset_index(drop=True)
             for sym, g in tail.groupby(tail["symbol"].astype(str))}
    c.commit_many(files, kind="bars", source="snapshot copy", symbols=True)
    c.commit(INDEX_FILE, snap.index[snap.index["date"] >= "2025-05-16"].reset_index(drop=True),
             kind="index", source="snapshot copy")
    md = merge_cache(cut, c.root)
    assert md.merge_report.empty
    pd.testing.assert_frame_equal(md.index, snap.index)
    assert list(md.bars.columns) == list(snap.bars.columns) and len(md.bars) == len(snap.bars)
    for col in ("date", "open", "high", "low", "close", "volume", "factor"):
        np.testing.assert_array_equal(md.bars[col].to_numpy(), snap.bars[col].to_numpy(), err_msg=col)
    assert list(md.bars["symbol"].cat.categories) == list(snap.bars["symbol"].cat.categories)
    np.testing.assert_array_equal(md.bars["symbol"].cat.codes.to_numpy(), snap.bars["symbol"].cat.codes.to_numpy())
    assert md.anomalies == snap.anomalies


def test_missing_cache_is_fast_noop(snap, tmp_path):
    root = tmp_path / "never-created"
    t0 = time.perf_counter()
    assert merge_cache(snap, root) is snap
    assert time.perf_counter() - t0 < 0.05
    assert not root.exists()  # loading never creates the folder
    root.mkdir()
    assert merge_cache(snap, root) is snap  # a folder without manifest.json is an empty cache

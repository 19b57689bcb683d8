"""Checking and repairing a cache folder: damaged files named with the repair, rebuilt manifest."""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from data_store.cache.merge import merge_cache
from data_store.cache.store import INDEX_FILE, REPAIR_COMMAND, bars_path
from data_store.errors import CacheError

from .test_cache import _filled


def test_truncated_file_names_file_and_repair(snap, tmp_path):
    c = _filled(tmp_path / "c")
    bad = c.root / "bars" / "SZ000001.parquet"
    data = bad.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(CacheError) as ei:
        merge_cache(snap, c.root)
    msg = str(ei.value)
    assert str(bad) in msg and REPAIR_COMMAND in msg and "truncated or altered" in msg
    # the other files stay usable
    assert len(c.read_file(bars_path("SH600519"))) == 11
    assert len(c.read_file(INDEX_FILE)) == 11
    skipped = c.read(on_corrupt="skip")
    assert list(skipped.bars["symbol"].unique()) == ["SH600519"]
    assert [p for p, _ in skipped.problems] == ["bars/SZ000001.parquet"]
    assert [p for p, _ in c.verify()] == ["bars/SZ000001.parquet"]
    # the documented repair drops exactly that file
    assert c.repair() == ["bars/SZ000001.parquet"]
    assert not bad.exists() and c.verify() == []
    assert sorted(c.read_manifest()["files"]) == ["bars/SH600519.parquet", "index.parquet"]


def test_garbage_with_matching_size_is_caught(tmp_path):
    c = _filled(tmp_path / "c")
    p = c.root / "index.parquet"
    p.write_bytes(b"\0" * p.stat().st_size)
    with pytest.raises(CacheError, match=r"index.parquet is unusable .*sha256"):
        c.read_file(INDEX_FILE)


def test_corrupt_manifest_and_rebuild(snap, tmp_path):
    c = _filled(tmp_path / "c")
    c.manifest_path.write_text('{"format": 1, "files": {"bars/SH6', encoding="utf-8")
    with pytest.raises(CacheError) as ei:
        merge_cache(snap, c.root)
    assert str(c.manifest_path) in str(ei.value) and REPAIR_COMMAND in str(ei.value)
    assert c.repair() == []
    m = c.read_manifest()
    assert sorted(m["files"]) == ["bars/SH600519.parquet", "bars/SZ000001.parquet", "index.parquet"]
    assert m["files"]["bars/SZ000001.parquet"]["rows"] == 11
    assert c.verify() == []


def test_orphan_temp_files_removed_by_repair(tmp_path):
    c = _filled(tmp_path / "c")
    stray = c.root / "bars" / ".SH600519.parquet.abc.tmp"
    stray.write_bytes(b"partial")
    assert c.repair() == ["bars/.SH600519.parquet.abc.tmp"]
    assert not stray.exists()


def test_state_reports_damage_without_raising(tmp_path):
    c = _filled(tmp_path / "c")
    os.truncate(c.root / "index.parquet", 10)
    st = c.state()
    assert st["exists"] and st["files"] == 3 and st["rows"]["bars"] == 22
    assert [p for p, _ in st["problems"]] == ["index.parquet"]
    assert pq.read_table(c.root / "bars" / "SH600519.parquet").num_rows == 11

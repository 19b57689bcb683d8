"""The cache folder: location, atomic commits, manifest, corruption and repair, locking."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from filelock import FileLock

from data_store import cache as cache_mod
from data_store.cache import (
    ENV_VAR,
    INDEX_FILE,
    REPAIR_COMMAND,
    Cache,
    bars_path,
    default_cache_dir,
    merge_cache,
    resolve_cache_dir,
    sha256_file,
)
from data_store.errors import CacheError

from .recorded import canonical, canonical_index


def _filled(root: Path) -> Cache:
    c = Cache(root)
    for sym in ("SH600519", "SZ000001"):
        c.commit(bars_path(sym), canonical(sym), kind="bars", source="fake", symbol=sym,
                 library_versions={"fake": "1"})
    c.commit(INDEX_FILE, canonical_index(), kind="index", source="fake")
    return c


def test_location_precedence(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve_cache_dir(tmp_path / "flag") == tmp_path / "flag"
    assert resolve_cache_dir(None) == tmp_path / "env"
    monkeypatch.delenv(ENV_VAR)
    assert resolve_cache_dir(None) == default_cache_dir()
    assert default_cache_dir().name == "csi300-toolkit"


def test_round_trip_and_manifest(tmp_path):
    c = _filled(tmp_path / "c")
    got = c.read_file(bars_path("SH600519"))
    pd.testing.assert_frame_equal(got, canonical("SH600519"))
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    e = m["files"]["bars/SH600519.parquet"]
    assert e["rows"] == 11 and e["start"] == "2025-06-16" and e["end"] == "2025-06-30"
    assert e["sha256"] == sha256_file(tmp_path / "c" / "bars" / "SH600519.parquet")
    assert e["source"] == "fake" and e["symbol"] == "SH600519" and e["fetched_at"]
    assert e["library_versions"]["fake"] == "1" and e["library_versions"]["pandas"] == pd.__version__
    assert m["symbols"] == ["SH600519", "SZ000001"]
    assert m["rows"] == {"bars": 22, "index": 11, "membership": 0}
    assert m["start"] == "2025-06-16" and m["end"] == "2025-06-30" and m["sources"] == ["fake"]
    contents = c.read()
    assert len(contents.bars) == 22 and len(contents.index) == 11 and contents.problems == []
    assert list(contents.bars["symbol"].cat.categories) == ["SH600519", "SZ000001"]
    # no temp files left behind
    assert not list((tmp_path / "c").rglob("*.tmp"))


def test_missing_cache_is_fast_noop(snap, tmp_path):
    root = tmp_path / "never-created"
    t0 = time.perf_counter()
    assert merge_cache(snap, root) is snap
    assert time.perf_counter() - t0 < 0.05
    assert not root.exists()  # loading never creates the folder
    root.mkdir()
    assert merge_cache(snap, root) is snap  # a folder without manifest.json is an empty cache


def test_failed_write_keeps_old_file(tmp_path, monkeypatch):
    c = _filled(tmp_path / "c")
    before = sha256_file(c.root / "bars" / "SH600519.parquet")

    def boom(table, where, **kw):
        Path(where).write_bytes(b"PAR1 half")
        raise OSError("disk full")

    monkeypatch.setattr(cache_mod.pq, "write_table", boom)
    with pytest.raises(OSError, match="disk full"):
        c.commit(bars_path("SH600519"), canonical("SH600519").head(3), kind="bars", source="fake", symbol="SH600519")
    assert sha256_file(c.root / "bars" / "SH600519.parquet") == before
    assert len(c.read_file(bars_path("SH600519"))) == 11
    assert not list(c.root.rglob("*.tmp"))


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


def test_lock_timeout_is_a_cache_error(tmp_path):
    c = _filled(tmp_path / "c")
    c.lock_timeout = 0.2
    with FileLock(str(c.root / ".lock")):
        # filelock is re-entrant within a process for the same object only; a new FileLock in
        # this process on the same path blocks like another process would
        with pytest.raises(CacheError, match="stayed locked for 0.2 s"):
            c.commit(bars_path("SH600519"), canonical("SH600519"), kind="bars", source="fake", symbol="SH600519")


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


def test_read_only_cache_is_read_without_lock(snap, tmp_path, monkeypatch):
    c = _filled(tmp_path / "c")

    def denied(self, *a, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(FileLock, "acquire", denied)
    assert len(c.read().bars) == 22  # a reader goes on
    with pytest.raises(CacheError, match="must be writable to update it"):
        c.commit(bars_path("SH600519"), canonical("SH600519"), kind="bars", source="fake", symbol="SH600519")

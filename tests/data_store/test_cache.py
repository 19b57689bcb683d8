"""The cache folder: location, atomic commits, manifest, corruption and repair, locking."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from data_store.cache import store as cache_mod
from data_store.cache.store import (
    ENV_VAR,
    INDEX_FILE,
    Cache,
    bars_path,
    default_cache_dir,
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
    assert m["rows"] == {"bars": 22, "index": 11, "membership": 0, "spans": 0}
    assert m["start"] == "2025-06-16" and m["end"] == "2025-06-30" and m["sources"] == ["fake"]
    contents = c.read()
    assert len(contents.bars) == 22 and len(contents.index) == 11 and contents.problems == []
    assert list(contents.bars["symbol"].cat.categories) == ["SH600519", "SZ000001"]
    # no temp files left behind
    assert not list((tmp_path / "c").rglob("*.tmp"))




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








def test_lock_timeout_is_a_cache_error(tmp_path):
    c = _filled(tmp_path / "c")
    c.lock_timeout = 0.2
    with FileLock(str(c.root / ".lock")):
        # filelock is re-entrant within a process for the same object only; a new FileLock in
        # this process on the same path blocks like another process would
        with pytest.raises(CacheError, match="stayed locked for 0.2 s"):
            c.commit(bars_path("SH600519"), canonical("SH600519"), kind="bars", source="fake", symbol="SH600519")






def test_read_only_cache_is_read_without_lock(snap, tmp_path, monkeypatch):
    c = _filled(tmp_path / "c")

    def denied(self, *a, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(FileLock, "acquire", denied)
    assert len(c.read().bars) == 22  # a reader goes on
    with pytest.raises(CacheError, match="must be writable to update it"):
        c.commit(bars_path("SH600519"), canonical("SH600519"), kind="bars", source="fake", symbol="SH600519")

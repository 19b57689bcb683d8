"""Checking a cache folder against its manifest, repairing it, and summarising it for ``info``.

Every function takes a :class:`~data_store.cache.Cache` and works under its lock.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from .cache import Cache
from .errors import CacheError
from .manifest import (
    BARS_DIR,
    INDEX_FILE,
    LOCK_FILE,
    MANIFEST,
    MEMBERSHIP_COLUMNS,
    MEMBERSHIP_FILE,
    empty_manifest,
    sha256_file,
    totals,
)
from .schema import BAR_COLUMNS, INDEX_COLUMNS

log = logging.getLogger(__name__)


def verify(cache: Cache) -> list[tuple[str, str]]:
    """Check every file of the manifest; return ``(relpath, problem)`` for the damaged ones."""
    problems = []
    with cache.locked(read_only_ok=True):
        try:
            manifest = cache.read_manifest()
        except CacheError as exc:
            return [(MANIFEST, str(exc))]
        for relpath, entry in sorted(manifest["files"].items()):
            try:
                cache.read_file(relpath, entry)
            except CacheError as exc:
                problems.append((relpath, str(exc)))
    return problems


def repair(cache: Cache) -> list[str]:
    """Drop damaged files (and their manifest entries) and stray temp files; keep the rest.

    A corrupt manifest is rebuilt from the parquet files that still read as canonical
    frames. Returns the relative paths removed; run ``update`` afterwards to refetch them.
    """
    removed: list[str] = []
    with cache.locked():
        try:
            manifest = cache.read_manifest()
        except CacheError:
            log.warning("manifest %s is corrupt; rebuilding it from the readable files", cache.manifest_path)
            manifest = _rebuild_manifest(cache, removed)
        for relpath, entry in sorted(manifest["files"].items()):
            try:
                cache.read_file(relpath, entry)
            except CacheError as exc:
                log.warning("removing %s: %s", relpath, exc)
                with contextlib.suppress(FileNotFoundError):
                    (cache.root / relpath).unlink()
                del manifest["files"][relpath]
                removed.append(relpath)
        for tmp in cache.root.rglob(".*.tmp"):
            tmp.unlink()
            removed.append(str(tmp.relative_to(cache.root)))
        cache.write_manifest(manifest)
    return removed


def _rebuild_manifest(cache: Cache, removed: list[str]) -> dict[str, Any]:
    manifest = empty_manifest()
    candidates = [cache.root / INDEX_FILE, cache.root / MEMBERSHIP_FILE,
                  *sorted((cache.root / BARS_DIR).glob("*.parquet"))]
    for path in candidates:
        if not path.is_file():
            continue
        relpath = str(path.relative_to(cache.root))
        try:
            df = pq.read_table(path).to_pandas()
            kind = "index" if relpath == INDEX_FILE else "membership" if relpath == MEMBERSHIP_FILE else "bars"
            needed = {"index": INDEX_COLUMNS, "membership": MEMBERSHIP_COLUMNS, "bars": BAR_COLUMNS}[kind]
            if any(c not in df.columns for c in needed):
                raise ValueError(f"columns {list(df.columns)}")
        except Exception as exc:
            log.warning("removing %s: unreadable (%s)", relpath, exc)
            path.unlink()
            removed.append(relpath)
            continue
        dates = pd.to_datetime(df["date"])
        manifest["files"][relpath] = {
            "kind": kind, "source": "unknown (manifest rebuilt)", "rows": len(df),
            "start": str(dates.min().date()) if len(df) else None,
            "end": str(dates.max().date()) if len(df) else None,
            "sha256": sha256_file(path), "fetched_at": None, "library_versions": {},
            **({"symbol": path.stem} if kind == "bars" else {}),
        }
    return manifest


def state(cache: Cache) -> dict[str, Any]:
    """A summary for ``info``: folder, files, sources, range, damaged files (never raises)."""
    out: dict[str, Any] = {"dir": str(cache.root), "exists": cache.exists()}
    if not out["exists"]:
        return out
    try:
        manifest = cache.read_manifest()
    except CacheError as exc:
        out["problems"] = [(MANIFEST, str(exc))]
        return out
    out.update(totals(manifest["files"]))
    out["updated_at"] = manifest.get("updated_at")
    out["files"] = len(manifest["files"])
    out["last_update"] = (manifest.get("updates") or [None])[-1]
    out["manifest_sha256"] = sha256_file(cache.manifest_path)
    try:
        out["problems"] = verify(cache)
    except CacheError as exc:
        out["problems"] = [(LOCK_FILE, str(exc))]
    return out

"""Checking a cache folder against its manifest and the calendar, repairing it, and summarising it
for ``info``.

Every function takes a :class:`~data_store.cache.Cache` and works under its lock. The checks are
the ones ``data_store.load()`` applies, so that whatever makes a load refuse the cache is found
by :func:`verify` (and shown by ``info``) and fixed by :func:`repair`:

- a file missing, truncated, altered or not parquet (sha256 and row count against the manifest);
- an index or bar file that breaks the canonical rules (dropped; ``update`` refetches it);
- bars on days the calendar lacks (the snapshot's trading days plus the cached index's): those
  rows are dropped from the file, which is rewritten atomically.
"""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.parquet as pq

from core.errors import DataValidationError

from ..characteristics import CHARACTERISTIC_COLUMNS, INDUSTRY_COLUMNS, canonical_characteristics, canonical_industry
from ..errors import CacheError
from ..schema import BAR_COLUMNS, INDEX_COLUMNS, canonical_bars, canonical_index, validate_bars, validate_index
from .manifest import (
    BARS_DIR,
    CHARACTERISTICS_DIR,
    INDEX_FILE,
    INDUSTRY_FILE,
    LOCK_FILE,
    MANIFEST,
    MEMBERSHIP_COLUMNS,
    MEMBERSHIP_FILE,
    SPANS_COLUMNS,
    SPANS_FILE,
    empty_manifest,
    kind_of,
    sha256_file,
    totals,
)

log = logging.getLogger(__name__)

_NEEDED = {"index": INDEX_COLUMNS, "membership": MEMBERSHIP_COLUMNS, "spans": SPANS_COLUMNS, "bars": BAR_COLUMNS,
           "characteristics": CHARACTERISTIC_COLUMNS, "industry": INDUSTRY_COLUMNS}

if TYPE_CHECKING:  # a Cache is passed in; importing it at run time would make a circle with .store
    from .store import Cache


def _calendar(cache: Cache, manifest: dict[str, Any], calendar: pd.DatetimeIndex | None) -> pd.DatetimeIndex | None:
    """The snapshot's trading days (``calendar``) plus the cached index's, or None if neither."""
    days: set[pd.Timestamp] = set(pd.DatetimeIndex(calendar)) if calendar is not None else set()
    if INDEX_FILE in manifest["files"]:
        with contextlib.suppress(CacheError, KeyError):
            days |= set(pd.to_datetime(cache.read_file(INDEX_FILE, manifest["files"][INDEX_FILE])["date"]))
    return pd.DatetimeIndex(sorted(days)) if days else None


def _check(relpath: str, df: pd.DataFrame, calendar: pd.DatetimeIndex | None,
           checked_from: pd.Timestamp | None) -> tuple[str, pd.Series | None, str] | None:
    """``('drop', None, why)`` for a file that breaks a rule, ``('trim', off_calendar_rows, why)``
    for bars on days the calendar lacks, ``None`` when the file is sound."""
    kind = kind_of(relpath)
    missing = [c for c in _NEEDED[kind] if c not in df.columns]
    if missing:
        return "drop", None, f"columns {missing} missing"
    try:
        if kind == "index":
            validate_index(canonical_index(df, relpath), relpath)
        elif kind == "bars":
            validate_bars(canonical_bars(df, relpath), relpath)
        elif kind == "characteristics":
            canonical_characteristics(df, relpath)
        elif kind == "industry":
            canonical_industry(df, relpath)
    except DataValidationError as exc:
        return "drop", None, str(exc).splitlines()[0]
    if kind != "bars" or calendar is None or not len(df):
        return None
    dates = pd.to_datetime(df["date"])
    lo = checked_from if checked_from is not None else calendar[0]
    off = ~dates.isin(calendar) & (dates >= lo) & (dates <= calendar[-1])
    if not off.any():
        return None
    days = sorted({str(d.date()) for d in dates[off]})
    return "trim", off, (f"{int(off.sum())} row(s) on days the calendar lacks ({', '.join(days[:3])}"
                         f"{' ...' if len(days) > 3 else ''}): `data_store.load()` refuses them; "
                         "`python -m data_store update --repair` drops them")


def verify(cache: Cache, calendar: pd.DatetimeIndex | None = None) -> list[tuple[str, str]]:
    """Check every file of the manifest (and, given the snapshot's ``calendar``, every bar's day);
    return ``(relpath, problem)`` for each file ``load()`` would refuse."""
    problems = []
    with cache.locked(read_only_ok=True):
        try:
            manifest = cache.read_manifest()
        except CacheError as exc:
            return [(MANIFEST, str(exc))]
        cal = _calendar(cache, manifest, calendar)
        first = None if calendar is not None else (cal[0] if cal is not None else None)
        for relpath, entry in sorted(manifest["files"].items()):
            try:
                found = _check(relpath, cache.read_file(relpath, entry), cal, first)
            except CacheError as exc:
                problems.append((relpath, str(exc)))
                continue
            if found is not None:
                problems.append((relpath, found[2]))
    return problems


def repair(cache: Cache, calendar: pd.DatetimeIndex | None = None) -> list[str]:
    """Drop damaged files (and their manifest entries), drop bars on days the calendar lacks
    (rewriting those files), remove stray temp files; keep the rest.

    A corrupt manifest is rebuilt from the parquet files that still read as canonical frames.
    Returns what was done, one item per file: the relative path of a removed file, or
    ``"<relpath>: dropped ..."`` for a trimmed one; run ``update`` afterwards to refetch.
    Raises :class:`CacheError` when the folder does not exist (nothing is created).
    """
    if not cache.root.is_dir():
        raise CacheError(f"no cache at {cache.root}: the folder does not exist (check --cache-dir or the "
                         "CSI300_CACHE_DIR variable); nothing to repair")
    done: list[str] = []
    with cache.locked():
        try:
            manifest = cache.read_manifest()
        except CacheError:
            log.warning("manifest %s is corrupt; rebuilding it from the readable files", cache.manifest_path)
            manifest = _rebuild_manifest(cache, done)
        cal = _calendar(cache, manifest, calendar)
        first = None if calendar is not None else (cal[0] if cal is not None else None)
        for relpath, entry in sorted(manifest["files"].items()):
            try:
                df = cache.read_file(relpath, entry)
                found = _check(relpath, df, cal, first)
            except CacheError as exc:
                found = ("drop", None, str(exc))
            if found is None:
                continue
            action, off, why = found
            if action == "trim" and off is not None:
                log.warning("%s: %s", relpath, why)
                keep = {k: v for k, v in entry.items() if k not in ("rows", "start", "end", "sha256", "fetched_at")}
                new = cache.write_file(manifest, relpath, df.loc[~off].reset_index(drop=True), kind=entry["kind"],
                                       source=entry.get("source", ""), library_versions={},
                                       symbol=entry.get("symbol"))
                new.update({k: v for k, v in keep.items() if k not in ("kind", "source", "symbol")})
                done.append(f"{relpath}: dropped {why.split(':')[0]}")
                continue
            log.warning("removing %s: %s", relpath, why)
            with contextlib.suppress(FileNotFoundError):
                (cache.root / relpath).unlink()
            del manifest["files"][relpath]
            done.append(relpath)
        for tmp in cache.root.rglob(".*.tmp"):
            tmp.unlink()
            done.append(str(tmp.relative_to(cache.root)))
        cache.write_manifest(manifest)
    return done


def _rebuild_manifest(cache: Cache, removed: list[str]) -> dict[str, Any]:
    manifest = empty_manifest()
    candidates = [cache.root / INDEX_FILE, cache.root / MEMBERSHIP_FILE, cache.root / SPANS_FILE,
                  cache.root / INDUSTRY_FILE, *sorted((cache.root / BARS_DIR).glob("*.parquet")),
                  *sorted((cache.root / CHARACTERISTICS_DIR).glob("*.parquet"))]
    for path in candidates:
        if not path.is_file():
            continue
        relpath = str(path.relative_to(cache.root))
        kind = kind_of(relpath)
        try:
            df = pq.read_table(path).to_pandas()
            if any(c not in df.columns for c in _NEEDED[kind]):
                raise ValueError(f"columns {list(df.columns)}")
        except Exception as exc:
            log.warning("removing %s: unreadable (%s)", relpath, exc)
            path.unlink()
            removed.append(relpath)
            continue
        days = pd.to_datetime(df["date"] if "date" in df else pd.concat([df["start"], df["end"]])).dropna()
        manifest["files"][relpath] = {
            "kind": kind, "source": "unknown (manifest rebuilt)", "rows": len(df),
            "start": str(days.min().date()) if len(days) else None,
            "end": str(days.max().date()) if len(days) else None,
            "sha256": sha256_file(path), "fetched_at": None, "library_versions": {},
            **({"symbol": path.stem} if kind in ("bars", "characteristics") else {}),
        }
    return manifest


def state(cache: Cache, calendar: pd.DatetimeIndex | None = None) -> dict[str, Any]:
    """A summary for ``info``: folder, files, sources, range, last update, symbols without bars,
    the membership history, and every file ``load()`` would refuse (never raises)."""
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
    out["no_bars"] = manifest.get("no_bars", {})
    out["membership_history"] = manifest["files"].get(SPANS_FILE)
    try:
        out["problems"] = verify(cache, calendar)
    except CacheError as exc:
        out["problems"] = [(LOCK_FILE, str(exc))]
    return out

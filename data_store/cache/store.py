"""User cache of updates beyond the snapshot: parquet files plus ``manifest.json``.

Layout of the cache folder (default ``platformdirs.user_cache_dir('csi300-toolkit')``, or
``$CSI300_CACHE_DIR``, or ``--cache-dir``)::

    manifest.json            what is in the cache; written LAST on every commit
    .lock                    filelock guarding every write (and the reads of a load)
    index.parquet            CSI-300 index bars (canonical INDEX_COLUMNS)
    membership.parquet       membership observations: date, symbol, name (member list per date)
    bars/SH600519.parquet    canonical bars of one symbol

Each file is committed on its own: written to a temporary file in the same folder, fsynced,
``os.replace``-d over the old one, and only then entered into the manifest (sha256, rows, date
range, source, fetched_at, library versions), all under the lock. A crash therefore leaves
every file either at its previous committed state or at its new one, and an interrupted update
resumes where it stopped. Checking and repairing a cache folder is :mod:`data_store.cache.check`;
merging it with the (never modified) snapshot is :mod:`data_store.cache.merge`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock
from filelock import Timeout as LockTimeout

from core.atomic import atomic_write

from ..characteristics import canonical_characteristics, canonical_industry
from ..errors import CacheError
from ..schema import BAR_COLUMNS, canonical_bars, canonical_index
from . import check
from .manifest import (
    APP_NAME,
    BARS_DIR,
    CHARACTERISTICS_DIR,
    ENV_VAR,
    FORMAT_VERSION,
    INDEX_FILE,
    INDUSTRY_FILE,
    LOCK_FILE,
    MANIFEST,
    MEMBERSHIP_COLUMNS,
    MEMBERSHIP_FILE,
    REPAIR_COMMAND,
    SPANS_COLUMNS,
    SPANS_FILE,
    bars_path,
    corrupt_error,
    default_cache_dir,
    empty_manifest,
    now,
    resolve_cache_dir,
    runtime_versions,
    sha256_file,
    totals,
)

log = logging.getLogger(__name__)

__all__ = [  # the layout names live in .manifest; importing them from here keeps working
    "APP_NAME", "BARS_DIR", "ENV_VAR", "FORMAT_VERSION", "INDEX_FILE", "LOCK_FILE", "MANIFEST",
    "MEMBERSHIP_COLUMNS", "MEMBERSHIP_FILE", "REPAIR_COMMAND", "SPANS_COLUMNS", "SPANS_FILE", "Cache",
    "CacheContents", "bars_path",
    "corrupt_error", "default_cache_dir", "resolve_cache_dir", "sha256_file",
]

#: arrow schema of a per-symbol bar file (what :meth:`Cache.commit` writes for canonical bars)
_BARS_SCHEMA = pa.schema([("date", pa.timestamp("ns")), ("symbol", pa.string()),
                          *((c, pa.float64()) for c in BAR_COLUMNS[2:])])


def _dates_of(df: pd.DataFrame) -> pd.Series:
    """The days a frame covers: its ``date`` column, or the ``start``/``end`` of spans."""
    if "date" in df.columns:
        return pd.to_datetime(df["date"]).dropna()
    if "start" in df.columns:
        return pd.to_datetime(pd.concat([df["start"], df["end"]], ignore_index=True)).dropna()
    return pd.Series([], dtype="datetime64[ns]")


@dataclass
class CacheContents:
    """What a cache holds, read and checked: canonical frames plus the manifest."""

    bars: pd.DataFrame
    index: pd.DataFrame | None
    membership: pd.DataFrame | None
    manifest: dict[str, Any]
    problems: list[tuple[str, str]] = field(default_factory=list)
    #: a dated membership history (``symbol, name, start, end, source``), or None
    spans: pd.DataFrame | None = None
    #: vendor characteristics of every cached symbol (:mod:`data_store.characteristics`), or None
    characteristics: pd.DataFrame | None = None
    #: industry spans (:mod:`data_store.characteristics`), or None
    industry: pd.DataFrame | None = None

    @property
    def empty(self) -> bool:
        return (self.bars.empty and self.index is None and self.membership is None and self.spans is None
                and self.characteristics is None and self.industry is None)


# ---------------------------------------------------------------- the cache folder
class Cache:
    """A cache folder: atomic commits under a file lock, checked reads, repair and a summary."""

    def __init__(self, root: str | Path | None = None, lock_timeout: float = 120.0, durable: bool = True) -> None:
        self.root = resolve_cache_dir(root)
        self.lock_timeout = lock_timeout
        #: fsync every file before it replaces the old one (off only for throwaway caches: tests)
        self.durable = durable

    def __repr__(self) -> str:
        return f"Cache({str(self.root)!r})"

    @property
    def manifest_path(self) -> Path:
        return self.root / MANIFEST

    def exists(self) -> bool:
        return self.manifest_path.is_file()

    @contextlib.contextmanager
    def locked(self, read_only_ok: bool = False) -> Iterator[None]:
        """Hold the cache's file lock (creates the folder). :class:`CacheError` after the timeout.

        ``read_only_ok``: a reader of a cache it cannot write to (a shared read-only folder, where
        no updater can run either) goes on without the lock instead of failing.
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise CacheError(
                f"cannot create the cache folder {self.root} ({exc}); choose another with "
                f"--cache-dir or ${ENV_VAR}"
            ) from exc
        lock = FileLock(str(self.root / LOCK_FILE), timeout=self.lock_timeout)
        try:
            lock.acquire()
        except PermissionError as exc:
            if not read_only_ok:
                raise CacheError(
                    f"cannot write the lock file {self.root / LOCK_FILE} ({exc}); the cache folder must be "
                    f"writable to update it: choose another with --cache-dir or ${ENV_VAR}"
                ) from exc
            log.debug("cache %s is read-only: reading it without the lock", self.root)
            yield
            return
        except LockTimeout as exc:
            raise CacheError(
                f"the cache {self.root} stayed locked for {self.lock_timeout:g} s by another "
                f"updater ({self.root / LOCK_FILE}); wait for it to finish, or delete the lock file "
                "if no update is running"
            ) from exc
        try:
            yield
        finally:
            lock.release()

    # ------------------------------------------------------------ manifest
    def read_manifest(self) -> dict[str, Any]:
        """The manifest (an empty one if the cache has none). :class:`CacheError` if corrupt."""
        path = self.manifest_path
        if not path.is_file():
            return empty_manifest()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise corrupt_error(path, f"unreadable JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise corrupt_error(path, "no 'files' table")
        if data.get("format") != FORMAT_VERSION:
            raise corrupt_error(path, f"format {data.get('format')!r}, expected {FORMAT_VERSION}")
        return data

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        """Write ``manifest`` atomically with fresh totals (the caller holds the lock)."""
        manifest["updated_at"] = now()
        manifest.update(totals(manifest["files"]))
        text = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True)
        atomic_write(self.manifest_path, lambda p: p.write_text(text, encoding="utf-8"), durable=self.durable)

    # ------------------------------------------------------------ writes
    def commit(self, relpath: str, df: pd.DataFrame, *, kind: str, source: str,
               library_versions: dict[str, str] | None = None, symbol: str | None = None,
               combine: Callable[[pd.DataFrame | None, pd.DataFrame], pd.DataFrame] | None = None,
               extra: dict[str, Any] | None = None) -> dict[str, Any]:
        """Atomically write ``df`` to ``relpath`` and record it in the manifest (under the lock).

        ``combine(old, new)``, if given, merges the intact committed frame (``None`` when there
        is none or it is damaged) with ``df`` inside the same lock, so that two updaters writing
        the same file never lose each other's rows. ``extra`` adds fields to the manifest entry.
        """
        with self.locked():
            manifest = self.read_manifest()
            entry = self.write_file(manifest, relpath, df, kind=kind, source=source,
                                     library_versions=library_versions, symbol=symbol, combine=combine)
            entry.update(extra or {})
            self.write_manifest(manifest)
        return entry

    def commit_many(self, files: dict[str, pd.DataFrame], *, kind: str, source: str,
                    library_versions: dict[str, str] | None = None, symbols: bool = False) -> None:
        """Commit several files under one lock and ONE manifest write (each file still atomic;
        a crash before the manifest write leaves the previous manifest, which no longer matches
        the replaced files: ``update --repair`` drops those). ``symbols``: each relpath is a bar
        file whose stem is its symbol."""
        with self.locked():
            manifest = self.read_manifest()
            for relpath, df in files.items():
                self.write_file(manifest, relpath, df, kind=kind, source=source, library_versions=library_versions,
                                 symbol=Path(relpath).stem if symbols else None)
            self.write_manifest(manifest)

    def write_file(self, manifest: dict[str, Any], relpath: str, df: pd.DataFrame, *, kind: str, source: str,
                    library_versions: dict[str, str] | None, symbol: str | None,
                    combine: Callable[[pd.DataFrame | None, pd.DataFrame], pd.DataFrame] | None = None,
                    ) -> dict[str, Any]:
        """Write one file atomically and put its entry into ``manifest`` (caller holds the lock)."""
        if combine is not None:
            try:
                old = self.read_file(relpath, manifest["files"][relpath]) if relpath in manifest["files"] else None
            except CacheError as exc:
                log.warning("replacing damaged %s: %s", relpath, exc)
                old = None
            df = combine(old, df)
        table = pa.Table.from_pandas(df, preserve_index=False)
        path = self.root / relpath
        atomic_write(path, lambda p: pq.write_table(table, p, compression="zstd"), durable=self.durable)
        dates = _dates_of(df)
        entry = {
            "kind": kind,
            "source": source,
            "rows": len(df),
            "start": str(dates.min().date()) if len(dates) else None,
            "end": str(dates.max().date()) if len(dates) else None,
            "sha256": sha256_file(path),
            "fetched_at": now(),
            "library_versions": {**runtime_versions(), **(library_versions or {})},
        }
        if symbol is not None:
            entry["symbol"] = symbol
        manifest["files"][relpath] = entry
        return entry

    def update_manifest(self, mutate: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        """Apply ``mutate(manifest)`` and write the manifest, under the lock; returns it."""
        with self.locked():
            manifest = self.read_manifest()
            mutate(manifest)
            self.write_manifest(manifest)
        return manifest

    def record_update(self, info: dict[str, Any], keep: int = 20) -> None:
        """Append an update run's summary (source, range, ok/failed symbols) to the manifest."""
        with self.locked():
            manifest = self.read_manifest()
            manifest["updates"] = [*manifest.get("updates", []), info][-keep:]
            self.write_manifest(manifest)

    # ------------------------------------------------------------ reads
    def read_file(self, relpath: str, entry: dict[str, Any] | None = None) -> pd.DataFrame:
        """Read one committed file, checking its sha256 against the manifest.

        Raises :class:`CacheError` naming the file and the repair command when it is missing,
        truncated, altered or not parquet. Other files are unaffected.
        """
        if entry is None:
            entry = self.read_manifest()["files"].get(relpath)
            if entry is None:
                raise CacheError(f"{self.root / relpath} is not in the cache manifest {self.manifest_path}")
        return self._read_table(relpath, entry).to_pandas()

    def _read_table(self, relpath: str, entry: dict[str, Any]) -> pa.Table:
        path = self.root / relpath
        try:
            data = path.read_bytes()  # read once: hashed, then parsed from memory
        except FileNotFoundError:
            raise corrupt_error(path, "listed in the manifest but missing") from None
        except OSError as exc:
            raise corrupt_error(path, f"unreadable: {exc}") from exc
        digest = hashlib.sha256(data).hexdigest()
        if digest != entry.get("sha256"):
            raise corrupt_error(path, f"sha256 {digest[:12]}... differs from the manifest's "
                                      f"{str(entry.get('sha256'))[:12]}... (truncated or altered)")
        try:
            table = pq.read_table(pa.BufferReader(data), use_threads=False)
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise corrupt_error(path, f"not readable as parquet: {exc}") from exc
        if table.num_rows != entry.get("rows"):
            raise corrupt_error(path, f"{table.num_rows} rows, the manifest says {entry.get('rows')}")
        return table

    def read(self, on_corrupt: str = "raise") -> CacheContents:
        """Read every committed file (under the lock, so no half-finished commit is seen).

        ``on_corrupt='raise'`` raises :class:`CacheError` on the first damaged file;
        ``'skip'`` leaves damaged files out, logs a warning and lists them in ``problems``.
        Files are read by a few threads (pyarrow parses without the GIL) and the per-symbol bar
        tables are concatenated in arrow before one conversion to pandas.
        """
        if on_corrupt not in ("raise", "skip"):
            raise ValueError(f"on_corrupt={on_corrupt!r}: use 'raise' or 'skip'")
        with self.locked(read_only_ok=True):
            manifest = self.read_manifest()
            items = sorted(manifest["files"].items())

            def one(item: tuple[str, dict[str, Any]]) -> tuple[str, pa.Table | CacheError]:
                relpath = item[0]
                try:
                    table = self._read_table(*item)
                    if relpath.startswith(BARS_DIR + "/"):
                        try:  # one plain schema, so that the symbol tables concatenate
                            table = table.select(list(BAR_COLUMNS)).cast(_BARS_SCHEMA).replace_schema_metadata(None)
                        except (KeyError, ValueError, pa.ArrowException) as exc:
                            raise corrupt_error(self.root / relpath, f"not canonical bars: {exc}") from exc
                    return relpath, table
                except CacheError as exc:
                    return relpath, exc

            with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
                results = list(pool.map(one, items))
        tables: dict[str, pa.Table] = {}
        problems: list[tuple[str, str]] = []
        for relpath, got in results:
            if isinstance(got, CacheError):
                if on_corrupt == "raise":
                    raise got
                log.warning("%s", got)
                problems.append((relpath, str(got)))
            else:
                tables[relpath] = got
        bar_tables = [t for k, t in tables.items() if k.startswith(BARS_DIR + "/") and t.num_rows]
        if bar_tables:
            frame = pa.concat_tables(bar_tables).to_pandas()
            bars = canonical_bars(frame, f"cache {self.root / BARS_DIR}")
        else:
            bars = canonical_bars(pd.DataFrame({c: [] for c in BAR_COLUMNS}), "cache")
        index = tables[INDEX_FILE].to_pandas() if INDEX_FILE in tables else None
        if index is not None:
            index = canonical_index(index, f"cache {self.root / INDEX_FILE}")
        members = tables[MEMBERSHIP_FILE].to_pandas() if MEMBERSHIP_FILE in tables else None
        if members is not None:
            members = members.assign(date=pd.to_datetime(members["date"]).astype("datetime64[ns]"))
        spans = tables[SPANS_FILE].to_pandas() if SPANS_FILE in tables else None
        if spans is not None:
            spans = spans.assign(start=pd.to_datetime(spans["start"]).astype("datetime64[ns]"),
                                 end=pd.to_datetime(spans["end"]).astype("datetime64[ns]"))
        char_tables = [t for k, t in tables.items() if k.startswith(CHARACTERISTICS_DIR + "/") and t.num_rows]
        chars = None
        if char_tables:
            chars = canonical_characteristics(pd.concat([t.to_pandas() for t in char_tables], ignore_index=True),
                                              f"cache {self.root / CHARACTERISTICS_DIR}")
        industry = None
        if INDUSTRY_FILE in tables:
            industry = canonical_industry(tables[INDUSTRY_FILE].to_pandas(), f"cache {self.root / INDUSTRY_FILE}")
        return CacheContents(bars=bars, index=index, membership=members, manifest=manifest, problems=problems,
                             spans=spans, characteristics=chars, industry=industry)


    def verify(self, calendar: pd.DatetimeIndex | None = None) -> list[tuple[str, str]]:
        """``(relpath, problem)`` for each file ``load()`` would refuse; see
        :func:`data_store.cache.check.verify`."""
        return check.verify(self, calendar)

    def repair(self, calendar: pd.DatetimeIndex | None = None) -> list[str]:
        """Fix what ``load()`` refuses; see :func:`data_store.cache.check.repair`."""
        return check.repair(self, calendar)

    def state(self, calendar: pd.DatetimeIndex | None = None) -> dict[str, Any]:
        """A summary for ``info`` (never raises); see :func:`data_store.cache.check.state`."""
        return check.state(self, calendar)

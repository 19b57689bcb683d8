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
resumes where it stopped. The snapshot is never modified: see :func:`merge_cache`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from filelock import FileLock
from filelock import Timeout as LockTimeout

from .atomic import atomic_write
from .errors import CacheError
from .market import MarketData
from .schema import (
    BAR_COLUMNS,
    INDEX_COLUMNS,
    anomaly_report,
    canonical_bars,
    canonical_index,
    validate_bars,
    validate_index,
)
from .universe import Membership

log = logging.getLogger(__name__)

APP_NAME = "csi300-toolkit"
ENV_VAR = "CSI300_CACHE_DIR"
MANIFEST = "manifest.json"
LOCK_FILE = ".lock"
BARS_DIR = "bars"
INDEX_FILE = "index.parquet"
MEMBERSHIP_FILE = "membership.parquet"
FORMAT_VERSION = 1
#: The command printed in every corruption message; see :meth:`Cache.repair`.
REPAIR_COMMAND = "python -m data_store update --repair"
MEMBERSHIP_COLUMNS: tuple[str, ...] = ("date", "symbol", "name")

# Agreement tolerances between the snapshot and the cache on overlapping days.
#: raw prices are quoted to the fen (0.01 CNY): anything beyond half a fen is a disagreement
PRICE_ATOL = 0.0051
#: vendors report volume in lots of 100 shares, the snapshot in shares: less than a lot agrees
VOLUME_ATOL = 100.0
#: back-adjustment factors derived from 2-decimal prices carry ~1e-4 relative rounding
FACTOR_RTOL = 1e-3
#: index points (relative); index volume (relative, units differ slightly between vendors)
INDEX_RTOL = 1e-5
INDEX_VOLUME_RTOL = 1e-3

#: a member list shorter than this is treated as incomplete (a vendor glitch), not as 100+ exits
MIN_LIST_SIZE = 250

#: arrow schema of a per-symbol bar file (what :meth:`Cache.commit` writes for canonical bars)
_BARS_SCHEMA = pa.schema([("date", pa.timestamp("ns")), ("symbol", pa.string()),
                          *((c, pa.float64()) for c in BAR_COLUMNS[2:])])

MERGE_REPORT_COLUMNS = ("kind", "date", "symbol", "field", "snapshot", "cache", "note")


# ---------------------------------------------------------------- locations
def default_cache_dir() -> Path:
    """The per-user cache folder of this toolkit (platformdirs), e.g. ``~/.cache/csi300-toolkit``."""
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """``cache_dir`` if given, else ``$CSI300_CACHE_DIR`` if set, else :func:`default_cache_dir`."""
    if cache_dir is not None and str(cache_dir) != "":
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_VAR, "")
    if env:
        return Path(env).expanduser()
    return default_cache_dir()


def bars_path(symbol: str) -> str:
    """Relative path of a symbol's bar file inside the cache."""
    return f"{BARS_DIR}/{symbol}.parquet"


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _atomic_write(path: Path, write: Any, durable: bool = True) -> None:
    atomic_write(path, write, durable=durable)


def _library_versions() -> dict[str, str]:
    import platform

    return {"python": platform.python_version(), "pandas": pd.__version__, "pyarrow": pa.__version__}


def _empty_manifest() -> dict[str, Any]:
    return {"format": FORMAT_VERSION, "created_at": _now(), "updated_at": None, "files": {}, "updates": []}


def corrupt_error(path: Path, problem: str) -> CacheError:
    return CacheError(
        f"cache file {path} is unusable ({problem}). Repair with `{REPAIR_COMMAND}` "
        f"(drops the damaged file from the cache; then run `python -m data_store update` again to "
        f"refetch it) or delete that file; the other cache files stay usable, and "
        f"data_store.load(use_cache=False) ignores the cache."
    )


@dataclass
class CacheContents:
    """What a cache holds, read and checked: canonical frames plus the manifest."""

    bars: pd.DataFrame
    index: pd.DataFrame | None
    membership: pd.DataFrame | None
    manifest: dict[str, Any]
    problems: list[tuple[str, str]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.bars.empty and self.index is None and self.membership is None


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
            return _empty_manifest()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise corrupt_error(path, f"unreadable JSON: {exc}") from exc
        if not isinstance(data, dict) or not isinstance(data.get("files"), dict):
            raise corrupt_error(path, "no 'files' table")
        if data.get("format") != FORMAT_VERSION:
            raise corrupt_error(path, f"format {data.get('format')!r}, expected {FORMAT_VERSION}")
        return data

    def _write_manifest(self, manifest: dict[str, Any]) -> None:
        manifest["updated_at"] = _now()
        manifest.update(_totals(manifest["files"]))
        text = json.dumps(manifest, indent=1, ensure_ascii=False, sort_keys=True)
        _atomic_write(self.manifest_path, lambda p: p.write_text(text, encoding="utf-8"), self.durable)

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
            entry = self._write_file(manifest, relpath, df, kind=kind, source=source,
                                     library_versions=library_versions, symbol=symbol, combine=combine)
            entry.update(extra or {})
            self._write_manifest(manifest)
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
                self._write_file(manifest, relpath, df, kind=kind, source=source, library_versions=library_versions,
                                 symbol=Path(relpath).stem if symbols else None)
            self._write_manifest(manifest)

    def _write_file(self, manifest: dict[str, Any], relpath: str, df: pd.DataFrame, *, kind: str, source: str,
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
        _atomic_write(path, lambda p: pq.write_table(table, p, compression="zstd"), self.durable)
        dates = pd.to_datetime(df["date"]) if len(df) else pd.Series([], dtype="datetime64[ns]")
        entry = {
            "kind": kind,
            "source": source,
            "rows": len(df),
            "start": str(dates.min().date()) if len(df) else None,
            "end": str(dates.max().date()) if len(df) else None,
            "sha256": sha256_file(path),
            "fetched_at": _now(),
            "library_versions": {**_library_versions(), **(library_versions or {})},
        }
        if symbol is not None:
            entry["symbol"] = symbol
        manifest["files"][relpath] = entry
        return entry

    def record_update(self, info: dict[str, Any], keep: int = 20) -> None:
        """Append an update run's summary (source, range, ok/failed symbols) to the manifest."""
        with self.locked():
            manifest = self.read_manifest()
            manifest["updates"] = [*manifest.get("updates", []), info][-keep:]
            self._write_manifest(manifest)

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
        return CacheContents(bars=bars, index=index, membership=members, manifest=manifest, problems=problems)

    def verify(self) -> list[tuple[str, str]]:
        """Check every file of the manifest; return ``(relpath, problem)`` for the damaged ones."""
        problems = []
        with self.locked(read_only_ok=True):
            try:
                manifest = self.read_manifest()
            except CacheError as exc:
                return [(MANIFEST, str(exc))]
            for relpath, entry in sorted(manifest["files"].items()):
                try:
                    self.read_file(relpath, entry)
                except CacheError as exc:
                    problems.append((relpath, str(exc)))
        return problems

    def repair(self) -> list[str]:
        """Drop damaged files (and their manifest entries) and stray temp files; keep the rest.

        A corrupt manifest is rebuilt from the parquet files that still read as canonical
        frames. Returns the relative paths removed; run ``update`` afterwards to refetch them.
        """
        removed: list[str] = []
        with self.locked():
            try:
                manifest = self.read_manifest()
            except CacheError:
                log.warning("manifest %s is corrupt; rebuilding it from the readable files", self.manifest_path)
                manifest = self._rebuild_manifest(removed)
            for relpath, entry in sorted(manifest["files"].items()):
                try:
                    self.read_file(relpath, entry)
                except CacheError as exc:
                    log.warning("removing %s: %s", relpath, exc)
                    with contextlib.suppress(FileNotFoundError):
                        (self.root / relpath).unlink()
                    del manifest["files"][relpath]
                    removed.append(relpath)
            for tmp in self.root.rglob(".*.tmp"):
                tmp.unlink()
                removed.append(str(tmp.relative_to(self.root)))
            self._write_manifest(manifest)
        return removed

    def _rebuild_manifest(self, removed: list[str]) -> dict[str, Any]:
        manifest = _empty_manifest()
        candidates = [self.root / INDEX_FILE, self.root / MEMBERSHIP_FILE, *sorted((self.root / BARS_DIR).glob("*.parquet"))]
        for path in candidates:
            if not path.is_file():
                continue
            relpath = str(path.relative_to(self.root))
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

    def state(self) -> dict[str, Any]:
        """A summary for ``info``: folder, files, sources, range, damaged files (never raises)."""
        out: dict[str, Any] = {"dir": str(self.root), "exists": self.exists()}
        if not out["exists"]:
            return out
        try:
            manifest = self.read_manifest()
        except CacheError as exc:
            out["problems"] = [(MANIFEST, str(exc))]
            return out
        out.update(_totals(manifest["files"]))
        out["updated_at"] = manifest.get("updated_at")
        out["files"] = len(manifest["files"])
        out["last_update"] = (manifest.get("updates") or [None])[-1]
        out["manifest_sha256"] = sha256_file(self.manifest_path)
        try:
            out["problems"] = self.verify()
        except CacheError as exc:
            out["problems"] = [(LOCK_FILE, str(exc))]
        return out


def _totals(files: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Top-level manifest figures: sources, date range, symbols, row counts."""
    bars = [e for e in files.values() if e.get("kind") == "bars"]
    starts = [e["start"] for e in files.values() if e.get("start")]
    ends = [e["end"] for e in files.values() if e.get("end")]
    return {
        "sources": sorted({str(e.get("source")) for e in files.values()}),
        "start": min(starts) if starts else None,
        "end": max(ends) if ends else None,
        "symbols": sorted(e.get("symbol", "") for e in bars),
        "rows": {
            "bars": sum(int(e.get("rows", 0)) for e in bars),
            "index": sum(int(e.get("rows", 0)) for e in files.values() if e.get("kind") == "index"),
            "membership": sum(int(e.get("rows", 0)) for e in files.values() if e.get("kind") == "membership"),
        },
    }


# ---------------------------------------------------------------- merge
def merge_cache(snap: MarketData, cache_dir: str | Path | None, validate: bool = True,
                *, on_corrupt: str = "raise") -> MarketData:
    """The snapshot with the user cache merged in; ``snap`` itself when the cache is empty/absent.

    - Later days are appended: index days after the snapshot's last day extend the calendar
      (calendar = snapshot index dates + cached index dates); bars and membership observations
      on those days are added.
    - Overlaps (cache days the snapshot also covers) are compared with the snapshot, field by
      field within fixed tolerances (:data:`PRICE_ATOL`, :data:`VOLUME_ATOL`,
      :data:`FACTOR_RTOL`, :data:`INDEX_RTOL`); the snapshot always wins, and every disagreement
      is a row of ``MarketData.merge_report`` (columns :data:`MERGE_REPORT_COLUMNS`) plus a
      logged warning. The snapshot is never overwritten.
    - A vendor's back-adjustment factor may use another base than the snapshot's: per symbol the
      cached factors are rescaled to agree with the snapshot on the last overlapping day, so the
      adjusted series has no jump at the seam (a symbol without overlap keeps the vendor's base).
    - Cached bars after the last index day (the index update failed or lags) are left out and
      reported; they come in once the index covers their day.

    ``on_corrupt='raise'`` (default) raises :class:`CacheError` naming a damaged file and the
    repair command; ``'skip'`` merges the intact files and reports the damaged ones.
    """
    root = resolve_cache_dir(cache_dir)
    if not (root / MANIFEST).is_file():
        log.debug("no cache at %s: snapshot only", root)
        return snap
    contents = Cache(root).read(on_corrupt=on_corrupt)
    if contents.empty:
        return snap
    return merge_contents(snap, contents, label=str(root), validate=validate)


def _report(rows: list[dict[str, Any]]) -> pd.DataFrame:
    if not rows:
        return pd.DataFrame({c: [] for c in MERGE_REPORT_COLUMNS})
    return pd.DataFrame(rows, columns=list(MERGE_REPORT_COLUMNS))


def _disagree(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> np.ndarray:
    both_nan = np.isnan(a) & np.isnan(b)
    with np.errstate(invalid="ignore"):
        close = np.abs(a - b) <= atol + rtol * np.abs(a)
    return ~(close | both_nan)


def merge_contents(snap: MarketData, contents: CacheContents, label: str = "cache",
                   validate: bool = True) -> MarketData:
    """Merge already-read cache contents into ``snap`` (see :func:`merge_cache`)."""
    report: list[dict[str, Any]] = []
    snap_end = snap.end
    src = f"cache {label}"

    # ---- index and calendar
    index = snap.index
    if contents.index is not None and len(contents.index):
        ci = contents.index
        if validate:
            validate_index(ci, f"{src} {INDEX_FILE}")
        old = ci[ci["date"] <= snap_end]
        ov = old.merge(snap.index, on="date", how="left", suffixes=("_c", "_s"), indicator=True)
        for d in ov.loc[ov["_merge"] == "left_only", "date"]:
            report.append({"kind": "index", "date": d, "symbol": "CSI300", "field": "date",
                           "snapshot": np.nan, "cache": np.nan,
                           "note": "cached index day is not a trading day of the snapshot; ignored"})
        both = ov[ov["_merge"] == "both"]
        for col in INDEX_COLUMNS[1:]:
            rtol = INDEX_VOLUME_RTOL if col == "volume" else INDEX_RTOL
            a, b = both[f"{col}_s"].to_numpy(), both[f"{col}_c"].to_numpy()
            bad = _disagree(a, b, 0.0, rtol)
            for d, x, y in zip(both["date"][bad], a[bad], b[bad], strict=True):
                report.append({"kind": "index", "date": d, "symbol": "CSI300", "field": col,
                               "snapshot": x, "cache": y, "note": "snapshot kept"})
        new = ci[ci["date"] > snap_end]
        if len(new):
            index = pd.concat([snap.index, new], ignore_index=True)
    calendar = pd.DatetimeIndex(index["date"])

    # ---- bars
    bars = snap.bars
    cb = contents.bars
    if len(cb):
        cb = cb.copy()
        cb["symbol"] = cb["symbol"].astype(str)
        old = cb[cb["date"] <= snap_end]
        sb = snap.bars
        sel = sb["symbol"].isin(old["symbol"].unique()) & (sb["date"] >= old["date"].min()) if len(old) else None
        snap_part = sb.loc[sel].assign(symbol=lambda f: f["symbol"].astype(str)) if sel is not None else None
        if snap_part is not None and len(old):
            ov = old.merge(snap_part, on=["date", "symbol"], how="left", suffixes=("_c", "_s"), indicator=True)
            both = ov[ov["_merge"] == "both"]
            # factor base: rescale each symbol's cached factors to the snapshot's on the last overlap day
            last = both.sort_values("date").groupby("symbol").tail(1)
            ratio = pd.Series((last["factor_s"] / last["factor_c"]).to_numpy(), index=last["symbol"].to_numpy())
            scaled = ratio[(ratio - 1.0).abs() > FACTOR_RTOL]
            if len(scaled):
                log.info("%s: rescaled the factor base of %d symbol(s) to the snapshot's: %s",
                         src, len(scaled), ", ".join(f"{s} x{r:.6g}" for s, r in scaled.head(10).items()))
            cb["factor"] = cb["factor"] * cb["symbol"].map(ratio).fillna(1.0).to_numpy()
            both = both.assign(factor_c=both["factor_c"] * both["symbol"].map(ratio).fillna(1.0).to_numpy())
            for col in ("open", "high", "low", "close", "volume", "factor"):
                atol, rtol = (PRICE_ATOL, 0.0) if col in ("open", "high", "low", "close") else \
                    (VOLUME_ATOL, 0.0) if col == "volume" else (0.0, FACTOR_RTOL)
                a, b = both[f"{col}_s"].to_numpy(), both[f"{col}_c"].to_numpy()
                bad = _disagree(a, b, atol, rtol)
                for d, s, x, y in zip(both["date"][bad], both["symbol"][bad], a[bad], b[bad], strict=True):
                    report.append({"kind": "bars", "date": d, "symbol": s, "field": col,
                                   "snapshot": x, "cache": y, "note": "snapshot kept"})
            for d, s in ov.loc[ov["_merge"] == "left_only", ["date", "symbol"]].itertuples(index=False):
                report.append({"kind": "bars", "date": d, "symbol": s, "field": "row",
                               "snapshot": np.nan, "cache": np.nan,
                               "note": "the snapshot has no bar here; the snapshot is not amended"})
        no_overlap = sorted(set(cb.loc[cb["date"] > snap_end, "symbol"]) - set(old["symbol"]) & set(snap.symbols))
        if no_overlap:
            log.warning("%s: %d symbol(s) have no day in common with the snapshot, so their factor base "
                        "cannot be checked at the seam (fetch with an earlier --start): %s",
                        src, len(no_overlap), ", ".join(no_overlap[:10]))
        new = cb[cb["date"] > snap_end]
        beyond = new["date"] > calendar[-1]
        for (s,), g in new[beyond].groupby(["symbol"]):
            report.append({"kind": "bars", "date": g["date"].min(), "symbol": s, "field": "date",
                           "snapshot": np.nan, "cache": float(len(g)),
                           "note": f"{len(g)} cached bar(s) after the last index day {calendar[-1].date()} "
                                   "left out; update the index"})
        new = new[~beyond]
        if len(new):
            new_bars = canonical_bars(new, f"{src} bars")
            if validate:
                validate_bars(new_bars, f"{src} bars", calendar)
            bars = _append_bars(snap.bars, new_bars)

    # ---- membership
    membership = snap.membership
    if contents.membership is not None and len(contents.membership):
        membership, mrows = _merge_membership(snap, contents.membership)
        report.extend(mrows)

    merge_report = _report(report)
    if len(merge_report):
        counts = merge_report.groupby(["kind", "field"]).size()
        log.warning("%s disagrees with the snapshot (snapshot kept) on %d item(s): %s; see MarketData.merge_report",
                    src, len(merge_report), ", ".join(f"{k}.{f}={n}" for (k, f), n in counts.items()))
    man = contents.manifest
    cache_line = (f"\n\n## Cache\n- {label}: sources {', '.join(man.get('sources', []))}, "
                  f"{man.get('start')}..{man.get('end')}, {len(man.get('symbols', []))} symbols, "
                  f"updated {man.get('updated_at')}")
    changed = bars is not snap.bars or index is not snap.index
    return replace(
        snap,
        bars=bars,
        index=index,
        membership=membership,
        anomalies=anomaly_report(bars, calendar) if changed else snap.anomalies,
        provenance=snap.provenance + cache_line,
        merge_report=merge_report,
        sources=(*snap.sources, *(f"cache:{s}" for s in man.get("sources", []))),
        _memo={},
    )


def _append_bars(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Concatenate canonical bars whose dates all follow ``old``'s, keeping one sorted category."""
    cats = sorted(set(old["symbol"].cat.categories) | set(new["symbol"].cat.categories))
    dtype = pd.CategoricalDtype(cats)
    parts = []
    for df in (old, new):
        codes = pd.Index(cats).get_indexer(df["symbol"].cat.categories)[df["symbol"].cat.codes.to_numpy()]
        parts.append(df.assign(symbol=pd.Categorical.from_codes(codes, dtype=dtype)))
    return pd.concat(parts, ignore_index=True)


def _merge_membership(snap: MarketData, obs: pd.DataFrame) -> tuple[Membership, list[dict[str, Any]]]:
    """Apply membership observations (member lists on dates) to the snapshot spans.

    Lists with fewer than :data:`MIN_LIST_SIZE` names are reported and ignored. Observations
    on or before the snapshot's last day are compared with the snapshot (each
    difference reported, the snapshot kept). Later ones extend the spans: a still-open member
    missing from a list gets ``end`` = that list's date; a new symbol gets ``start`` = the
    date of the first list naming it. Lists are dated when they were observed, so a change is
    known no earlier than that date (with monthly tushare lists the timing is a month coarse;
    never earlier than the truth, so no look-ahead).
    """
    report: list[dict[str, Any]] = []
    snap_end = snap.end
    spans = snap.membership.spans.copy()
    names = dict(zip(obs["symbol"], obs["name"], strict=False))
    sizes = obs.groupby("date")["symbol"].nunique()
    for d in sizes.index[sizes < MIN_LIST_SIZE]:
        report.append({"kind": "membership", "date": d, "symbol": "", "field": "list size",
                       "snapshot": np.nan, "cache": float(sizes[d]),
                       "note": f"a list of {sizes[d]} names is incomplete (< {MIN_LIST_SIZE}); ignored"})
    obs = obs[obs["date"].isin(sizes.index[sizes >= MIN_LIST_SIZE])]
    for d, g in obs[obs["date"] <= snap_end].groupby("date"):
        listed, known = set(g["symbol"]), set(snap.members(d))
        for s in sorted(listed - known):
            report.append({"kind": "membership", "date": d, "symbol": s, "field": "member",
                           "snapshot": 0.0, "cache": 1.0, "note": "snapshot kept"})
        for s in sorted(known - listed):
            report.append({"kind": "membership", "date": d, "symbol": s, "field": "member",
                           "snapshot": 1.0, "cache": 0.0, "note": "snapshot kept"})
    later = obs[obs["date"] > snap_end]
    added = []
    for d, g in later.groupby("date"):
        listed = set(g["symbol"])
        open_ = spans["end"].isna()
        leaving = open_ & ~spans["symbol"].isin(listed)
        spans.loc[leaving, "end"] = d
        current = set(spans.loc[spans["end"].isna(), "symbol"])
        for s in sorted(listed - current):
            added.append({"symbol": s, "name": names.get(s, ""), "start": d, "end": pd.NaT})
            spans = pd.concat([spans, pd.DataFrame([added[-1]])], ignore_index=True)
    return Membership.from_frame(spans, "snapshot membership.csv + cache membership.parquet"), report

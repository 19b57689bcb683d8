"""Fetch days beyond the snapshot from a :class:`~data_store.sources.Source` into the cache.

An update is a sequence of independent commits (membership, index, then one file per symbol),
each atomic and recorded in the manifest as it lands. A failure of one symbol is reported and
the others go on; an interrupted update is resumed by running it again: symbols whose cached
file already reaches the requested end are skipped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from .cache import INDEX_FILE, MEMBERSHIP_COLUMNS, MEMBERSHIP_FILE, Cache, bars_path
from .errors import ConfigError, DataValidationError, SourceError
from .schema import canonical_index, validate_bars
from .sources.base import Source
from .vendors import to_symbol

log = logging.getLogger(__name__)

#: Default overlap with the snapshot (calendar days before its last day): the overlap is
#: compared for agreement and anchors the vendor's factor base to the snapshot's.
OVERLAP_DAYS = 14


@dataclass
class UpdateReport:
    """What an update did: per-symbol outcome and the figures of each commit."""

    source: str
    start: pd.Timestamp
    end: pd.Timestamp
    ok: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    index_rows: int = 0
    membership_rows: int = 0
    bar_rows: int = 0

    @property
    def complete(self) -> bool:
        return not self.failed

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source, "start": str(self.start.date()), "end": str(self.end.date()),
            "ok": len(self.ok), "skipped": len(self.skipped), "failed": dict(sorted(self.failed.items())),
            "bar_rows": self.bar_rows, "index_rows": self.index_rows, "membership_rows": self.membership_rows,
            "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }


def _today() -> pd.Timestamp:
    return pd.Timestamp.today().normalize()


def default_range(snapshot_end: pd.Timestamp, start: Any = None, end: Any = None) -> tuple[pd.Timestamp, pd.Timestamp]:
    """``start`` defaults to :data:`OVERLAP_DAYS` before the snapshot's end, ``end`` to today."""
    lo = pd.Timestamp(start) if start is not None else snapshot_end - pd.Timedelta(days=OVERLAP_DAYS)
    hi = pd.Timestamp(end) if end is not None else _today()
    if lo > hi:
        raise ConfigError(f"--start {lo.date()} is after --end {hi.date()}")
    return lo, hi


def _combiner(keys: list[str]) -> Any:
    """``combine`` for :meth:`Cache.commit`: committed rows plus fresh ones, fresh winning on ``keys``."""

    def combine(old: pd.DataFrame | None, new: pd.DataFrame) -> pd.DataFrame:
        if old is None or old.empty:
            return new.sort_values(keys).reset_index(drop=True)
        both = pd.concat([old, new], ignore_index=True)
        return both.drop_duplicates(subset=keys, keep="last").sort_values(keys).reset_index(drop=True)

    return combine


def run_update(
    source: Source,
    cache: Cache,
    *,
    snapshot_end: pd.Timestamp,
    default_symbols: Iterable[str] = (),
    symbols: Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    progress: bool = True,
    probe: bool = True,
) -> UpdateReport:
    """Fetch membership, index and bars for ``[start, end]`` into ``cache``.

    Symbols: ``symbols`` if given, else the source's latest constituents plus
    ``default_symbols`` (the snapshot's members on its last day). Raises :class:`SourceError`
    when the source cannot be reached at all (offline: fails at the probe, within seconds);
    per-symbol failures are collected in the report instead.
    """
    lo, hi = default_range(snapshot_end, start, end)
    report = UpdateReport(source=source.name, start=lo, end=hi)
    if probe:
        source.probe()
    versions = source.library_versions()

    # ---- membership observations
    listed: list[str] = []
    try:
        obs = source.constituents(lo, hi)
        obs = obs[list(MEMBERSHIP_COLUMNS)]
        cache.commit(MEMBERSHIP_FILE, obs, kind="membership", source=source.name, library_versions=versions,
                     combine=_combiner(["date", "symbol"]))
        report.membership_rows = len(obs)
        listed = sorted(obs.loc[obs["date"] == obs["date"].max(), "symbol"])
    except (SourceError, DataValidationError) as exc:
        log.warning("membership not updated: %s", exc)
        report.failed["<membership>"] = str(exc)

    # ---- index (its last day is the last trading day the range can have: the resume target)
    target = hi
    try:
        idx = source.index_bars(lo, hi)
        cache.commit(INDEX_FILE, canonical_index(idx, "index"), kind="index", source=source.name,
                     library_versions=versions, combine=_combiner(["date"]))
        report.index_rows = len(idx)
        if len(idx):
            target = min(hi, idx["date"].max())
    except (SourceError, DataValidationError) as exc:
        log.warning("index not updated: %s", exc)
        report.failed["<index>"] = str(exc)

    # ---- bars, one committed file per symbol
    wanted = sorted({to_symbol(s) for s in symbols}) if symbols else sorted(set(listed) | set(default_symbols))
    manifest = cache.read_manifest()
    todo = []
    for sym in wanted:
        entry = manifest["files"].get(bars_path(sym)) or {}
        covered = entry.get("fetched_range")
        if covered and pd.Timestamp(covered[0]) <= lo and pd.Timestamp(covered[1]) >= target:
            report.skipped.append(sym)  # resumed run: this symbol is already done
        else:
            todo.append(sym)
    if report.skipped:
        log.info("%d symbol(s) already cached up to %s: skipped", len(report.skipped), target.date())
    bar = None
    if progress and todo:
        from tqdm import tqdm

        bar = tqdm(total=len(todo), unit="symbol", desc=f"{source.name} bars")
    try:
        for sym in todo:
            try:
                fresh = source.bars(sym, lo, hi)
                validate_bars(fresh, f"{source.name} {sym}")
                # fetched_range: the range asked for (a suspended stock has no bar on its end)
                cache.commit(bars_path(sym), fresh.assign(symbol=fresh["symbol"].astype(str)), kind="bars",
                             source=source.name, library_versions=versions, symbol=sym,
                             combine=_combiner(["date", "symbol"]),
                             extra={"fetched_range": [str(lo.date()), str(min(hi, _today()).date())]})
                report.ok.append(sym)
                report.bar_rows += len(fresh)
            except (SourceError, DataValidationError) as exc:
                log.warning("%s: %s", sym, exc)
                report.failed[sym] = str(exc)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(failed=len(report.failed))
    finally:
        if bar is not None:
            bar.close()
        cache.record_update(report.as_dict())
    return report

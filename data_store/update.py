"""Fetch days beyond the snapshot from a :class:`~data_store.sources.Source` into the cache.

An update is a sequence of independent commits (membership history, member list, index, then one
file per symbol), each atomic and recorded in the manifest as it lands, so an interrupted update
resumes where it stopped: symbols whose cached file already covers the range are skipped, and so
are symbols the vendor answered with no rows for it.

- A symbol with no bars in the range (delisted, merged, suspended throughout) is recorded in the
  manifest's ``no_bars`` table (last bar, reason, range asked) and reported; it is no failure.
- Bars on days the calendar (snapshot + cached index) lacks are not cached: they are counted per
  day as calendar gaps and reported (a failure: run again once the index has those days).
- The range overlaps the snapshot (:data:`OVERLAP_DAYS`) so the merge can check each vendor's
  factor base against the snapshot's at the seam; also with a later ``--start``, a symbol with
  snapshot bars and no cached overlap is fetched from the overlap on.
- A vendor that fails a run of calls in a row stops the update (:class:`VendorDownError`, from
  the source's circuit breaker), and so does a wrong token (:class:`FatalSourceError`) or
  :data:`MAX_EMPTY_IN_A_ROW` symbols in a row answered with no rows.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from core.errors import ConfigError, DataValidationError

from .cache.store import INDEX_FILE, MEMBERSHIP_COLUMNS, MEMBERSHIP_FILE, Cache, bars_path
from .errors import FatalSourceError, NoDataError, SourceError, VendorDownError
from .market import MarketData
from .membership.update import MembershipStep, run_membership_step
from .schema import canonical_index, validate_bars
from .sources.base import Source
from .sources.membership import MembershipSource
from .sources.vendors import to_symbol

log = logging.getLogger(__name__)

#: Default overlap with the snapshot (calendar days before its last day): the overlap is
#: compared for agreement and anchors the vendor's factor base to the snapshot's.
OVERLAP_DAYS = 14
#: This many symbols in a row answered with no rows stop the update: a vendor answering
#: everything empty is broken, not reporting that many delistings.
MAX_EMPTY_IN_A_ROW = 20


@dataclass
class UpdateReport:
    """What an update did: per-symbol outcome and the figures of each commit."""

    source: str
    start: pd.Timestamp
    end: pd.Timestamp
    ok: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    #: symbols the vendor answered with no rows: symbol -> {last_bar, reason, range}
    no_bars: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: days the calendar lacks but bars were served for: day -> number of symbols
    calendar_gaps: dict[str, int] = field(default_factory=dict)
    #: why the update stopped before the end (vendor down, wrong token), or ""
    stopped: str = ""
    not_attempted: list[str] = field(default_factory=list)
    index_rows: int = 0
    membership_rows: int = 0
    bar_rows: int = 0
    membership: MembershipStep | None = None
    paced_s: float = 0.0

    @property
    def complete(self) -> bool:
        return not self.failed and not self.stopped and not self.calendar_gaps

    def as_dict(self) -> dict[str, Any]:
        m = self.membership
        return {
            "source": self.source, "start": str(self.start.date()), "end": str(self.end.date()),
            "ok": len(self.ok), "skipped": len(self.skipped), "failed": dict(sorted(self.failed.items())),
            "no_bars": sorted(self.no_bars), "calendar_gaps": dict(sorted(self.calendar_gaps.items())),
            "stopped": self.stopped, "not_attempted": len(self.not_attempted),
            "bar_rows": self.bar_rows, "index_rows": self.index_rows, "membership_rows": self.membership_rows,
            "membership_history": None if m is None else (m.label or f"failed: {m.error}"),
            "paced_s": round(self.paced_s, 1),
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


def _cached_calendar(cache: Cache, base: pd.DatetimeIndex | None) -> pd.DatetimeIndex | None:
    """Trading days known now: the snapshot's plus the cached index's (None: nothing known)."""
    days = [] if base is None else [pd.DatetimeIndex(base)]
    entry = cache.read_manifest()["files"].get(INDEX_FILE)
    if entry is not None:
        try:
            days.append(pd.DatetimeIndex(pd.to_datetime(cache.read_file(INDEX_FILE, entry)["date"])))
        except OSError as exc:  # CacheError: a damaged index file
            log.warning("cached index unreadable (%s): bars are checked against the snapshot's days only", exc)
    if not days:
        return None
    return pd.DatetimeIndex(sorted(set().union(*[set(d) for d in days])))


def _no_bar_reason(sym: str, lo: pd.Timestamp, hi: pd.Timestamp, step: MembershipStep | None,
                   snapshot: MarketData | None) -> str:
    """Why a symbol may have no bars in ``[lo, hi]``: its membership and the snapshot's events."""
    if snapshot is not None and len(snapshot.events):
        ev = snapshot.events[(snapshot.events["old_symbol"] == sym)]
        if len(ev):
            e = ev.iloc[-1]
            return f"{e['event_type']} on {pd.Timestamp(e['event_date']).date()} (into {e['new_symbol']})"
    membership = step.membership if step is not None and step.membership is not None else \
        (snapshot.membership if snapshot is not None else None)
    if membership is not None:
        sp = membership.spans[membership.spans["symbol"] == sym]
        ended = sp["end"].dropna()
        if len(sp) and sp["end"].notna().all() and len(ended) and ended.max() <= hi:
            return (f"left the CSI-300 on {ended.max().date()}; no bars from the vendor in the range "
                    "(delisted or suspended)")
    return "no bars from the vendor in the range (suspended or delisted)"


def run_update(
    source: Source,
    cache: Cache,
    *,
    snapshot_end: pd.Timestamp | None = None,
    snapshot: MarketData | None = None,
    default_symbols: Iterable[str] = (),
    symbols: Iterable[str] | None = None,
    start: Any = None,
    end: Any = None,
    membership: MembershipSource | None = None,
    progress: bool = True,
    probe: bool = True,
) -> UpdateReport:
    """Fetch the membership history, the day's member list, the index and bars for ``[start, end]``.

    ``snapshot`` (or just ``snapshot_end``) anchors the range and the checks. Symbols: ``symbols``
    if given, else every member on any day of the range (per ``membership`` joined to the
    snapshot), plus the source's member list of the day and ``default_symbols``. Raises
    :class:`SourceError` when the source cannot be reached at all (offline: fails at the probe);
    per-symbol failures are collected in the report, and a vendor that stops answering ends the
    update early with ``report.stopped`` set (what was fetched stays committed).
    """
    if snapshot is None and snapshot_end is None:
        raise ConfigError("run_update needs the snapshot (or its last day, snapshot_end)")
    snap_end = snapshot.end if snapshot is not None else pd.Timestamp(snapshot_end)
    lo, hi = default_range(snap_end, start, end)
    report = UpdateReport(source=source.name, start=lo, end=hi)
    if probe:
        source.probe()
    versions = source.library_versions()

    # ---- dated membership history (a local package by default: no vendor call)
    if membership is not None and snapshot is not None:
        report.membership = run_membership_step(membership, cache, snapshot)
        if report.membership.error:
            report.failed["<membership history>"] = report.membership.error

    # ---- the source's member list of the day: a cross-check of the history (or, without one, the
    # only dating there is)
    listed: list[str] = []
    try:
        obs = source.constituents(lo, hi)[list(MEMBERSHIP_COLUMNS)]
        cache.commit(MEMBERSHIP_FILE, obs, kind="membership", source=source.name, library_versions=versions,
                     combine=_combiner(["date", "symbol"]))
        report.membership_rows = len(obs)
        listed = sorted(obs.loc[obs["date"] == obs["date"].max(), "symbol"])
    except (FatalSourceError, VendorDownError) as exc:
        report.stopped = str(exc)
    except (SourceError, DataValidationError) as exc:
        has_history = report.membership is not None and report.membership.membership is not None
        log.info("member list of the day not fetched%s: %s", " (the dated history stands)" if has_history else "", exc)
        if not has_history:
            report.failed["<membership>"] = str(exc)

    # ---- index (its last day is the last trading day the range can have: the resume target)
    target = hi
    if not report.stopped:
        try:
            idx = source.index_bars(lo, hi)
            cache.commit(INDEX_FILE, canonical_index(idx, "index"), kind="index", source=source.name,
                         library_versions=versions, combine=_combiner(["date"]))
            report.index_rows = len(idx)
            if len(idx):
                target = min(hi, idx["date"].max())
        except (FatalSourceError, VendorDownError) as exc:
            report.stopped = str(exc)
        except (SourceError, DataValidationError) as exc:
            log.info("index not updated: %s", exc)  # reported with the failures
            report.failed["<index>"] = str(exc)
    calendar = _cached_calendar(cache, snapshot.calendar if snapshot is not None else None)

    # ---- which symbols
    if symbols:
        wanted = sorted({to_symbol(s) for s in symbols})
    else:
        joined = report.membership.membership if report.membership is not None else None
        base = joined if joined is not None else (snapshot.membership if snapshot is not None else None)
        in_range: set[str] = set()
        if base is not None:
            sp = base.spans
            in_range = set(sp.loc[(sp["start"] <= hi) & (sp["end"].isna() | (sp["end"] > lo)), "symbol"])
        wanted = sorted(in_range | set(listed) | set(default_symbols))
    manifest = cache.read_manifest()
    todo = []
    for sym in wanted:
        entry = manifest["files"].get(bars_path(sym)) or {}
        covered = entry.get("fetched_range") or (manifest.get("no_bars", {}).get(sym) or {}).get("range")
        if covered and pd.Timestamp(covered[0]) <= lo and pd.Timestamp(covered[1]) >= target:
            report.skipped.append(sym)  # resumed run: this symbol is already done
        else:
            todo.append(sym)
    if report.skipped:
        log.info("%d symbol(s) already cached (or known to have no bars) up to %s: skipped",
                 len(report.skipped), target.date())
    if report.stopped:
        report.not_attempted = todo
        cache.record_update(report.as_dict())
        return report
    _fetch_bars(source, cache, report, todo, lo, hi, calendar, snapshot, manifest, versions, progress)
    return report


def _fetch_bars(source: Source, cache: Cache, report: UpdateReport, todo: list[str], lo: pd.Timestamp,
                hi: pd.Timestamp, calendar: pd.DatetimeIndex | None, snapshot: MarketData | None,
                manifest: dict[str, Any], versions: dict[str, str], progress: bool) -> None:
    """One committed file per symbol, paced; stops on a vendor that is down (see module doc)."""
    pacer = getattr(source, "pacer", None)
    if pacer is not None and pacer.interval and todo:
        eta = pacer.eta(2 * len(todo))
        log.info("%s: %d symbol(s), about %d calls paced at %.0f/min: about %.0f min", source.name, len(todo),
                 2 * len(todo), pacer.calls_per_minute, eta / 60)
    snap_syms = set(snapshot.symbols) if snapshot is not None else set()
    snap_end = snapshot.end if snapshot is not None else lo
    overlap_lo = snap_end - pd.Timedelta(days=OVERLAP_DAYS)
    last_cal = calendar[-1] if calendar is not None else None
    from tqdm import tqdm

    bar = tqdm(total=len(todo), unit="symbol", desc=f"{source.name} bars", disable=None if progress else True)
    empty_run = 0
    try:
        for i, sym in enumerate(todo):
            entry = manifest["files"].get(bars_path(sym)) or {}
            sym_lo = lo
            overlaps = bool(entry.get("start")) and pd.Timestamp(entry["start"]) <= snap_end
            if lo > snap_end and sym in snap_syms and not overlaps:
                sym_lo = overlap_lo  # so the merge can check this symbol's factor base at the seam
            try:
                fresh = source.bars(sym, sym_lo, hi)
                validate_bars(fresh, f"{source.name} {sym}")
                fresh = fresh.assign(symbol=fresh["symbol"].astype(str))
                if calendar is not None:
                    off = ~fresh["date"].isin(calendar) & (fresh["date"] <= last_cal)
                    for d in fresh.loc[off, "date"]:
                        key = str(pd.Timestamp(d).date())
                        report.calendar_gaps[key] = report.calendar_gaps.get(key, 0) + 1
                    fresh = fresh[~off]
                # fetched_range: the range asked for (a suspended stock has no bar on its end)
                cache.commit(bars_path(sym), fresh, kind="bars", source=source.name, library_versions=versions,
                             symbol=sym, combine=_combiner(["date", "symbol"]),
                             extra={"fetched_range": [str(sym_lo.date()), str(min(hi, _today()).date())]})
                report.ok.append(sym)
                report.bar_rows += len(fresh)
                empty_run = 0
            except NoDataError:
                last = entry.get("end")
                if last is None and snapshot is not None and sym in snap_syms:
                    last = str(snapshot.bars.loc[snapshot.bars["symbol"] == sym, "date"].max().date())
                reason = _no_bar_reason(sym, sym_lo, hi, report.membership, snapshot)
                report.no_bars[sym] = {"last_bar": last, "reason": reason,
                                       "range": [str(sym_lo.date()), str(min(hi, _today()).date())]}
                empty_run += 1
                if empty_run >= MAX_EMPTY_IN_A_ROW:
                    raise VendorDownError(
                        f"{source.name} answered {empty_run} symbols in a row with no rows "
                        f"({todo[i - empty_run + 1]} .. {sym}): the vendor is not serving bars; stopped. "
                        "Run again later to resume") from None
            except (SourceError, DataValidationError) as exc:
                if isinstance(exc, (VendorDownError, FatalSourceError)):
                    raise
                log.info("%s: %s", sym, exc)  # reported with the failures
                report.failed[sym] = str(exc)
                empty_run = 0
            bar.update(1)
            bar.set_postfix(failed=len(report.failed), no_bars=len(report.no_bars), refresh=False)
    except (VendorDownError, FatalSourceError) as exc:
        report.stopped = str(exc)
        if isinstance(exc, VendorDownError) and empty_run >= MAX_EMPTY_IN_A_ROW:
            # the empty answers that tripped the cut-off are no verdict on those symbols
            for s in list(report.no_bars)[-empty_run:]:
                del report.no_bars[s]
        done = set(report.ok) | set(report.failed) | set(report.no_bars)
        report.not_attempted = [s for s in todo if s not in done]
    finally:
        bar.close()
        report.paced_s = getattr(pacer, "waited", 0.0)
        if report.no_bars or set(report.ok) & set(manifest.get("no_bars", {})):
            found, back = report.no_bars, set(report.ok)

            def keep(man: dict[str, Any]) -> None:
                table = man.setdefault("no_bars", {})
                table.update(found)
                for sym in back & set(table):  # bars again (trading resumed): no longer without bars
                    del table[sym]

            cache.update_manifest(keep)
        cache.record_update(report.as_dict())


def run_characteristics(source: Any, cache: Cache, symbols: Iterable[str], start: pd.Timestamp, end: pd.Timestamp,
                        *, industry: bool = True, progress: bool = True) -> UpdateReport:
    """Fetch vendor characteristics (``source.characteristics(symbol, start, end)``: one committed
    ``characteristics/<symbol>.parquet`` per symbol, merged with what the cache had) and, when the
    source has them and ``industry``, each symbol's industry spans (one ``industry.parquet``,
    committed once all are in). Resumes like :func:`run_update`: a symbol whose cached file was
    fetched for a range covering ``[start, end]`` is skipped. A vendor that stops answering ends the
    run with ``report.stopped`` set (what was fetched stays committed)."""
    from tqdm import tqdm

    from .cache.manifest import INDUSTRY_FILE, characteristics_path

    report = UpdateReport(source=f"{source.name} characteristics", start=start, end=end)
    versions = source.library_versions()
    manifest = cache.read_manifest()
    todo = []
    for sym in sorted({to_symbol(s) for s in symbols}):
        covered = (manifest["files"].get(characteristics_path(sym)) or {}).get("fetched_range")
        if covered and pd.Timestamp(covered[0]) <= start and pd.Timestamp(covered[1]) >= min(end, _today()):
            report.skipped.append(sym)
        else:
            todo.append(sym)
    spans: list[pd.DataFrame] = []
    bar = tqdm(total=len(todo), unit="symbol", desc=f"{source.name} characteristics",
               disable=None if progress else True)
    try:
        for sym in todo:
            try:
                df = source.characteristics(sym, start, end)
                cache.commit(characteristics_path(sym), df, kind="characteristics", source=source.name,
                             library_versions=versions, symbol=sym, combine=_combiner(["date", "symbol"]),
                             extra={"fetched_range": [str(start.date()), str(min(end, _today()).date())]})
                report.ok.append(sym)
                report.bar_rows += len(df)
                if industry:
                    try:
                        spans.append(source.industry(sym))
                    except NoDataError:
                        log.info("%s: the vendor has no industry for it", sym)
            except NoDataError as exc:
                report.no_bars[sym] = {"reason": str(exc).splitlines()[0]}
            except (SourceError, DataValidationError) as exc:
                if isinstance(exc, (VendorDownError, FatalSourceError)):
                    raise
                report.failed[sym] = str(exc)
            bar.update(1)
    except (VendorDownError, FatalSourceError) as exc:
        report.stopped = str(exc)
        done = set(report.ok) | set(report.failed) | set(report.no_bars)
        report.not_attempted = [s for s in todo if s not in done]
    finally:
        bar.close()
    if spans:
        from .characteristics import canonical_industry

        new = canonical_industry(pd.concat(spans, ignore_index=True), f"{source.name} industry")

        def combine(old: pd.DataFrame | None, fresh: pd.DataFrame) -> pd.DataFrame:
            if old is None:
                return fresh
            keep = old[~old["symbol"].isin(fresh["symbol"])]  # a symbol's spans are replaced whole
            return canonical_industry(pd.concat([keep, fresh], ignore_index=True), "industry")

        cache.commit(INDUSTRY_FILE, new, kind="industry", source=source.name, library_versions=versions,
                     combine=combine)
    cache.record_update(report.as_dict())
    return report

"""Merging the user cache into the (never modified) snapshot: appended days, overlap checks,
the factor base at the seam, and membership observations.

:func:`merge_cache` reads a cache folder and merges it; :func:`merge_contents` merges contents
already read. Every disagreement between the two on an overlapping day is a row of
``MarketData.merge_report`` (columns :data:`MERGE_REPORT_COLUMNS`); the snapshot always wins.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.errors import DataValidationError

from ..market import MarketData
from ..membership.merge import merge_membership
from ..schema import INDEX_COLUMNS, anomaly_report, canonical_bars, validate_bars, validate_index
from .manifest import INDEX_FILE, MANIFEST, REPAIR_COMMAND, SPANS_FILE, resolve_cache_dir
from .store import Cache, CacheContents

log = logging.getLogger(__name__)

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

#: a symbol with a bar in the snapshot's last this many trading days can be checked at the seam
SEAM_TRADING_DAYS = 10

MERGE_REPORT_COLUMNS = ("kind", "date", "symbol", "field", "snapshot", "cache", "note")


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

    - Membership: a cached dated history takes over after the snapshot; observed member lists
      extend it after its last known day (:mod:`data_store.membership.merge`).
    - Vendor characteristics and industry spans (the snapshot has none) are carried as they are
      (:attr:`MarketData.characteristics`, :attr:`MarketData.industry`).

    ``on_corrupt='raise'`` (default) raises :class:`CacheError` naming a damaged file and the
    repair command, and :class:`DataValidationError` for cached bars on days the calendar lacks;
    ``'skip'`` merges the intact files and rows, and reports the rest.
    """
    root = resolve_cache_dir(cache_dir)
    if not (root / MANIFEST).is_file():
        log.debug("no cache at %s: snapshot only", root)
        return snap
    contents = Cache(root).read(on_corrupt=on_corrupt)
    if contents.empty:
        return snap
    return merge_contents(snap, contents, label=str(root), validate=validate, strict=on_corrupt == "raise")


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
                   validate: bool = True, strict: bool = True) -> MarketData:
    """Merge already-read cache contents into ``snap`` (see :func:`merge_cache`). ``strict``:
    cached bars on days the calendar lacks raise :class:`DataValidationError` (naming the repair);
    otherwise they are left out and reported."""
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
    bars, brows = _merge_bars(snap, contents.bars, calendar, src, validate=validate, strict=strict)
    report.extend(brows)

    # ---- membership: a dated history, then observed lists
    membership = snap.membership
    spans_entry = contents.manifest.get("files", {}).get(SPANS_FILE, {})
    as_of = spans_entry.get("as_of")
    membership, mrows = merge_membership(snap, contents.spans, contents.membership,
                                         pd.Timestamp(as_of) if as_of else None)
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
        characteristics=contents.characteristics,
        industry=contents.industry,
        _memo={},
    )


def _row(kind: str, date: Any, symbol: str, field: str, snapshot: float, cache: float, note: str) -> dict[str, Any]:
    return {"kind": kind, "date": date, "symbol": symbol, "field": field, "snapshot": snapshot,
            "cache": cache, "note": note}


def _merge_bars(snap: MarketData, cb: pd.DataFrame, calendar: pd.DatetimeIndex, src: str, *,
                validate: bool, strict: bool) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """Cached bars checked on the overlap, rescaled at the seam, appended after the snapshot."""
    report: list[dict[str, Any]] = []
    if not len(cb):
        return snap.bars, report
    snap_end = snap.end
    cb = cb.copy()
    cb["symbol"] = cb["symbol"].astype(str)
    old = cb[cb["date"] <= snap_end]
    if len(old):
        sb = snap.bars
        sel = sb["symbol"].isin(old["symbol"].unique()) & (sb["date"] >= old["date"].min())
        snap_part = sb.loc[sel].assign(symbol=lambda f: f["symbol"].astype(str))
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
                report.append(_row("bars", d, s, col, x, y, "snapshot kept"))
        for d, s in ov.loc[ov["_merge"] == "left_only", ["date", "symbol"]].itertuples(index=False):
            report.append(_row("bars", d, s, "row", np.nan, np.nan,
                               "the snapshot has no bar here; the snapshot is not amended"))
    report += _seam_rows(snap, cb, set(old["symbol"]), src)
    new = cb[cb["date"] > snap_end]
    beyond = new["date"] > calendar[-1]
    for (s,), g in new[beyond].groupby(["symbol"]):
        report.append(_row("bars", g["date"].min(), s, "date", np.nan, float(len(g)),
                           f"{len(g)} cached bar(s) after the last index day {calendar[-1].date()} "
                           "left out; update the index"))
    new = new[~beyond]
    off = ~new["date"].isin(calendar)
    if off.any():
        days = sorted({str(d.date()) for d in new.loc[off, "date"]})
        if strict and validate:
            raise DataValidationError(
                f"{src} bars", "every date is a trading day of the calendar (CSI-300 index dates)", int(off.sum()),
                new.loc[off, ["date", "symbol", "close"]].head().to_string(),
                fix=f"the cached index lacks {', '.join(days[:3])}{' ...' if len(days) > 3 else ''}: "
                    f"run `{REPAIR_COMMAND}` to drop those rows",
            )
        for (s,), g in new[off].groupby(["symbol"]):
            report.append(_row("bars", g["date"].min(), s, "calendar", np.nan, float(len(g)),
                               f"{len(g)} cached bar(s) on days the calendar lacks left out; "
                               f"`{REPAIR_COMMAND}` drops them"))
        new = new[~off]
    if not len(new):
        return snap.bars, report
    new_bars = canonical_bars(new, f"{src} bars")
    if validate:
        validate_bars(new_bars, f"{src} bars", calendar)
    return _append_bars(snap.bars, new_bars), report


def _seam_rows(snap: MarketData, cb: pd.DataFrame, overlapping: set[str], src: str) -> list[dict[str, Any]]:
    """Symbols that traded in the snapshot's last days but whose cached bars all come after it:
    their factor base could not be checked (an update with an overlapping --start fixes that)."""
    after = set(cb.loc[cb["date"] > snap.end, "symbol"]) - overlapping
    if not after:
        return []
    tail = snap.bars[snap.bars["date"] >= snap.calendar[max(0, len(snap.calendar) - SEAM_TRADING_DAYS)]]
    at_seam = set(tail["symbol"].astype(str))
    missing = sorted(after & at_seam)
    if missing:
        log.warning("%s: %d symbol(s) traded in the snapshot's last %d days but their cached bars start after "
                    "it, so their factor base is not checked at the seam: run `python -m data_store update` "
                    "(its default --start overlaps the snapshot): %s", src, len(missing), SEAM_TRADING_DAYS,
                    ", ".join(missing[:10]))
    others = len(after - at_seam)
    if others:
        log.info("%s: %d symbol(s) have no bar in the snapshot's last days (new members, suspended): their "
                 "vendor factor base is kept", src, others)
    return [_row("bars", snap.end, s, "seam", np.nan, np.nan,
                 "no common day with the snapshot: the factor base is the vendor's, unchecked") for s in missing]


def _append_bars(old: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """Concatenate canonical bars whose dates all follow ``old``'s, keeping one sorted category."""
    cats = sorted(set(old["symbol"].cat.categories) | set(new["symbol"].cat.categories))
    dtype = pd.CategoricalDtype(cats)
    parts = []
    for df in (old, new):
        codes = pd.Index(cats).get_indexer(df["symbol"].cat.categories)[df["symbol"].cat.codes.to_numpy()]
        parts.append(df.assign(symbol=pd.Categorical.from_codes(codes, dtype=dtype)))
    return pd.concat(parts, ignore_index=True)

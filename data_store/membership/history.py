"""Dated membership histories: joining one to the snapshot, deriving one from member lists, and
measuring how two of them agree.

Spans are half-open everywhere (a member on day d when ``start <= d < end``; ``end`` NaT = still
a member). The snapshot's spans hold up to its last day; a dated history takes over from the
*seam*, the first day after it (:func:`join_at_seam`). Member lists observed on dates (tushare's
monthly ``index_weight``) become spans with :func:`spans_from_lists`, each change dated at the
CSI-300 review it belongs to (:func:`review_days`), never earlier than the list that shows it
could allow: a change seen in the list of day d happened on or before d.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .universe import Membership

SPAN_COLUMNS: tuple[str, ...] = ("symbol", "name", "start", "end", "source")
#: differences between two histories that last at most this many trading days next to a change
#: of either are a dating convention (a review dated on its Friday or its Monday), not a
#: disagreement about who was a member
TIMING_DAYS = 5


def review_days(calendar: pd.DatetimeIndex) -> pd.DatetimeIndex:
    """CSI-300's scheduled reviews: effective the first trading day after the second Friday of
    June and of December (CSI index methodology), for every year ``calendar`` covers."""
    cal = pd.DatetimeIndex(calendar)
    if cal.empty:
        return cal
    out = []
    for year in range(cal[0].year, cal[-1].year + 1):
        for month in (6, 12):
            fridays = pd.date_range(f"{year}-{month:02d}-01", periods=3, freq="W-FRI")
            after = cal[cal > fridays[1]]
            if len(after):
                out.append(after[0])
    return pd.DatetimeIndex(out, name="date")


def spans_from_lists(lists: pd.DataFrame, calendar: pd.DatetimeIndex, source: str) -> pd.DataFrame:
    """Spans from member lists ``date, symbol, name`` (one list per date).

    Between two consecutive lists dated p < d, a name that appears (or disappears) changed on the
    last scheduled review in (p, d] when there is one (reviews are announced about two weeks
    before they take effect), else on d (an ad-hoc change: a delisting, a merger). The first list
    opens spans on its own date; names of the last list stay open.
    """
    reviews = review_days(calendar)
    dates = sorted(pd.DatetimeIndex(lists["date"].unique()))
    names = dict(zip(lists["symbol"], lists["name"], strict=False))
    by_date = {d: set(g["symbol"]) for d, g in lists.groupby("date")}
    open_: dict[str, pd.Timestamp] = {s: dates[0] for s in by_date[dates[0]]} if dates else {}
    rows: list[dict[str, Any]] = []
    for p, d in zip(dates[:-1], dates[1:], strict=True):
        inside = reviews[(reviews > p) & (reviews <= d)]
        when = inside[-1] if len(inside) else d
        before, now = by_date[p], by_date[d]
        for s in sorted(before - now):
            rows.append({"symbol": s, "name": names.get(s, ""), "start": open_.pop(s), "end": when})
        for s in sorted(now - before):
            open_[s] = when
    rows += [{"symbol": s, "name": names.get(s, ""), "start": t, "end": pd.NaT} for s, t in sorted(open_.items())]
    out = pd.DataFrame(rows, columns=list(SPAN_COLUMNS[:-1]))
    out["source"] = source
    return out.astype({"start": "datetime64[ns]", "end": "datetime64[ns]"})


def _merge_contiguous(spans: pd.DataFrame) -> pd.DataFrame:
    """Join spans of one symbol where one ends on (or after) the day the next starts; the joined
    span names every source it comes from, in order."""
    far = pd.Timestamp.max.normalize()
    sp = spans.sort_values(["symbol", "start"], kind="stable").reset_index(drop=True)
    end = sp["end"].fillna(far)
    reach = end.groupby(sp["symbol"]).cummax().groupby(sp["symbol"]).shift()
    gid = (sp["symbol"] != sp["symbol"].shift()) | ~(sp["start"] <= reach)
    g = sp.groupby(gid.cumsum(), sort=False)
    out = pd.DataFrame({
        "symbol": g["symbol"].first(),
        "name": g["name"].agg(lambda n: next((x for x in reversed(list(n)) if x), "")),
        "start": g["start"].min(),
        "end": end.groupby(gid.cumsum()).max().where(lambda e: e < far),
        "source": g["source"].agg(lambda v: " + ".join(dict.fromkeys(p for x in v for p in str(x).split(" + ")))),
    })
    return out.reset_index(drop=True)[list(SPAN_COLUMNS)]


def join_at_seam(base: Membership, history: pd.DataFrame, seam: pd.Timestamp) -> Membership:
    """``base`` (the snapshot) before ``seam``, ``history`` from ``seam`` on, as one Membership.

    Each span keeps its ``source``; a membership that runs across the seam becomes one span whose
    source names both ("snapshot membership.csv + index-constitution 1.0.1").
    """
    seam = pd.Timestamp(seam)
    b = base.spans[base.spans["start"] < seam].copy()
    b["end"] = b["end"].where(b["end"].notna() & (b["end"] <= seam), seam)
    h = history[history["end"].isna() | (history["end"] > seam)].copy()
    h["start"] = h["start"].where(h["start"] >= seam, seam)
    spans = _merge_contiguous(pd.concat([b[list(SPAN_COLUMNS)], h[list(SPAN_COLUMNS)]], ignore_index=True))
    return Membership.from_frame(spans, "membership joined at the seam")


def changes(membership: Membership, after: pd.Timestamp) -> list[dict[str, Any]]:
    """Every change on a day after ``after``: ``{date, joined, left, source}`` in date order."""
    sp = membership.spans
    events: dict[pd.Timestamp, dict[str, Any]] = {}
    for r in sp.itertuples():
        for day, key in ((r.start, "joined"), (r.end, "left")):
            if pd.notna(day) and day > after:
                e = events.setdefault(day, {"date": str(day.date()), "joined": [], "left": [], "source": set()})
                e[key].append(r.symbol)
                e["source"].add(str(r.source).split(" + ")[-1])
    out = []
    for day in sorted(events):
        e = events[day]
        net = set(e["joined"]) & set(e["left"])  # a span split at the seam is no change
        e["joined"] = sorted(set(e["joined"]) - net)
        e["left"] = sorted(set(e["left"]) - net)
        if e["joined"] or e["left"]:
            e["source"] = " / ".join(sorted(e["source"]))
            out.append(e)
    return out


@dataclass(frozen=True)
class Agreement:
    """How a membership history agrees with a reference (the snapshot) on trading days.

    ``only_source`` / ``only_reference``: member-days one has and the other lacks. A run of
    disagreeing days of one symbol that lasts at most :data:`TIMING_DAYS` trading days and touches
    a change of either history counts as ``timing`` (the same change dated a few days apart);
    the rest is ``substance`` (the histories disagree about who was a member).
    """

    start: pd.Timestamp
    end: pd.Timestamp
    days: int
    reference_member_days: int
    days_differ: int
    only_source: int
    only_reference: int
    names_differ: int
    timing_member_days: int
    timing_names: int
    substance_member_days: int
    substance_names: int
    worst: list[tuple[str, int]] = field(default_factory=list)

    @property
    def member_days_differ(self) -> int:
        return self.only_source + self.only_reference

    def as_dict(self) -> dict[str, Any]:
        return {
            "range": f"{self.start.date()}..{self.end.date()}", "days": self.days,
            "days_differ": self.days_differ, "member_days": self.reference_member_days,
            "member_days_differ": self.member_days_differ, "only_source": self.only_source,
            "only_reference": self.only_reference, "names_differ": self.names_differ,
            "timing_member_days": self.timing_member_days, "timing_names": self.timing_names,
            "substance_member_days": self.substance_member_days, "substance_names": self.substance_names,
            "worst": [f"{s} {n}d" for s, n in self.worst],
        }


def agreement(source: Membership, reference: Membership, calendar: pd.DatetimeIndex,
              start: pd.Timestamp | str | None = None, end: pd.Timestamp | str | None = None) -> Agreement:
    """Compare two memberships day by day on the trading days of ``calendar`` in ``[start, end]``."""
    cal = pd.DatetimeIndex(calendar)
    cal = cal[(cal >= pd.Timestamp(start or cal[0])) & (cal <= pd.Timestamp(end or cal[-1]))]
    symbols = sorted(set(source.symbols) | set(reference.symbols))
    a = source.mask(cal, symbols).to_numpy()
    b = reference.mask(cal, symbols).to_numpy()
    diff = a != b
    edges = _change_days(a) | _change_days(b)
    timing = np.zeros_like(diff)
    for j in np.flatnonzero(diff.any(axis=0)):
        col = diff[:, j]
        i = 0
        while i < len(col):
            if not col[i]:
                i += 1
                continue
            k = i
            while k + 1 < len(col) and col[k + 1]:
                k += 1
            near = edges[max(0, i - 1):min(len(col), k + 2), j].any()
            if k - i + 1 <= TIMING_DAYS and near:
                timing[i:k + 1, j] = True
            i = k + 1
    substance = diff & ~timing
    per_name = diff.sum(axis=0)
    worst = sorted(((symbols[j], int(n)) for j, n in enumerate(per_name) if n), key=lambda t: (-t[1], t[0]))[:5]
    return Agreement(
        start=cal[0], end=cal[-1], days=len(cal), reference_member_days=int(b.sum()),
        days_differ=int(diff.any(axis=1).sum()), only_source=int((a & ~b).sum()), only_reference=int((b & ~a).sum()),
        names_differ=int(diff.any(axis=0).sum()),
        timing_member_days=int(timing.sum()), timing_names=int(timing.any(axis=0).sum()),
        substance_member_days=int(substance.sum()), substance_names=int(substance.any(axis=0).sum()),
        worst=worst,
    )


def _change_days(mask: np.ndarray) -> np.ndarray:
    """True on the days a symbol's membership flips (and the day before)."""
    flip = np.zeros_like(mask)
    d = mask[1:] != mask[:-1]
    flip[1:] |= d
    flip[:-1] |= d
    return flip

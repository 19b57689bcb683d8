"""Point-in-time membership beyond the snapshot: a dated history first, observed lists after it.

1. A dated history in the cache (``membership_spans.parquet``, see
   :mod:`data_store.sources.membership`) takes over from the day after the snapshot
   (:func:`~data_store.membership.history.join_at_seam`); every span names its source.
2. Member lists observed on dates (``membership.parquet``: the vendor's list of the day an update
   ran) are checked against that membership on their date, each difference a row of the merge
   report; lists dated after the history's last known day (or after the snapshot, when there is
   no history) extend the spans the old way: a member missing from a list leaves on that list's
   date, a new name joins on it. Such a change is known no earlier than it happened, so it never
   looks ahead, but it may be late (up to the time between two updates); ``info`` says so.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ..market import MarketData
from .history import join_at_seam
from .universe import Membership

#: a member list shorter than this is treated as incomplete (a vendor glitch), not as 100+ exits
MIN_LIST_SIZE = 250


def merge_membership(snap: MarketData, spans: pd.DataFrame | None, obs: pd.DataFrame | None,
                     history_as_of: pd.Timestamp | None = None) -> tuple[Membership, list[dict[str, Any]]]:
    """The snapshot's membership, joined to the cached history and extended by later lists.

    Returns the membership and the merge-report rows (``kind='membership'``).
    """
    report: list[dict[str, Any]] = []
    membership = snap.membership
    horizon = snap.end
    if spans is not None and len(spans):
        membership = join_at_seam(snap.membership, spans, snap.end + pd.Timedelta(days=1))
        as_of = history_as_of if history_as_of is not None else pd.concat([spans["start"], spans["end"]]).max()
        horizon = max(horizon, pd.Timestamp(as_of))
    if obs is None or not len(obs):
        return membership, report
    sizes = obs.groupby("date")["symbol"].nunique()
    for d in sizes.index[sizes < MIN_LIST_SIZE]:
        report.append({"kind": "membership", "date": d, "symbol": "", "field": "list size",
                       "snapshot": np.nan, "cache": float(sizes[d]),
                       "note": f"a list of {sizes[d]} names is incomplete (< {MIN_LIST_SIZE}); ignored"})
    obs = obs[obs["date"].isin(sizes.index[sizes >= MIN_LIST_SIZE])]
    kept = "snapshot kept" if spans is None or not len(spans) else "dated history kept"
    for d, g in obs[obs["date"] <= horizon].groupby("date"):
        listed, known = set(g["symbol"]), set(membership.members(d))
        note = "snapshot kept" if d <= snap.end else kept
        for s in sorted(listed - known):
            report.append({"kind": "membership", "date": d, "symbol": s, "field": "member",
                           "snapshot": 0.0, "cache": 1.0, "note": note})
        for s in sorted(known - listed):
            report.append({"kind": "membership", "date": d, "symbol": s, "field": "member",
                           "snapshot": 1.0, "cache": 0.0, "note": note})
    later = obs[obs["date"] > horizon]
    if later.empty:
        return membership, report
    sp = membership.spans.copy()
    names = dict(zip(later["symbol"], later["name"], strict=False))
    for d, g in later.groupby("date"):
        listed = set(g["symbol"])
        open_ = sp["end"].isna()
        sp.loc[open_ & ~sp["symbol"].isin(listed), "end"] = d
        current = set(sp.loc[sp["end"].isna(), "symbol"])
        new = [{"symbol": s, "name": names.get(s, ""), "start": d, "end": pd.NaT,
                "source": f"observed list {pd.Timestamp(d).date()}"} for s in sorted(listed - current)]
        if new:
            sp = pd.concat([sp, pd.DataFrame(new)], ignore_index=True)
    return Membership.from_frame(sp, "membership + observed lists"), report

"""The membership step of an update: a dated history into the cache, checked against the snapshot.

The history (default: index-constitution, see :mod:`data_store.sources.membership`) is stored
whole in ``membership_spans.parquet``; its manifest entry names the source, its last known day,
how it agrees with the snapshot's membership on the snapshot's days, and every change after the
snapshot (date, names in, names out, source). The merge then dates membership after the snapshot
from it (:mod:`data_store.membership.merge`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pandas as pd

from core.errors import DataValidationError

from ..cache.manifest import SPANS_COLUMNS, SPANS_FILE
from ..cache.store import Cache
from ..errors import SourceError
from ..market import MarketData
from ..sources.membership import MembershipSource
from .history import agreement, changes, join_at_seam
from .universe import Membership

log = logging.getLogger(__name__)

#: A history that disagrees with the snapshot on more member-days than this fraction is refused
#: (a wrong file, another index): the snapshot's own source agrees exactly.
MAX_SUBSTANCE_DISAGREEMENT = 0.05


@dataclass
class MembershipStep:
    """What the membership step did: the history's label and figures, or why it failed."""

    label: str = ""
    as_of: str | None = None
    spans: int = 0
    agreement: dict[str, Any] | None = None
    changes: list[dict[str, Any]] | None = None
    error: str = ""
    membership: Membership | None = None  # the snapshot joined to the history (None: no history)


def run_membership_step(source: MembershipSource, cache: Cache, snapshot: MarketData) -> MembershipStep:
    """Fetch ``source``'s history, check it against ``snapshot`` and commit it (one atomic file)."""
    step = MembershipStep()
    try:
        hist = source.history()
    except (SourceError, DataValidationError) as exc:
        step.error = str(exc).splitlines()[0]
        log.info("membership history not updated: %s", step.error)  # reported with the failures
        return step
    history = Membership.from_frame(hist.spans, hist.label)
    agree = agreement(history, snapshot.membership, snapshot.calendar)
    share = agree.substance_member_days / max(1, agree.reference_member_days)
    if share > MAX_SUBSTANCE_DISAGREEMENT:
        step.error = (f"{hist.label} disagrees with the snapshot's membership on {agree.substance_member_days:,} "
                      f"of {agree.reference_member_days:,} member-days ({share:.1%}) of "
                      f"{agree.start.date()}..{agree.end.date()}: refused (is it the CSI-300's history?)")
        log.info("%s", step.error)
        return step
    joined = join_at_seam(snapshot.membership, hist.spans, snapshot.end + pd.Timedelta(days=1))
    after = changes(joined, snapshot.end)
    spans = hist.spans.assign(source=hist.label)[list(SPANS_COLUMNS)].reset_index(drop=True)
    entry = cache.commit(SPANS_FILE, spans, kind="spans", source=hist.label, library_versions=hist.versions,
                         extra={"as_of": str(hist.as_of.date()), "label": hist.label,
                                "span_sources": spans["source"].value_counts().to_dict(),
                                "agreement_with_snapshot": agree.as_dict(), "changes_after_snapshot": after})
    if agree.member_days_differ:
        log.info("%s vs the snapshot on %s: %d member-days differ (%d timing, %d substance) over %d names",
                 hist.label, entry["agreement_with_snapshot"]["range"], agree.member_days_differ,
                 agree.timing_member_days, agree.substance_member_days, agree.names_differ)
    step.label, step.as_of, step.spans = hist.label, str(hist.as_of.date()), len(spans)
    step.agreement, step.changes, step.membership = agree.as_dict(), after, joined
    return step

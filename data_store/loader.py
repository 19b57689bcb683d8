"""``data_store.load()``: the snapshot, validated, merged with the user cache."""

from __future__ import annotations

import logging
from pathlib import Path

import pandas as pd

from .market import MarketData
from .membership.universe import Membership
from .schema import anomaly_report, canonical_bars, canonical_index, validate_bars, validate_index
from .snapshot import read_snapshot

log = logging.getLogger(__name__)


def load_snapshot(validate: bool = True) -> MarketData:
    """The embedded snapshot alone, in canonical form (validated unless ``validate=False``)."""
    raw = read_snapshot()
    index = canonical_index(raw.index, "snapshot index_000300.parquet")
    bars = canonical_bars(raw.bars, "snapshot bars.parquet")
    calendar = pd.DatetimeIndex(index["date"])
    if validate:
        validate_index(index, "snapshot index_000300.parquet")
        validate_bars(bars, "snapshot bars.parquet", calendar)
    return MarketData(
        bars=bars,
        index=index,
        membership=Membership.from_frame(raw.membership, "snapshot membership.csv"),
        events=raw.events,
        anomalies=anomaly_report(bars, calendar),
        provenance=raw.readme,
    )


def load(cache_dir: str | Path | None = None, *, use_cache: bool = True, validate: bool = True) -> MarketData:
    """Load the market data: the embedded snapshot merged with the user cache (if any).

    Args:
        cache_dir: the cache folder; default ``$CSI300_CACHE_DIR`` or the user's cache dir.
        use_cache: ``False`` gives the snapshot alone (reproducible runs).
        validate: run the schema checks (raise :class:`DataValidationError` on a broken rule).
    """
    snap = load_snapshot(validate=validate)
    if not use_cache:
        return snap
    from .cache.merge import merge_cache

    return merge_cache(snap, cache_dir, validate=validate)

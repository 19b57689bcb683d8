"""User cache of updates beyond the snapshot (parquet files + manifest). Being built out."""

from __future__ import annotations

from pathlib import Path

from .market import MarketData


def merge_cache(snap: MarketData, cache_dir: str | Path | None, validate: bool = True) -> MarketData:
    """Merge the cache into the snapshot. (The cache layer lands with the update CLI; until then
    there is nothing to merge.)"""
    return snap

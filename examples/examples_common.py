"""Helpers shared by the example research scripts."""

from __future__ import annotations

import pandas as pd

import data_store


def liquid_members(md: data_store.MarketData, n: int, since: str) -> list[str]:
    """The ``n`` symbols with the most tradable member days since ``since`` (a fixed, causal-enough
    selection for a quick study; use --symbols 0 for the whole universe)."""
    days = md.tradable_mask().loc[pd.Timestamp(since):].sum()
    return sorted(days.nlargest(n).index)

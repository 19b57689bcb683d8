"""Helpers shared by the example research scripts (the standard library only at the top, so that a
script's ``--help`` answers before pandas and the toolkit load)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import data_store


def liquid_members(md: data_store.MarketData, n: int, since: str) -> list[str]:
    """The ``n`` symbols with the most tradable member days since ``since`` (a fixed, causal-enough
    selection for a quick study; use --n-symbols 0 for the whole universe)."""
    import pandas as pd

    days = md.tradable_mask().loc[pd.Timestamp(since):].sum()
    return sorted(days.nlargest(n).index)


def add_study_args(p: argparse.ArgumentParser, epochs: int = 4) -> None:
    """The arguments every multi-stock example shares."""
    p.add_argument("--n-symbols", type=int, default=40,
                   help="the N most often tradable members of the test span (0 = the whole universe)")
    p.add_argument("--start", default="2019-01-01")
    p.add_argument("--test-start", default="2022-01-01")
    p.add_argument("--end", default="2025-06-30")
    p.add_argument("--epochs", type=int, default=epochs)
    p.add_argument("--hidden", type=int, default=16)


def study_market(args: argparse.Namespace) -> data_store.MarketData:
    """The snapshot cut to the study's dates and (optionally) its most-traded symbols."""
    import data_store

    md = data_store.load(use_cache=False).slice(args.start, args.end)
    if args.n_symbols:
        md = md.slice(symbols=liquid_members(md, args.n_symbols, args.test_start))
    return md

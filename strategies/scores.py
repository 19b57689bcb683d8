"""Simple causal scores as predictions tables (for smoke runs, benchmarks and baselines).

These are not models: they give :func:`strategies.run_backtest` a ``date, symbol, p_up`` table
built only from data up to each decision day's close.
"""

from __future__ import annotations

import pandas as pd

from data_store import MarketData


def momentum_predictions(
    md: MarketData,
    lookback: int = 20,
    start: str | pd.Timestamp | None = None,
    end: str | pd.Timestamp | None = None,
    model: str = "momentum",
) -> pd.DataFrame:
    """``p_up`` = cross-sectional percentile rank of the ``lookback``-day adjusted close return.

    Known at the close of day t (uses adjusted closes of t and t - lookback trading days, both on
    or before t). One row per (date, symbol) where the stock is a tradable point-in-time member
    on t and the return is defined; ranks are in (0, 1], the best momentum ranks highest.

    Returns columns ``date, symbol, p_up, model``.
    """
    if lookback < 1:
        raise ValueError(f"lookback={lookback!r} must be >= 1 trading day")
    close = md.panel("close", adjusted=True)
    # the last available close on or before t (a suspended day keeps the previous close)
    past = close.ffill()
    mom = past / past.shift(lookback) - 1.0
    mom = mom.where(md.tradable_mask())
    lo = md.start if start is None else pd.Timestamp(start)
    hi = md.end if end is None else pd.Timestamp(end)
    mom = mom.loc[(mom.index >= lo) & (mom.index <= hi)]
    p = mom.rank(axis=1, pct=True)
    long = p.stack().rename("p_up").reset_index()
    long.columns = ["date", "symbol", "p_up"]
    long["symbol"] = long["symbol"].astype(str)
    long["model"] = model
    return long.sort_values(["date", "symbol"], ignore_index=True)


__all__ = ["momentum_predictions"]

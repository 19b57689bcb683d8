"""Vendor characteristics beyond the bars: capitalisation, valuation and industry, in canonical form.

The embedded snapshot has none of these. A vendor that serves them (tushare ``daily_basic`` and
``index_member_all``; akshare's daily bars, whose turnover rate gives the float shares) is asked by
``python -m data_store update --characteristics``; the adapters translate its frames
(:mod:`data_store.sources.vendors`) into the two canonical tables below, the cache stores them
(``characteristics/<symbol>.parquet``, ``industry.parquet``), and :func:`data_store.load` puts them on
:attr:`MarketData.characteristics` and :attr:`MarketData.industry`.

Characteristics, one row per (date, symbol), each known at that day's close:

==============  ==========  ========================================================================
column          units       meaning
==============  ==========  ========================================================================
total_mv        CNY         total market value (tushare ``total_mv``, given in 10,000 CNY)
float_mv        CNY         market value of the float (tushare ``circ_mv``; akshare: float shares x
                            raw close)
float_shares    shares      shares in the float (tushare ``float_share``, given in 10,000 shares;
                            akshare: volume / turnover rate)
pb              ratio       price to book (total market value / net assets), NaN when not given
pe              ratio       price to earnings, NaN for a loss (the vendor leaves it empty)
==============  ==========  ========================================================================

Industry spans ``symbol, industry, start, end``: the member is in ``industry`` on days
``start <= d < end`` (``end`` NaT while current), Shenwan level 1 (tushare ``l1_name``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.errors import DataValidationError

__all__ = ["CHARACTERISTIC_COLUMNS", "INDUSTRY_COLUMNS", "canonical_characteristics", "canonical_industry"]

CHARACTERISTIC_COLUMNS: tuple[str, ...] = ("date", "symbol", "total_mv", "float_mv", "float_shares", "pb", "pe")
INDUSTRY_COLUMNS: tuple[str, ...] = ("symbol", "industry", "start", "end")
_VALUES = CHARACTERISTIC_COLUMNS[2:]


def canonical_characteristics(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """``df`` in the canonical characteristics schema (missing value columns added as NaN), sorted
    by (date, symbol). Raises :class:`DataValidationError` for repeated (date, symbol) pairs, a
    missing date or symbol, or a negative size."""
    if "date" not in df.columns or "symbol" not in df.columns:
        raise DataValidationError(source, "columns date and symbol present", len(df))
    out = df.copy()
    for c in _VALUES:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype("float64") if c in out.columns else np.nan
    out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]")
    out["symbol"] = out["symbol"].astype(str)
    out = out[list(CHARACTERISTIC_COLUMNS)]
    if out["date"].isna().any():
        raise DataValidationError(source, "every row dated", int(out["date"].isna().sum()))
    dup = out.duplicated(["date", "symbol"], keep=False)
    if dup.any():
        raise DataValidationError(source, "(date, symbol) unique", int(dup.sum()), out.loc[dup].head().to_string())
    for c in ("total_mv", "float_mv", "float_shares"):
        neg = out[c] < 0
        if neg.any():
            raise DataValidationError(source, f"{c} >= 0", int(neg.sum()), out.loc[neg].head().to_string())
    for c in _VALUES:  # an infinite value (a turnover rate of 0 divided into the volume) is no value
        v = out[c].to_numpy()
        out.loc[~np.isfinite(v), c] = np.nan
    return out.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def canonical_industry(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """``df`` in the canonical industry-span schema, sorted by (symbol, start). Raises
    :class:`DataValidationError` for a span without a start or ending before it starts, or two
    spans of one symbol that overlap."""
    missing = [c for c in INDUSTRY_COLUMNS if c not in df.columns]
    if missing:
        raise DataValidationError(source, f"columns {list(INDUSTRY_COLUMNS)} present (missing {missing})", len(df))
    out = df[list(INDUSTRY_COLUMNS)].copy()
    out["symbol"] = out["symbol"].astype(str)
    out["industry"] = out["industry"].astype(str)
    out["start"] = pd.to_datetime(out["start"]).astype("datetime64[ns]")
    out["end"] = pd.to_datetime(out["end"]).astype("datetime64[ns]")
    bad = out["start"].isna() | (out["end"].notna() & (out["end"] <= out["start"]))
    if bad.any():
        raise DataValidationError(source, "every span starts before it ends", int(bad.sum()),
                                  out.loc[bad].head().to_string())
    out = out.sort_values(["symbol", "start"], kind="stable").reset_index(drop=True)
    same = out["symbol"].eq(out["symbol"].shift(-1))
    prev_end = out["end"].fillna(pd.Timestamp.max)
    overlap = same & (prev_end > out["start"].shift(-1))
    if overlap.any():
        raise DataValidationError(source, "one industry per symbol and day (spans do not overlap)", int(overlap.sum()),
                                  out.loc[overlap | overlap.shift(1, fill_value=False)].head().to_string())
    return out

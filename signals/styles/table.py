"""Your own characteristics from a table: ``date, symbol`` and one column per characteristic.

The file (parquet or CSV) holds one row per (date, symbol): ``date`` the day whose close the values
are known at, ``symbol`` exchange-prefixed (``SH600519``; ``600519.SH`` and ``sh600519`` are read as
that), and any number of numeric columns, each a characteristic named by its column (lower case,
letters, digits and ``_``). A missing row is a missing value; a present value must be a finite
number (NaN or an infinity in a cell is refused: leave the row out instead). Values are used as
given: the side a baseline holds is the high one.

The leakage audit cannot see what a table reads (it is fixed before the run starts, like a user
feature computed elsewhere): a value dated ``d`` must be known at the close of ``d``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from core.errors import DataValidationError

from ..errors import ConfigError
from .config import USER_NAME

__all__ = ["read_table", "table_panels"]


def read_table(path: str | Path) -> pd.DataFrame:
    """The checked table at ``path`` (see the module docstring): ``date``, ``symbol`` and the value
    columns, sorted. Raises :class:`ConfigError` for a missing file or bad column names and
    :class:`DataValidationError` for bad values, each naming the value and the fix."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"styles.table = {str(p)!r} does not exist: give a parquet or CSV file of date, symbol and "
                          "your characteristics")
    try:
        raw = pd.read_parquet(p) if p.suffix.lower() in (".parquet", ".pq") else pd.read_csv(p)
    except Exception as exc:  # pandas and pyarrow raise several kinds for an unreadable file
        raise ConfigError(f"styles.table = {str(p)!r} cannot be read as parquet or CSV: {exc}") from None
    return check_table(raw, str(p))


def check_table(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """The checks of :func:`read_table` on a frame already read."""
    from data_store.sources.vendors import to_symbol

    for need in ("date", "symbol"):
        if need not in raw.columns:
            raise ConfigError(f"styles.table {source}: no {need!r} column (it needs date, symbol and one column per "
                              "characteristic)")
    values = [c for c in raw.columns if c not in ("date", "symbol")]
    if not values:
        raise ConfigError(f"styles.table {source}: no characteristic column besides date and symbol")
    bad = [c for c in values if not re.fullmatch(USER_NAME, str(c))]
    if bad:
        raise ConfigError(f"styles.table {source}: column name(s) {bad} must be lower case letters, digits and _ "
                          "(e.g. book_to_price)")
    out = raw[["date", "symbol", *values]].copy()
    try:
        out["date"] = pd.to_datetime(out["date"]).astype("datetime64[ns]").dt.normalize()
    except (ValueError, TypeError) as exc:
        raise DataValidationError(source, f"dates readable ({exc})", len(out)) from None
    try:
        out["symbol"] = [to_symbol(s) for s in out["symbol"]]
    except ConfigError as exc:
        raise ConfigError(f"styles.table {source}: {exc}") from None
    for c in values:
        v = pd.to_numeric(out[c], errors="coerce")
        nonfinite = ~np.isfinite(v.to_numpy(dtype=float))
        if nonfinite.any():
            i = int(np.flatnonzero(nonfinite)[0])
            raise DataValidationError(source, f"column {c!r} a finite number in every row (row {i}: "
                                              f"{raw[c].iloc[i]!r}; leave out the rows without a value)",
                                      int(nonfinite.sum()))
        out[c] = v.astype("float64")
    dup = out.duplicated(["date", "symbol"], keep=False)
    if dup.any():
        raise DataValidationError(source, "(date, symbol) unique", int(dup.sum()), out.loc[dup].head().to_string())
    return out.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def table_panels(table: pd.DataFrame, calendar: pd.DatetimeIndex, symbols: list[str]) -> dict[str, np.ndarray]:
    """Each value column of a checked table as a calendar x symbols array (NaN where no row); rows
    off the calendar or of other symbols are left out."""
    d = calendar.get_indexer(pd.DatetimeIndex(table["date"]))
    s = pd.Index(symbols).get_indexer(table["symbol"])
    ok = (d >= 0) & (s >= 0)
    out = {}
    for c in table.columns:
        if c in ("date", "symbol"):
            continue
        arr = np.full((len(calendar), len(symbols)), np.nan)
        arr[d[ok], s[ok]] = table[c].to_numpy(np.float64)[ok]
        out[str(c)] = arr
    return out

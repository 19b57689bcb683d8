"""Exchange boards of A-share symbols and their daily price-limit percentages (market facts).

The trading rules in ``strategies`` and the anomaly report of ``data_store`` both read this one
table, so the limit of a board on a date is defined once.

| board   | symbols                     | daily limit                                     |
| ------- | --------------------------- | ----------------------------------------------- |
| main    | SH60xxxx, SZ000/001/002/003 | 10%                                             |
| chinext | SZ300/301/302               | 20% from 2020-08-24 (registration reform), 10% before |
| star    | SH688/689                   | 20% (since the board opened in 2019)            |

Order sizes: a buy on the main board or ChiNext is a whole number of 100-share lots; on the STAR
Market a buy is at least 200 shares and may then grow one share at a time (the board's own trading
rules, in force since it opened on 2019-07-22), so no STAR symbol of the data ever traded under
the other rule. A sell that empties a position may be any size on every board; a partial sell
follows the board's buy sizes.

ST stocks (5%) are not modelled: the snapshot carries no ST flags (see README, limitations).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: First trading day of ChiNext's 20% limit (registration-based IPO reform).
CHINEXT_20PCT_FROM = pd.Timestamp("2020-08-24")
#: Limits as fractions of the reference (previous) close.
MAIN_LIMIT = 0.10
WIDE_LIMIT = 0.20
#: Newly listed stocks on every board trade without a limit for this many days.
NO_LIMIT_LISTING_DAYS = 5
#: Shares per lot of a main-board or ChiNext order (the smallest order and its step).
LOT = 100
#: STAR Market orders: at least this many shares, ...
STAR_MIN_ORDER = 200
#: ... then any number of shares in steps of this many.
STAR_STEP = 1


def board_of(symbol: str) -> str:
    """Return ``'main'``, ``'chinext'`` or ``'star'`` for an exchange-prefixed symbol."""
    code = symbol[2:]
    if symbol.startswith("SZ") and code.startswith("30"):
        return "chinext"
    if symbol.startswith("SH") and code.startswith(("688", "689")):
        return "star"
    return "main"


def order_sizes(symbol: str) -> tuple[int, int]:
    """(smallest order, step) in shares of a partial order in ``symbol``: (200, 1) on the STAR
    Market, (100, 100) elsewhere (see the module's table)."""
    if board_of(symbol) == "star":
        return STAR_MIN_ORDER, STAR_STEP
    return LOT, LOT


def limit_pct(symbol: str, date: pd.Timestamp | str) -> float:
    """Daily price limit of ``symbol`` on ``date`` as a fraction (0.10 or 0.20)."""
    return float(limit_pct_array(np.array([symbol]), np.array([pd.Timestamp(date).to_datetime64()]))[0])


def limit_pct_array(symbols: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """Daily price limits (fractions) for aligned arrays of symbols (str) and dates (datetime64):
    the one implementation of the table above (:func:`limit_pct` is its scalar form)."""
    symbols = np.asarray(symbols).astype(str)
    dates = np.asarray(dates, dtype="datetime64[ns]")
    if symbols.size == 0:  # numpy's string padding cannot size an empty array
        return np.full(symbols.shape, MAIN_LIMIT)
    prefix = np.char.ljust(symbols, 5).astype("<U5")
    chinext = np.char.startswith(prefix, "SZ30")
    star = np.char.startswith(prefix, "SH688") | np.char.startswith(prefix, "SH689")
    after = dates >= np.datetime64(CHINEXT_20PCT_FROM.to_datetime64(), "ns")
    out = np.full(symbols.shape, MAIN_LIMIT)
    out[star | (chinext & after)] = WIDE_LIMIT
    return out

"""Suspect jumps: a price move beyond the board's daily limit while the back-adjustment factor
stays unchanged.

No board lets a price open or close beyond its limit (main board 10%, ChiNext 20% from 2020-08-24,
STAR 20%) from the previous close; a stock that does so on a day its factor does not change was
split, given bonus shares or paid a dividend that the vendor's factor missed (real case: SH688256
opened at 1217.03 on 2026-05-08 after a 1868.00 close with the factor unchanged), or the bar is
wrong. Its adjusted series then carries a false -35% return, which a model learns from and a
label reports. The jump day is flagged here (by symbol and day, in ``MarketData.anomalies.jumps``
and as the mask ``MarketData.suspect_jumps()``); keeping the labels and training samples that
span it out is the signals layer's job: :func:`spanning` gives the mask of decision days whose
window reaches a jump.

A stock's first :data:`~data_store.boards.NO_LIMIT_LISTING_DAYS` bars are exempt (no limit on
new listings). The move is measured against the symbol's previous bar, however far back (a limit
applies from the last close, also after a suspension).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .boards import MAIN_LIMIT, NO_LIMIT_LISTING_DAYS, limit_pct_array

#: Tolerance beyond the exchange's limit price (itself rounded to the fen), in CNY.
PRICE_SLACK = 0.001
#: The factor counts as unchanged within this relative difference (akshare's derived factor is
#: held constant within its rounding error; tushare's adj_factor is exact).
FACTOR_UNCHANGED_RTOL = 1e-6
JUMP_COLUMNS = ("date", "symbol", "prev_date", "prev_close", "open", "close", "move", "limit", "factor")


def suspect_jumps(bars: pd.DataFrame, calendar: pd.DatetimeIndex) -> pd.DataFrame:
    """One row per suspect jump in canonical ``bars``: the day, the symbol, the previous bar's day
    and close, the day's open and close, the larger of the two moves (raw, as a fraction) and
    the board limit, and the (unchanged) factor. Sorted by (date, symbol)."""
    if bars.empty:
        return pd.DataFrame({c: [] for c in JUMP_COLUMNS})
    sym = bars["symbol"]
    if isinstance(sym.dtype, pd.CategoricalDtype):
        codes = sym.cat.codes.to_numpy()
        cats = np.asarray(sym.cat.categories).astype(str)
    else:
        codes, uniq = pd.factorize(sym.astype(str))
        cats = np.asarray(uniq).astype(str)
    order = np.argsort(codes, kind="stable")  # bars are sorted by date: within a symbol, by date
    c = codes[order]
    dates = bars["date"].to_numpy()[order]
    o, cl, f = (bars[k].to_numpy(float)[order] for k in ("open", "close", "factor"))
    same = np.r_[False, c[1:] == c[:-1]]
    prev_close = np.r_[np.nan, cl[:-1]]
    prev_factor = np.r_[np.nan, f[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        move_open = o / prev_close - 1.0
        move_close = cl / prev_close - 1.0
        move = np.where(np.abs(move_open) >= np.abs(move_close), move_open, move_close)
        unchanged = np.abs(f / prev_factor - 1.0) <= FACTOR_UNCHANGED_RTOL
        # a cheap first cut (no board allows more than 20%), then the exact rules on the few left
        cand = np.flatnonzero(same & unchanged & (np.abs(move) > MAIN_LIMIT - 0.001))
    # position of each bar within its symbol: a stock's first bars after listing have no limit
    starts = np.flatnonzero(~same)
    first_row = starts[np.searchsorted(starts, cand, side="right") - 1]
    listed_late = dates[first_row] > np.datetime64(pd.Timestamp(calendar[0]).to_datetime64(), "ns")
    exempt = listed_late & (cand - first_row < NO_LIMIT_LISTING_DAYS)
    symbols = cats[c[cand]]
    limit = limit_pct_array(symbols, dates[cand])
    # the exchange's limit prices: the previous close x (1 +- limit), rounded to the fen
    pc = prev_close[cand]
    up, down = _fen(pc * (1 + limit)) + PRICE_SLACK, _fen(pc * (1 - limit)) - PRICE_SLACK
    beyond = (o[cand] > up) | (o[cand] < down) | (cl[cand] > up) | (cl[cand] < down)
    hit = ~exempt & beyond
    rows = cand[hit]
    out = pd.DataFrame({
        "date": dates[rows], "symbol": symbols[hit], "prev_date": dates[rows - 1], "prev_close": prev_close[rows],
        "open": o[rows], "close": cl[rows], "move": move[rows], "limit": limit[hit], "factor": f[rows],
    })
    return out.sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)


def _fen(x: np.ndarray) -> np.ndarray:
    """Round to the fen, halves up (the exchanges' rounding of limit prices)."""
    return np.floor(x * 100.0 + 0.5 + 1e-7) / 100.0


def jump_mask(jumps: pd.DataFrame, calendar: pd.DatetimeIndex, symbols: list[str]) -> pd.DataFrame:
    """Boolean frame ``calendar x symbols``: True on the day of each suspect jump."""
    cal = pd.DatetimeIndex(calendar)
    out = np.zeros((len(cal), len(symbols)), dtype=bool)
    if len(jumps):
        di = cal.get_indexer(pd.DatetimeIndex(jumps["date"]))
        si = pd.Index(symbols).get_indexer(jumps["symbol"].astype(str))
        ok = (di >= 0) & (si >= 0)
        out[di[ok], si[ok]] = True
    return pd.DataFrame(out, index=cal, columns=pd.Index(symbols, name="symbol"))


def spanning(mask: pd.DataFrame, first: int, last: int) -> pd.DataFrame:
    """True on decision day d when a jump lies on a trading day t with ``d + first <= t <= d + last``.

    The jump sits between the close of the day before t and the open of t, so a return from a
    price of day a to a price of day b (a < b) spans it when ``a < t <= b``. With this toolkit's
    timing (decide after the close of d, fill at the open of d+1, exit at the open of d+1+H):

    - a label of horizon H spans a jump when ``d + 2 <= t <= d + 1 + H``:
      ``spanning(md.suspect_jumps(), 2, 1 + H)``;
    - a feature over the closes of d-L .. d spans it when ``d - L + 1 <= t <= d``:
      ``spanning(md.suspect_jumps(), -L + 1, 0)``.

    Rows near the ends of the calendar see only the days that exist.
    """
    if first > last:
        raise ValueError(f"spanning(first={first}, last={last}): first must be <= last")
    arr = mask.to_numpy(bool)
    n = len(arr)
    csum = np.vstack([np.zeros((1, arr.shape[1]), dtype=np.int64), np.cumsum(arr, axis=0)])
    d = np.arange(n)
    lo = np.clip(d + first, 0, n)
    hi = np.clip(d + last + 1, 0, n)
    hits = csum[np.maximum(hi, lo)] - csum[lo]
    return pd.DataFrame(hits > 0, index=mask.index, columns=mask.columns)

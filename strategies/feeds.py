"""Backtrader data feeds filled straight from NumPy arrays.

``bt.feeds.PandasData`` loads a frame cell by cell through ``_load`` (a Python call per row and
an ``iloc`` per field); :class:`ArrayFeed` instead hands Backtrader's line buffers whole arrays
in ``preload`` and skips the per-bar tick bookkeeping that the broker does not need.
"""

from __future__ import annotations

import array
import datetime as _dt

import backtrader as bt
import numpy as np
import pandas as pd

_LINES = ("open", "high", "low", "close", "volume", "openinterest")
_INF = float("inf")


def date_numbers(dates: pd.DatetimeIndex) -> np.ndarray:
    """Backtrader's float date numbers (days since 0001-01-01, +1) of midnight timestamps."""
    ordinal0 = _dt.date(1970, 1, 1).toordinal()
    days = dates.to_numpy().astype("datetime64[D]").astype("int64")
    return (days + ordinal0).astype("float64")


def _as_line(values: np.ndarray) -> array.array:
    buf = array.array("d")
    buf.frombytes(np.ascontiguousarray(values, dtype="float64").tobytes())
    return buf


class ArrayFeed(bt.feed.DataBase):
    """A daily feed whose lines are preloaded from aligned NumPy columns.

    Build it with :meth:`from_arrays`; it must run with ``preload=True`` (the only mode it fills).
    ``col`` is the feed's column in the backtest's :class:`~strategies.arrays.MarketArrays`.
    """

    params = (("timeframe", bt.TimeFrame.Days), ("compression", 1))

    _values: dict[str, np.ndarray]
    _bufs: list = []
    col: int = -1

    @classmethod
    def from_arrays(cls, name: str, col: int, dtnum: np.ndarray, **lines: np.ndarray) -> ArrayFeed:
        feed = cls(name=name)
        n = len(dtnum)
        values = {"datetime": dtnum}
        for line in _LINES:
            values[line] = lines.get(line, np.zeros(n))
        feed._values = values
        feed.col = col
        return feed

    def preload(self) -> None:
        for name, values in self._values.items():
            getattr(self.lines, name).array = _as_line(values)
        self._bufs = list(self.lines.lines)
        self._dtline = self.lines.datetime
        self._next_dt = self._values["datetime"].tolist()
        self._n = len(self._next_dt)
        self.home()

    def _load(self) -> bool:  # never called after preload; the feed has no row-by-row path
        return False

    # The three calls below run once per bar and feed; for aligned, preloaded daily bars they
    # reduce to index arithmetic on the line buffers (same results as the generic versions).
    def __len__(self) -> int:
        return self._bufs[0].lencount if self._bufs else 0

    def advance_peek(self) -> float:
        n = self._dtline.lencount
        return self._next_dt[n] if n < self._n else _INF

    def advance(self, size: int = 1, datamaster=None, ticks: bool = True) -> None:
        # just move every line's index (no tick_* bookkeeping: the broker reads the arrays)
        for buf in self._bufs:
            buf._idx += size
            buf.lencount += size


def pandas_feed(name: str, dates: pd.DatetimeIndex, **lines: np.ndarray) -> bt.feeds.PandasData:
    """The same bars on Backtrader's stock ``PandasData`` feed (for the benchmark and tests)."""
    frame = pd.DataFrame({line: lines.get(line, np.zeros(len(dates))) for line in _LINES}, index=dates)
    return bt.feeds.PandasData(dataname=frame, name=name, timeframe=bt.TimeFrame.Days)

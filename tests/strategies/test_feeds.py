"""The array feed delivers exactly the arrays it was given, bar by bar, like PandasData."""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd

from strategies.feeds import ArrayFeed, date_numbers, pandas_feed


def test_date_numbers_match_backtrader():
    d = pd.DatetimeIndex(["1999-12-31", "2021-01-04", "2025-06-30"])
    assert date_numbers(d).tolist() == [bt.date2num(x.to_pydatetime()) for x in d]


class _Reader(bt.Strategy):
    def __init__(self):
        self.seen = []

    def next(self):
        self.seen.append([(d.datetime.date(0), d.open[0], d.high[0], d.low[0], d.close[0], d.volume[0])
                          for d in self.datas])


def _read(feeds):
    cerebro = bt.Cerebro(stdstats=False, runonce=True, preload=True)
    for f in feeds:
        cerebro.adddata(f)
    cerebro.addstrategy(_Reader)
    return cerebro.run()[0].seen


def test_array_feed_equals_pandas_feed():
    rng = np.random.default_rng(0)
    dates = pd.bdate_range("2024-01-01", periods=40)
    cols = [{k: rng.random(40) * 10 for k in ("open", "high", "low", "close", "volume")} for _ in range(3)]
    dtnum = date_numbers(dates)
    a = _read([ArrayFeed.from_arrays(f"S{i}", i, dtnum, **c) for i, c in enumerate(cols)])
    b = _read([pandas_feed(f"S{i}", dates, **c) for i, c in enumerate(cols)])
    assert len(a) == 40
    assert a == b
    assert a[7][2][4] == cols[2]["close"][7]
    assert a[7][2][0] == dates[7].date()

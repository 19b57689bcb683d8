"""Recorded frames for the months after the snapshot, and vendors with injected faults.

``data/qlib_*_2025-06-16_2026-05-08.csv.gz`` hold REAL daily bars of SH600519, SZ000001 and
SH688256 and of the CSI-300 index from the same source and commit as the snapshot (see
``data/README.md``): 2025-06-16..2025-06-30 equal the snapshot exactly, then ten months follow,
with a real ex-rights day (SH600519, 2025-12-19, factor 7.3665 -> 7.4920) and a real missed
adjustment (SH688256 opens at 1217.03 on 2026-05-08 after a 1868.00 close, factor unchanged).
The fakes below serve them in akshare's and tushare's own forms (column names, units, dtypes)
through :mod:`.recorded`'s converters. Member lists come from index-constitution 1.0.1's dated
history (installed with the toolkit), as a vendor would have published them on each date.
"""

from __future__ import annotations

import datetime as dt
import time
from functools import cache
from pathlib import Path

import pandas as pd

from data_store.membership.universe import Membership
from data_store.schema import BAR_COLUMNS
from data_store.sources.membership import IndexConstitutionSource

from .recorded import (
    FakeAkshare,
    FakePro,
    FakeTushare,
    ak_cons,
    ak_hist_from,
    ak_index,
    ts_adj_from,
    ts_daily_from,
    ts_index_daily,
)

DATA = Path(__file__).parent / "data"
REAL_SYMBOLS = ("SH600519", "SZ000001", "SH688256")
#: left the index on 2025-08-04 (a merger) and has no bars after 2025-06 in any source here
DELISTED = "SH601989"


@cache
def _bars() -> pd.DataFrame:
    df = pd.read_csv(DATA / "qlib_bars_2025-06-16_2026-05-08.csv.gz", parse_dates=["date"])
    return df.astype({"date": "datetime64[ns]"})


def real_bars(symbol: str, start: str | None = None, end: str | None = None) -> pd.DataFrame:
    """The recorded bars of ``symbol`` in canonical form (optionally cut to ``[start, end]``)."""
    df = _bars()
    df = df[df["symbol"] == symbol]
    if start is not None:
        df = df[df["date"] >= pd.Timestamp(start)]
    if end is not None:
        df = df[df["date"] <= pd.Timestamp(end)]
    return df[list(BAR_COLUMNS)].reset_index(drop=True)


@cache
def _index() -> pd.DataFrame:
    df = pd.read_csv(DATA / "qlib_index_2025-06-16_2026-05-08.csv.gz", parse_dates=["date"])
    return df.astype({"date": "datetime64[ns]"})


def real_index(start: str | None = None, end: str | None = None, drop: tuple[str, ...] = ()) -> pd.DataFrame:
    df = _index()
    if start is not None:
        df = df[df["date"] >= pd.Timestamp(start)]
    if end is not None:
        df = df[df["date"] <= pd.Timestamp(end)]
    return df[~df["date"].isin(pd.to_datetime(list(drop)))].reset_index(drop=True)


@cache
def ic_membership() -> Membership:
    """index-constitution's dated CSI-300 history (the installed release)."""
    h = IndexConstitutionSource().history()
    return Membership.from_frame(h.spans, h.label)


def members_on(day: str) -> list[str]:
    return ic_membership().members(day)


class AfterAkshare(FakeAkshare):
    """akshare serving the recorded months: bars of :data:`REAL_SYMBOLS` (any other symbol copies
    SZ000001's), no rows for :data:`DELISTED`, the real index, and the csindex member list as of
    ``today``. ``index_drop``: days the index lacks (a calendar gap)."""

    def __init__(self, today: str = "2026-05-08", index_drop: tuple[str, ...] = (),
                 empty: tuple[str, ...] = (DELISTED,)):
        super().__init__(cons=members_on(today))
        self.today = today
        self.index_drop = index_drop
        self.empty = set(empty)

    def stock_zh_a_hist(self, symbol="000001", period="daily", start_date="19700101",
                        end_date="20500101", adjust="", timeout=None):
        kw = dict(symbol=symbol, period=period, start_date=start_date, end_date=end_date, adjust=adjust)
        self.calls.append(("stock_zh_a_hist", kw))
        if self.hist_override is not None:
            return self.hist_override(kw)
        sym = ("SH" if symbol.startswith("6") else "SZ") + symbol
        if sym in self.empty:
            return pd.DataFrame()  # eastmoney answers an empty frame for a delisted code
        base = sym if sym in REAL_SYMBOLS else "SZ000001"
        c = real_bars(base, start_date, min(end_date, self.today.replace("-", ""))).assign(symbol=sym)
        return ak_hist_from(c, adjust) if len(c) else pd.DataFrame()

    def stock_zh_index_daily(self, symbol="sh000922"):
        self.calls.append(("stock_zh_index_daily", {"symbol": symbol}))
        return ak_index(real_index(end=self.today, drop=self.index_drop))

    def index_stock_cons_csindex(self, symbol="000300"):
        self.calls.append(("index_stock_cons_csindex", {"symbol": symbol}))
        return ak_cons(self.cons, day=self.today)

    def index_stock_hist(self, symbol="sh000300"):
        """akshare <= 1.10.36: jrj.com.cn's 历史成份 (stock_code, in_date, out_date as text)."""
        self.calls.append(("index_stock_hist", {"symbol": symbol}))
        sp = ic_membership().spans
        return pd.DataFrame({
            "stock_code": [s[2:] for s in sp["symbol"]],
            "in_date": sp["start"].dt.strftime("%Y-%m-%d"),
            "out_date": sp["end"].dt.strftime("%Y-%m-%d").fillna("--"),
        })


class FailingAkshare(AfterAkshare):
    """An API that accepts connections and fails every call (after ``ok_symbols`` bar answers):
    ``mode='error'`` raises at once, ``mode='hang'`` never answers."""

    def __init__(self, ok_symbols: int = 0, mode: str = "error", **kw) -> None:
        super().__init__(**kw)
        self.ok_symbols = ok_symbols
        self.mode = mode
        self.answered: set[str] = set()

    def _fail(self):
        if self.mode == "hang":
            time.sleep(30)
        raise ConnectionError("('Connection aborted.', RemoteDisconnected('Remote end closed connection "
                              "without response'))")

    def stock_zh_a_hist(self, symbol="000001", **kw):
        if symbol in self.answered or len(self.answered) < self.ok_symbols:
            self.answered.add(symbol)
            return super().stock_zh_a_hist(symbol, **kw)
        self.calls.append(("stock_zh_a_hist", {"symbol": symbol}))
        return self._fail()

    def stock_zh_index_daily(self, symbol="sh000922"):
        if self.ok_symbols:
            return super().stock_zh_index_daily(symbol)
        return self._fail()

    def index_stock_cons_csindex(self, symbol="000300"):
        if self.ok_symbols:
            return super().index_stock_cons_csindex(symbol)
        return self._fail()


def weight_lists(days: list[str]) -> dict[str, list[str]]:
    """tushare ``index_weight`` lists as published on ``days`` (the members on each day)."""
    return {d: members_on(d) for d in days}


class AfterPro(FakePro):
    """tushare pro serving the recorded months (see :class:`AfterAkshare`); ``fail_with`` makes
    every call raise that exception (a wrong token, a quota)."""

    def __init__(self, token: str, weights: dict[str, list[str]] | None = None, **kw) -> None:
        super().__init__(token, weights=weights or weight_lists(["2025-06-03"]), **kw)

    def daily(self, ts_code="", start_date="", end_date="", **kw):
        self.calls.append(("daily", dict(ts_code=ts_code, start_date=start_date, end_date=end_date)))
        if self.fail_with is not None:
            raise self.fail_with
        sym = ts_code[-2:] + ts_code[:6]
        if sym == DELISTED:
            return pd.DataFrame(columns=["ts_code", "trade_date", "open", "high", "low", "close", "vol"])
        c = real_bars(sym if sym in REAL_SYMBOLS else "SZ000001").assign(symbol=sym)
        return self._filter(ts_daily_from(c), start_date, end_date)

    def adj_factor(self, ts_code="", start_date="", end_date="", **kw):
        self.calls.append(("adj_factor", dict(ts_code=ts_code, start_date=start_date, end_date=end_date)))
        if self.fail_with is not None:
            raise self.fail_with
        sym = ts_code[-2:] + ts_code[:6]
        c = real_bars(sym if sym in REAL_SYMBOLS else "SZ000001").assign(symbol=sym)
        return self._filter(ts_adj_from(c, self.adj_scale), start_date, end_date)

    def index_daily(self, ts_code="", start_date="", end_date="", **kw):
        self.calls.append(("index_daily", dict(ts_code=ts_code, start_date=start_date, end_date=end_date)))
        if self.fail_with is not None:
            raise self.fail_with
        return self._filter(ts_index_daily(real_index()), start_date, end_date)

    def index_weight(self, index_code="", start_date="", end_date="", **kw):
        if self.fail_with is not None:
            self.calls.append(("index_weight", dict(start_date=start_date, end_date=end_date)))
            raise self.fail_with
        return super().index_weight(index_code=index_code, start_date=start_date, end_date=end_date)


class AfterTushare(FakeTushare):
    """The tushare module: ``pro_api(token, timeout)`` returns an :class:`AfterPro`."""

    def pro_api(self, token="", timeout=30):
        self.pro = AfterPro(token, **self.pro_kw)
        return self.pro


def day(text: str) -> dt.date:
    return dt.date.fromisoformat(text)

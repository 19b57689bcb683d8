"""Recorded vendor frames for offline tests.

The values are the REAL snapshot rows of SH600519 and SZ000001 and of the CSI-300 index for
2025-06-16..2025-06-30, put in each vendor's own form (column names, units, dtypes) as
akshare 1.19 and tushare pro answer them: akshare's 成交量 and tushare's vol in lots of 100
shares, tushare dates as 'YYYYMMDD' strings, akshare's hfq series = raw x factor rounded to the
fen. A fake :class:`Source` answering canonical frames drives the update/cache tests.
"""

from __future__ import annotations

import datetime as dt
import time

import numpy as np
import pandas as pd

from data_store.errors import SourceError
from data_store.schema import BAR_COLUMNS, INDEX_COLUMNS

# date, open, high, low, close, volume (shares), factor -- copied from the snapshot
BARS = {
    "SH600519": [
        ("2025-06-16", 1401.2, 1425.04, 1401.18, 1422.29, 4288787.0, 7.224926948547363),
        ("2025-06-17", 1420.0, 1427.0, 1412.18, 1427.0, 2723151.0, 7.224926948547363),
        ("2025-06-18", 1440.0, 1443.44, 1421.01, 1425.0, 3076099.0, 7.224926948547363),
        ("2025-06-19", 1426.0, 1433.67, 1417.18, 1426.0, 2450072.0, 7.224926948547363),
        ("2025-06-20", 1423.58, 1441.14, 1420.2, 1428.66, 3481581.0, 7.224926948547363),
        ("2025-06-23", 1420.0, 1433.0, 1405.18, 1420.0, 2672331.0, 7.224926948547363),
        ("2025-06-24", 1423.35, 1451.68, 1423.35, 1437.2, 3631151.0, 7.224926948547363),
        ("2025-06-25", 1439.11, 1449.2, 1420.51, 1435.86, 4105007.0, 7.224926948547363),
        ("2025-06-26", 1415.0, 1428.0, 1410.08, 1420.0, 3486025.0, 7.366525173187256),
        ("2025-06-27", 1420.01, 1423.0, 1403.09, 1403.09, 3824973.0, 7.366525173187256),
        ("2025-06-30", 1403.5, 1413.23, 1402.0, 1409.52, 3045730.0, 7.366525173187256),
    ],
    "SZ000001": [
        ("2025-06-16", 11.57, 11.79, 11.53, 11.79, 117443824.0, 118.42350006103516),
        ("2025-06-17", 11.79, 11.88, 11.71, 11.76, 89002736.0, 118.42350006103516),
        ("2025-06-18", 11.78, 11.81, 11.66, 11.77, 68352112.0, 118.42350006103516),
        ("2025-06-19", 11.76, 11.78, 11.65, 11.7, 83224720.0, 118.42350006103516),
        ("2025-06-20", 11.7, 11.86, 11.67, 11.84, 130919784.0, 118.42350006103516),
        ("2025-06-23", 11.81, 11.97, 11.67, 11.93, 138917056.0, 118.42350006103516),
        ("2025-06-24", 11.9, 12.01, 11.84, 11.93, 130852528.0, 118.42350006103516),
        ("2025-06-25", 11.93, 12.08, 11.83, 12.06, 167511648.0, 118.42350006103516),
        ("2025-06-26", 12.05, 12.48, 12.01, 12.41, 217457760.0, 118.42350006103516),
        ("2025-06-27", 12.37, 12.58, 12.13, 12.2, 237760016.0, 118.42350006103516),
        ("2025-06-30", 12.14, 12.17, 11.96, 12.07, 150481968.0, 118.42350006103516),
    ],
}
INDEX = [
    ("2025-06-16", 3853.6194, 3876.1704, 3853.6194, 3873.7952, 13734183936.0),
    ("2025-06-17", 3875.1768, 3880.4155, 3860.4089, 3870.3787, 12234252288.0),
    ("2025-06-18", 3871.6501, 3881.3459, 3854.6575, 3874.9707, 12752862208.0),
    ("2025-06-19", 3870.0491, 3872.9424, 3834.9512, 3843.0913, 13028066304.0),
    ("2025-06-20", 3839.7832, 3856.48, 3839.7832, 3846.6443, 11815102464.0),
    ("2025-06-23", 3831.1704, 3867.5896, 3827.083, 3857.9016, 13380088832.0),
    ("2025-06-24", 3862.3877, 3914.158, 3862.3877, 3904.0342, 16365619200.0),
    ("2025-06-25", 3907.0681, 3963.0371, 3902.177, 3960.0662, 18721368064.0),
    ("2025-06-26", 3953.1604, 3964.4819, 3945.2588, 3946.0195, 16531625984.0),
    ("2025-06-27", 3949.7878, 3969.2627, 3918.2041, 3921.7578, 19455791104.0),
    ("2025-06-30", 3920.3149, 3940.3611, 3911.6045, 3936.0791, 14517023744.0),
]


#: shares of each company (total, float), as published for June 2025; the characteristics frames below put
#: the snapshot's closes and volumes in each vendor's form with these counts
SHARES = {"SH600519": (1_256_197_800.0, 1_256_197_800.0), "SZ000001": (19_405_918_198.0, 19_405_546_950.0)}
#: book value per share (CNY) of each company, for tushare's pb (price / book)
BOOK_PER_SHARE = {"SH600519": 205.28, "SZ000001": 22.69}
#: Shenwan level-1 industry of each company (index_member_all rows: l1_code, l1_name, in_date, out_date)
INDUSTRY = {
    "SH600519": [("801120.SI", "食品饮料", "20140221", None)],
    "SZ000001": [("801780.SI", "银行", "20140221", None)],
}


def canonical(symbol: str) -> pd.DataFrame:
    """The snapshot rows of ``symbol`` in canonical form."""
    df = pd.DataFrame(BARS[symbol], columns=["date", "open", "high", "low", "close", "volume", "factor"])
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    df.insert(1, "symbol", symbol)
    return df[list(BAR_COLUMNS)]


def canonical_index() -> pd.DataFrame:
    df = pd.DataFrame(INDEX, columns=list(INDEX_COLUMNS))
    df["date"] = pd.to_datetime(df["date"]).astype("datetime64[ns]")
    return df


# ---------------------------------------------------------------- akshare (eastmoney / sina / csindex)
def ak_hist(symbol: str, adjust: str = "") -> pd.DataFrame:
    """``ak.stock_zh_a_hist(symbol=code, period='daily', adjust=...)`` as akshare 1.19 returns it."""
    return ak_hist_from(canonical(symbol), adjust)


def ak_hist_from(c: pd.DataFrame, adjust: str = "") -> pd.DataFrame:
    """Canonical bars of one symbol in ``stock_zh_a_hist``'s form (see :func:`ak_hist`)."""
    symbol = str(c["symbol"].iloc[0])
    mult = c["factor"] if adjust == "hfq" else 1.0
    o, h, lo, cl = ((c[k] * mult).round(2) for k in ("open", "high", "low", "close"))
    lots = (c["volume"] / 100).round().astype("int64")  # eastmoney: whole lots of 100 shares
    prev = cl.shift(1)
    return pd.DataFrame({
        "日期": [d.date() for d in c["date"]],
        "股票代码": symbol[2:],
        "开盘": o, "收盘": cl, "最高": h, "最低": lo,
        "成交量": lots,
        "成交额": (lots * 100 * c["close"]).round(1),
        "振幅": ((h - lo) / prev * 100).round(2),
        "涨跌幅": ((cl / prev - 1) * 100).round(2),
        "涨跌额": (cl - prev).round(2),
        # percent of the float traded, rounded to 2 decimals as eastmoney serves it
        "换手率": (lots * 100 / SHARES.get(symbol, (1e9, 1e9))[1] * 100).round(2),
    })


def ak_index(df: pd.DataFrame | None = None) -> pd.DataFrame:
    """``ak.stock_zh_index_daily('sh000300')``: sina, English columns, volume in shares, date objects."""
    df = (canonical_index() if df is None else df).copy()
    df["date"] = [d.date() for d in df["date"]]
    return df


def ak_cons(symbols: list[str], day: str = "2025-06-30") -> pd.DataFrame:
    """``ak.index_stock_cons_csindex('000300')``: the csindex constituents file."""
    names = {"SH600519": ("贵州茅台", "Kweichow Moutai"), "SZ000001": ("平安银行", "Ping An Bank")}
    return pd.DataFrame({
        "日期": dt.date.fromisoformat(day),
        "指数代码": "000300",
        "指数名称": "沪深300",
        "指数英文名称": "CSI 300",
        "成分券代码": [s[2:] for s in symbols],
        "成分券名称": [names.get(s, ("?", "?"))[0] for s in symbols],
        "成分券英文名称": [names.get(s, ("?", "?"))[1] for s in symbols],
        "交易所": ["上海证券交易所" if s.startswith("SH") else "深圳证券交易所" for s in symbols],
        "交易所英文名称": ["Shanghai Stock Exchange" if s.startswith("SH") else "Shenzhen Stock Exchange"
                     for s in symbols],
    })


def ts_daily_basic(symbol: str) -> pd.DataFrame:
    """``pro.daily_basic(ts_code=...)``: newest first, values in 万元 and 万股, pe empty when
    tushare has none (a loss), as tushare pro answers."""
    c = canonical(symbol)
    total, floating = SHARES[symbol]
    close = c["close"]
    return pd.DataFrame({
        "ts_code": f"{symbol[2:]}.{symbol[:2]}",
        "trade_date": c["date"].dt.strftime("%Y%m%d"),
        "close": close,
        "turnover_rate": (c["volume"] / floating * 100).round(4),
        "turnover_rate_f": (c["volume"] / floating * 100).round(4),
        "volume_ratio": 0.9,
        "pe": (close / 72.1).round(4) if symbol == "SH600519" else None,
        "pe_ttm": (close / 68.6).round(4) if symbol == "SH600519" else None,
        "pb": (close / BOOK_PER_SHARE[symbol]).round(4),
        "ps": 10.2, "ps_ttm": 9.9, "dv_ratio": 1.9, "dv_ttm": 1.9,
        "total_share": total / 1e4, "float_share": floating / 1e4, "free_share": floating / 1e4 * 0.4,
        "total_mv": (close * total / 1e4).round(4), "circ_mv": (close * floating / 1e4).round(4),
    }).iloc[::-1].reset_index(drop=True)


def ts_index_member_all(symbol: str, is_new: str = "Y") -> pd.DataFrame:
    """``pro.index_member_all(ts_code=..., is_new=...)``: the Shenwan classification rows."""
    rows = [(l1, name, in_d, out_d) for l1, name, in_d, out_d in INDUSTRY.get(symbol, [])
            if (out_d is None) == (is_new == "Y")]
    return pd.DataFrame([{"l1_code": l1, "l1_name": name, "l2_code": l1.replace("801", "8011"), "l2_name": name,
                          "l3_code": "85" + l1[3:], "l3_name": name, "ts_code": f"{symbol[2:]}.{symbol[:2]}",
                          "name": "?", "in_date": in_d, "out_date": out_d, "is_new": is_new}
                         for l1, name, in_d, out_d in rows],
                        columns=["l1_code", "l1_name", "l2_code", "l2_name", "l3_code", "l3_name", "ts_code", "name",
                                 "in_date", "out_date", "is_new"])


class FakeAkshare:
    """Stands in for the akshare module; records calls; faults can be injected per function."""

    __version__ = "1.19.5"

    def __init__(self, cons: list[str] | None = None) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.cons = cons or ["SH600519", "SZ000001"]
        self.hist_override = None  # callable(kw) -> DataFrame

    def stock_zh_a_hist(self, symbol="000001", period="daily", start_date="19700101",
                        end_date="20500101", adjust="", timeout=None):
        kw = dict(symbol=symbol, period=period, start_date=start_date, end_date=end_date, adjust=adjust)
        self.calls.append(("stock_zh_a_hist", kw))
        if self.hist_override is not None:
            return self.hist_override(kw)
        sym = ("SH" if symbol.startswith("6") else "SZ") + symbol
        df = ak_hist(sym, adjust)
        d = pd.to_datetime(df["日期"])
        return df[(d >= pd.Timestamp(start_date)) & (d <= pd.Timestamp(end_date))].reset_index(drop=True)

    def stock_zh_index_daily(self, symbol="sh000922"):
        self.calls.append(("stock_zh_index_daily", {"symbol": symbol}))
        return ak_index()

    def index_stock_cons_csindex(self, symbol="000300"):
        self.calls.append(("index_stock_cons_csindex", {"symbol": symbol}))
        return ak_cons(self.cons)


# ---------------------------------------------------------------- tushare pro
def ts_daily(symbol: str) -> pd.DataFrame:
    """``pro.daily(ts_code=...)``: newest first, 'YYYYMMDD' dates, vol in lots, amount in kCNY."""
    return ts_daily_from(canonical(symbol))


def ts_daily_from(c: pd.DataFrame) -> pd.DataFrame:
    """Canonical bars of one symbol in ``pro.daily``'s form (see :func:`ts_daily`)."""
    symbol = str(c["symbol"].iloc[0])
    code = f"{symbol[2:]}.{symbol[:2]}"
    prev = c["close"].shift(1)
    df = pd.DataFrame({
        "ts_code": code,
        "trade_date": c["date"].dt.strftime("%Y%m%d"),
        "open": c["open"], "high": c["high"], "low": c["low"], "close": c["close"],
        "pre_close": prev, "change": (c["close"] - prev).round(2),
        "pct_chg": ((c["close"] / prev - 1) * 100).round(4),
        "vol": c["volume"] / 100,  # lots (手), fractional as tushare reports them
        "amount": (c["volume"] * c["close"] / 1000).round(3),
    })
    return df.iloc[::-1].reset_index(drop=True)


def ts_adj(symbol: str, scale: float = 1.0) -> pd.DataFrame:
    return ts_adj_from(canonical(symbol), scale)


def ts_adj_from(c: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    symbol = str(c["symbol"].iloc[0])
    return pd.DataFrame({
        "ts_code": f"{symbol[2:]}.{symbol[:2]}",
        "trade_date": c["date"].dt.strftime("%Y%m%d"),
        "adj_factor": c["factor"] * scale,
    }).iloc[::-1].reset_index(drop=True)


def ts_index_daily(c: pd.DataFrame | None = None) -> pd.DataFrame:
    c = canonical_index() if c is None else c
    prev = c["close"].shift(1)
    return pd.DataFrame({
        "ts_code": "000300.SH",
        "trade_date": c["date"].dt.strftime("%Y%m%d"),
        "close": c["close"], "open": c["open"], "high": c["high"], "low": c["low"],
        "pre_close": prev, "change": c["close"] - prev, "pct_chg": (c["close"] / prev - 1) * 100,
        "vol": c["volume"] / 100,  # lots
        "amount": c["volume"] * 4.1 / 1000,
    }).iloc[::-1].reset_index(drop=True)


def ts_index_weight(lists: dict[str, list[str]]) -> pd.DataFrame:
    rows = []
    for day, syms in lists.items():
        for s in syms:
            rows.append({"index_code": "000300.SH", "con_code": f"{s[2:]}.{s[:2]}",
                         "trade_date": day.replace("-", ""), "weight": round(100 / len(syms), 4)})
    return pd.DataFrame(rows, columns=["index_code", "con_code", "trade_date", "weight"])


class FakePro:
    """Stands in for ``tushare.pro.client.DataApi``."""

    def __init__(self, token: str, weights: dict[str, list[str]] | None = None, adj_scale: float = 1.0) -> None:
        self._token = token
        self.weights = weights or {"2025-06-02": ["SH600519", "SZ000001"]}
        self.adj_scale = adj_scale
        self.calls: list[tuple[str, dict]] = []
        self.fail_with: Exception | None = None

    def _filter(self, df: pd.DataFrame, start_date: str, end_date: str) -> pd.DataFrame:
        d = df["trade_date"]
        return df[(d >= start_date) & (d <= end_date)].reset_index(drop=True)

    def daily(self, ts_code="", start_date="", end_date="", **kw):
        self.calls.append(("daily", dict(ts_code=ts_code, start_date=start_date, end_date=end_date)))
        if self.fail_with is not None:
            raise self.fail_with
        sym = ts_code[-2:] + ts_code[:6]
        return self._filter(ts_daily(sym), start_date, end_date)

    def adj_factor(self, ts_code="", start_date="", end_date="", **kw):
        self.calls.append(("adj_factor", dict(ts_code=ts_code, start_date=start_date, end_date=end_date)))
        sym = ts_code[-2:] + ts_code[:6]
        return self._filter(ts_adj(sym, self.adj_scale), start_date, end_date)

    def index_daily(self, ts_code="", start_date="", end_date="", **kw):
        self.calls.append(("index_daily", dict(ts_code=ts_code, start_date=start_date, end_date=end_date)))
        return self._filter(ts_index_daily(), start_date, end_date)

    def daily_basic(self, ts_code="", start_date="", end_date="", **kw):
        self.calls.append(("daily_basic", dict(ts_code=ts_code, start_date=start_date, end_date=end_date)))
        return self._filter(ts_daily_basic(ts_code[-2:] + ts_code[:6]), start_date, end_date)

    def index_member_all(self, ts_code="", is_new="Y", **kw):
        self.calls.append(("index_member_all", dict(ts_code=ts_code, is_new=is_new)))
        return ts_index_member_all(ts_code[-2:] + ts_code[:6], is_new)

    def index_weight(self, index_code="", start_date="", end_date="", **kw):
        self.calls.append(("index_weight", dict(index_code=index_code, start_date=start_date, end_date=end_date)))
        return self._filter(ts_index_weight(self.weights), start_date, end_date)


class FakeTushare:
    """Stands in for the tushare module: ``pro_api(token, timeout)`` returns a :class:`FakePro`."""

    __version__ = "1.4.29"

    def __init__(self, **pro_kw) -> None:
        self.pro_kw = pro_kw
        self.pro: FakePro | None = None

    def pro_api(self, token="", timeout=30):
        self.pro = FakePro(token, **self.pro_kw)
        return self.pro


# ---------------------------------------------------------------- a canonical fake source
class FakeSource:
    """A :class:`data_store.sources.Source` answering the recorded canonical rows.

    ``fail`` symbols raise :class:`SourceError`; ``delay`` seconds per symbol (for the
    concurrency test); ``volume_bump`` adds shares to every volume (distinguishes writers).
    """

    name = "fake"

    def __init__(self, fail: tuple[str, ...] = (), delay: float = 0.0, volume_bump: float = 0.0) -> None:
        self.fail = set(fail)
        self.delay = delay
        self.volume_bump = volume_bump
        self.fetched: list[str] = []

    def probe(self) -> None:
        pass

    def library_versions(self) -> dict[str, str]:
        return {"fake": "1"}

    def constituents(self, start, end) -> pd.DataFrame:
        return pd.DataFrame({"date": pd.Timestamp("2025-06-30"), "symbol": sorted(BARS), "name": ["x", "y"]})

    def index_bars(self, start, end) -> pd.DataFrame:
        df = canonical_index()
        return df[(df["date"] >= start) & (df["date"] <= end)].reset_index(drop=True)

    def bars(self, symbol, start, end) -> pd.DataFrame:
        if self.delay:
            time.sleep(self.delay)
        self.fetched.append(symbol)
        if symbol in self.fail:
            raise SourceError(f"fake bars({symbol}) failed after 4 attempt(s): ConnectionError: reset")
        base = symbol if symbol in BARS else "SZ000001"
        df = canonical(base).assign(symbol=symbol)
        df["volume"] = df["volume"] + self.volume_bump
        return df[(df["date"] >= start) & (df["date"] <= end)].reset_index(drop=True)


def many_symbols(n: int) -> list[str]:
    """``n`` synthetic SZ symbols (their bars copy SZ000001's rows)."""
    return [f"SZ{code:06d}" for code in np.arange(2, 2 + n)]

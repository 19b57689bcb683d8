"""The ONE place where vendor column names, units and symbol spellings are translated.

Nothing outside this module knows that akshare calls the close ``收盘`` or that tushare spells a
symbol ``600519.SH``: the sources hand vendor frames here and get canonical frames back
(:data:`data_store.schema.BAR_COLUMNS`, :data:`data_store.schema.INDEX_COLUMNS`, or membership
observations ``date, symbol, name``).

Units
-----
- Prices: both vendors report raw CNY (akshare with ``adjust=''``; tushare ``daily``).
- Volume: akshare's ``成交量`` (eastmoney) and tushare's ``vol`` are both in LOTS (手) of 100
  shares; the canonical ``volume`` is in SHARES, so both are multiplied by :data:`SHARES_PER_LOT`.
  Tushare's ``index_daily.vol`` is in lots too. Sina's index ``volume`` (akshare
  ``stock_zh_index_daily``) is already in shares, like the snapshot's index volume.
- Back-adjustment factor (adjusted = raw x factor, anchored at listing): akshare has no factor
  column, so it is derived per day as ``hfq close / raw close`` from the ``adjust='hfq'`` series;
  tushare's ``adj_factor`` is that factor directly.
- Characteristics (:mod:`data_store.characteristics`): tushare ``daily_basic`` gives market values
  in 10,000 CNY (万元) and share counts in 10,000 shares (万股), both times :data:`TEN_THOUSAND`;
  akshare's ``换手率`` (turnover rate) is in percent of the float, so the float is
  ``volume (shares) / (换手率 / 100)`` and its value that times the raw close. Industry spans come
  from tushare ``index_member_all`` (Shenwan level 1; ``in_date``/``out_date`` 'YYYYMMDD', the out
  date the first day outside).
"""

from __future__ import annotations

import logging
import re

import numpy as np
import pandas as pd

from core.errors import ConfigError, DataValidationError

from ..characteristics import canonical_characteristics, canonical_industry
from ..schema import BAR_COLUMNS, INDEX_COLUMNS, canonical_bars, canonical_index

log = logging.getLogger(__name__)

#: Shares in one lot (手). akshare ``成交量`` and tushare ``vol`` are in lots.
SHARES_PER_LOT = 100.0

# ---------------------------------------------------------------- vendor column names
#: akshare ``stock_zh_a_hist`` (eastmoney) -> canonical. ``成交额`` (turnover, CNY) is not kept.
AK_BAR_COLUMNS: dict[str, str] = {
    "日期": "date",
    "开盘": "open",
    "最高": "high",
    "最低": "low",
    "收盘": "close",
    "成交量": "volume",  # lots of 100 shares
}
#: akshare ``index_stock_cons_csindex`` (csindex.com.cn constituents file) -> canonical.
AK_CONS_COLUMNS: dict[str, str] = {"日期": "date", "成分券代码": "code", "成分券名称": "name"}
#: optional exchange column of the constituents file (上海证券交易所 / 深圳证券交易所)
AK_CONS_EXCHANGE = "交易所"
#: akshare ``stock_zh_index_daily`` (sina) already uses English names; volume in shares.
AK_INDEX_COLUMNS: dict[str, str] = {c: c for c in INDEX_COLUMNS}

#: tushare ``pro.daily`` -> canonical (``amount`` is in thousands of CNY and not kept).
TS_BAR_COLUMNS: dict[str, str] = {
    "ts_code": "symbol",
    "trade_date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "vol": "volume",  # lots of 100 shares
}
#: tushare ``pro.adj_factor``
TS_ADJ_COLUMNS: dict[str, str] = {"ts_code": "symbol", "trade_date": "date", "adj_factor": "factor"}
#: tushare ``pro.index_daily``
TS_INDEX_COLUMNS: dict[str, str] = {
    "trade_date": "date",
    "open": "open",
    "high": "high",
    "low": "low",
    "close": "close",
    "vol": "volume",  # lots of 100 shares
}
#: tushare ``pro.index_weight`` (one row per constituent per weight date)
TS_WEIGHT_COLUMNS: dict[str, str] = {"trade_date": "date", "con_code": "symbol"}

#: akshare ``index_stock_hist(symbol='sh000300')`` (jrj.com.cn's 历史成份; akshare <= 1.10.36):
#: code, date of entry (进入时间) and of exit (退出时间, empty while a member).
AK_HIST_COLUMNS: dict[str, str] = {"stock_code": "code", "in_date": "start", "out_date": "end"}
#: index-constitution ``history('csi300')``: symbols already exchange-prefixed; ``opt-out`` empty
#: while a member; both days are the first day in and the first day out (half-open).
IC_COLUMNS: dict[str, str] = {"symbol": "symbol", "name": "name", "opt-in": "start", "opt-out": "end"}

#: tushare ``pro.daily_basic`` -> canonical characteristics (market values in 万元, shares in 万股)
TS_BASIC_COLUMNS: dict[str, str] = {
    "ts_code": "symbol",
    "trade_date": "date",
    "total_mv": "total_mv",  # 10,000 CNY
    "circ_mv": "float_mv",  # 10,000 CNY
    "float_share": "float_shares",  # 10,000 shares
    "pb": "pb",
    "pe": "pe",  # empty for a loss
}
#: 万: tushare's unit of market values and share counts in ``daily_basic``
TEN_THOUSAND = 1e4
#: tushare ``pro.index_member_all`` (Shenwan industry membership) -> canonical industry spans
TS_INDUSTRY_COLUMNS: dict[str, str] = {"ts_code": "symbol", "l1_name": "industry", "in_date": "start",
                                       "out_date": "end"}
#: akshare ``stock_zh_a_hist``: the turnover rate, percent of the float traded that day
AK_TURNOVER = "换手率"

#: The CSI-300 index in each vendor's spelling.
AK_INDEX_SYMBOL = "sh000300"
AK_INDEX_CODE = "000300"
TS_INDEX_CODE = "000300.SH"

MEMBERSHIP_OBS_COLUMNS: tuple[str, ...] = ("date", "symbol", "name")
MEMBERSHIP_SPAN_COLUMNS: tuple[str, ...] = ("symbol", "name", "start", "end")
_NO_DATE = {"", "--", "-", "nan", "none", "nat", "null"}

# ---------------------------------------------------------------- symbols
_PREFIXED = re.compile(r"^(SH|SZ|BJ)(\d{6})$")
_SUFFIXED = re.compile(r"^(\d{6})\.(SH|SZ|BJ)$")
_PLAIN = re.compile(r"^\d{6}$")


def exchange_of_code(code: str) -> str:
    """Exchange prefix of a bare 6-digit A-share code: 6/9 -> SH, 0/2/3 -> SZ, 4/8 -> BJ."""
    if code[0] in "69":
        return "SH"
    if code[0] in "023":
        return "SZ"
    if code[0] in "48":
        return "BJ"
    raise ConfigError(f"cannot tell the exchange of code {code!r}: use SH600519 or 600519.SH")


def to_symbol(value: str) -> str:
    """Canonical exchange-prefixed symbol from any spelling: ``SH600519``, ``sh600519``,
    ``600519.SH`` or ``600519`` (exchange inferred from the first digit) -> ``SH600519``."""
    s = str(value).strip().upper()
    if m := _PREFIXED.match(s):
        return s
    if m := _SUFFIXED.match(s):
        return f"{m.group(2)}{m.group(1)}"
    if _PLAIN.match(s):
        return f"{exchange_of_code(s)}{s}"
    raise ConfigError(
        f"symbol {value!r} is not an A-share code: write SH600519, SZ000001, 600519.SH or 600519"
    )


def to_plain(symbol: str) -> str:
    """``SH600519`` -> ``600519`` (akshare's ``stock_zh_a_hist`` spelling)."""
    return to_symbol(symbol)[2:]


def to_tushare(symbol: str) -> str:
    """``SH600519`` -> ``600519.SH`` (tushare's ``ts_code``)."""
    s = to_symbol(symbol)
    return f"{s[2:]}.{s[:2]}"


# ---------------------------------------------------------------- helpers
def _require(df: pd.DataFrame, columns: list[str] | tuple[str, ...], source: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise DataValidationError(
            source,
            f"vendor columns {list(columns)} present (missing {missing}; got {list(df.columns)}); "
            "the vendor may have changed its API: upgrade the package or report it",
            len(df),
        )


def _dates(values: pd.Series, source: str, fmt: str | None = None) -> pd.Series:
    try:
        out = pd.to_datetime(values.astype(str) if fmt else values, format=fmt, errors="raise")
    except (ValueError, TypeError) as exc:
        raise DataValidationError(source, f"vendor dates parse ({exc})", len(values)) from exc
    return out.astype("datetime64[ns]")


def drop_exact_duplicates(df: pd.DataFrame, keys: list[str], source: str) -> pd.DataFrame:
    """Drop rows that repeat another row exactly (a vendor paging glitch, logged as a warning);
    rows that share ``keys`` but differ in a value raise :class:`DataValidationError`."""
    exact = df.duplicated(keep="first")
    if exact.any():
        log.warning("%s: dropped %d exact duplicate row(s)", source, int(exact.sum()))
        df = df.loc[~exact]
    clash = df.duplicated(subset=keys, keep=False)
    if clash.any():
        raise DataValidationError(
            source, f"{tuple(keys)} unique (the vendor sent conflicting rows for the same key)",
            int(clash.sum()), df.loc[clash].head().to_string(),
        )
    return df


# ---------------------------------------------------------------- akshare
def akshare_bars(raw: pd.DataFrame, hfq: pd.DataFrame, symbol: str, source: str) -> pd.DataFrame:
    """Canonical bars of one symbol from ``stock_zh_a_hist`` frames with ``adjust=''`` (raw) and
    ``adjust='hfq'``; ``factor = hfq 收盘 / raw 收盘`` on each day, volume lots -> shares."""
    sym = to_symbol(symbol)
    _require(raw, list(AK_BAR_COLUMNS), f"{source} (adjust='')")
    _require(hfq, ["日期", "收盘"], f"{source} (adjust='hfq')")
    r = raw[list(AK_BAR_COLUMNS)].rename(columns=AK_BAR_COLUMNS)
    r["date"] = _dates(r["date"], source)
    r = drop_exact_duplicates(r, ["date"], f"{source} (adjust='')")
    h = pd.DataFrame({"date": _dates(hfq["日期"], source), "hfq_close": pd.to_numeric(hfq["收盘"], errors="coerce")})
    h = drop_exact_duplicates(h, ["date"], f"{source} (adjust='hfq')")
    out = r.merge(h, on="date", how="left", validate="one_to_one")
    out["volume"] = pd.to_numeric(out["volume"], errors="coerce") * SHARES_PER_LOT
    out = out.sort_values("date", kind="stable").reset_index(drop=True)
    out["factor"] = stable_factor(out["hfq_close"].to_numpy(float),
                                  pd.to_numeric(out["close"], errors="coerce").to_numpy(float))
    out["symbol"] = sym
    return canonical_bars(out[list(BAR_COLUMNS)], source)


#: Both akshare series are quoted to the fen (0.01 CNY), so hfq / raw jitters by up to
#: 0.005 / hfq + 0.005 / raw from day to day without any corporate action.
PRICE_TICK = 0.01


def stable_factor(hfq_close: np.ndarray, raw_close: np.ndarray) -> np.ndarray:
    """The back-adjustment factor ``hfq / raw`` per day (in date order), held constant while its
    day-to-day change stays within the rounding error of two prices quoted to the fen.

    A raw ratio would move by ~1e-4 every day and look like a tiny dividend or split each day to
    everything downstream (holdings adjusted daily, limit prices off by a fen); a real ex-rights
    change (a dividend of more than that rounding error) starts a new value. Days without a ratio
    (missing hfq) keep the last factor.
    """
    ratio = hfq_close / raw_close
    out = np.empty_like(ratio)
    current = np.nan
    for i, (r, h, c) in enumerate(zip(ratio, hfq_close, raw_close, strict=True)):
        if np.isfinite(r):
            tol = 1.5 * (0.5 * PRICE_TICK / h + 0.5 * PRICE_TICK / c)
            if not np.isfinite(current) or abs(r / current - 1.0) > tol:
                current = r
        out[i] = current
    return out


def akshare_index(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Canonical index bars from ``stock_zh_index_daily`` (sina; volume already in shares)."""
    _require(df, list(AK_INDEX_COLUMNS), source)
    out = df[list(AK_INDEX_COLUMNS)].rename(columns=AK_INDEX_COLUMNS)
    out["date"] = _dates(out["date"], source)
    out = drop_exact_duplicates(out, ["date"], source)
    return canonical_index(out, source)


def akshare_constituents(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Membership observations ``date, symbol, name`` from ``index_stock_cons_csindex``."""
    _require(df, list(AK_CONS_COLUMNS), source)
    out = df[list(AK_CONS_COLUMNS)].rename(columns=AK_CONS_COLUMNS)
    codes = out["code"].astype(str).str.zfill(6)
    if AK_CONS_EXCHANGE in df.columns:
        exch = df[AK_CONS_EXCHANGE].astype(str)
        prefix = np.where(exch.str.contains("深圳"), "SZ", np.where(exch.str.contains("上海"), "SH", ""))
        out["symbol"] = [p + c if p else to_symbol(c) for p, c in zip(prefix, codes, strict=True)]
    else:
        out["symbol"] = [to_symbol(c) for c in codes]
    out["date"] = _dates(out["date"], source)
    out["name"] = out["name"].astype(str)
    out = drop_exact_duplicates(out[list(MEMBERSHIP_OBS_COLUMNS)], ["date", "symbol"], source)
    return out.sort_values(["date", "symbol"]).reset_index(drop=True)


# ---------------------------------------------------------------- tushare
def tushare_bars(daily: pd.DataFrame, adj: pd.DataFrame, source: str) -> pd.DataFrame:
    """Canonical bars from ``pro.daily`` + ``pro.adj_factor`` (volume lots -> shares)."""
    _require(daily, list(TS_BAR_COLUMNS), f"{source} daily")
    _require(adj, list(TS_ADJ_COLUMNS), f"{source} adj_factor")
    d = daily[list(TS_BAR_COLUMNS)].rename(columns=TS_BAR_COLUMNS)
    d["date"] = _dates(d["date"], source, "%Y%m%d")
    d["symbol"] = [to_symbol(s) for s in d["symbol"]]
    d = drop_exact_duplicates(d, ["date", "symbol"], f"{source} daily")
    a = adj[list(TS_ADJ_COLUMNS)].rename(columns=TS_ADJ_COLUMNS)
    a["date"] = _dates(a["date"], source, "%Y%m%d")
    a["symbol"] = [to_symbol(s) for s in a["symbol"]]
    a = drop_exact_duplicates(a, ["date", "symbol"], f"{source} adj_factor")
    out = d.merge(a, on=["date", "symbol"], how="left", validate="one_to_one")
    out["volume"] = pd.to_numeric(out["volume"], errors="coerce") * SHARES_PER_LOT
    return canonical_bars(out[list(BAR_COLUMNS)], source)


def tushare_index(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Canonical index bars from ``pro.index_daily`` (volume lots -> shares)."""
    _require(df, list(TS_INDEX_COLUMNS), source)
    out = df[list(TS_INDEX_COLUMNS)].rename(columns=TS_INDEX_COLUMNS)
    out["date"] = _dates(out["date"], source, "%Y%m%d")
    out = drop_exact_duplicates(out, ["date"], source)
    out["volume"] = pd.to_numeric(out["volume"], errors="coerce") * SHARES_PER_LOT
    return canonical_index(out, source)


def tushare_weights(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Membership observations ``date, symbol, name`` from ``pro.index_weight`` (a constituent
    list per weight date; names are not in this API and stay empty)."""
    _require(df, list(TS_WEIGHT_COLUMNS), source)
    out = df[list(TS_WEIGHT_COLUMNS)].rename(columns=TS_WEIGHT_COLUMNS)
    out["date"] = _dates(out["date"], source, "%Y%m%d")
    out["symbol"] = [to_symbol(s) for s in out["symbol"]]
    out["name"] = ""
    out = drop_exact_duplicates(out[list(MEMBERSHIP_OBS_COLUMNS)], ["date", "symbol"], source)
    return out.sort_values(["date", "symbol"]).reset_index(drop=True)


# ---------------------------------------------------------------- characteristics
def tushare_characteristics(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Canonical characteristics from ``pro.daily_basic`` (万元 and 万股 -> CNY and shares)."""
    _require(df, list(TS_BASIC_COLUMNS), source)
    out = df[list(TS_BASIC_COLUMNS)].rename(columns=TS_BASIC_COLUMNS)
    out["date"] = _dates(out["date"], source, "%Y%m%d")
    out["symbol"] = [to_symbol(s) for s in out["symbol"]]
    out = drop_exact_duplicates(out, ["date", "symbol"], source)
    for c in ("total_mv", "float_mv", "float_shares"):
        out[c] = pd.to_numeric(out[c], errors="coerce") * TEN_THOUSAND
    return canonical_characteristics(out, source)


def akshare_characteristics(raw: pd.DataFrame, symbol: str, source: str) -> pd.DataFrame:
    """Canonical characteristics from ``stock_zh_a_hist(adjust='')``: the float (shares) from the
    volume and the turnover rate, its value at the raw close; a day without trading (turnover 0)
    has none. akshare gives no total value, book or earnings (NaN)."""
    _require(raw, ["日期", "收盘", "成交量", AK_TURNOVER], source)
    rate = pd.to_numeric(raw[AK_TURNOVER], errors="coerce").to_numpy(float) / 100.0
    shares = pd.to_numeric(raw["成交量"], errors="coerce").to_numpy(float) * SHARES_PER_LOT
    with np.errstate(invalid="ignore", divide="ignore"):
        floating = np.where(rate > 0, shares / rate, np.nan)
    out = pd.DataFrame({"date": _dates(raw["日期"], source), "symbol": to_symbol(symbol), "float_shares": floating,
                        "float_mv": floating * pd.to_numeric(raw["收盘"], errors="coerce").to_numpy(float)})
    out = drop_exact_duplicates(out, ["date", "symbol"], source)
    return canonical_characteristics(out, source)


def tushare_industry(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Canonical industry spans (Shenwan level 1) from ``pro.index_member_all`` rows."""
    _require(df, list(TS_INDUSTRY_COLUMNS), source)
    out = df[list(TS_INDUSTRY_COLUMNS)].rename(columns=TS_INDUSTRY_COLUMNS)
    out["symbol"] = [to_symbol(s) for s in out["symbol"]]
    out["start"] = _span_dates(out["start"], source, "in_date")
    out["end"] = _span_dates(out["end"], source, "out_date")
    out = drop_exact_duplicates(out, ["symbol", "start"], source)
    return canonical_industry(out, source)


# ---------------------------------------------------------------- dated membership histories
def _span_dates(values: pd.Series, source: str, what: str) -> pd.Series:
    """Dates of a span column; empty markers ('', '--', NaN) are NaT (still a member)."""
    text = values.astype(str).str.strip()
    blank = values.isna() | text.str.lower().isin(_NO_DATE)
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if (~blank).any():
        out[~blank] = _dates(values[~blank], f"{source} {what}")
    return out


def _spans(out: pd.DataFrame, source: str) -> pd.DataFrame:
    out = out[list(MEMBERSHIP_SPAN_COLUMNS)].sort_values(["symbol", "start"], kind="stable").reset_index(drop=True)
    bad = out["start"].isna() | (out["end"].notna() & (out["end"] <= out["start"]))
    if bad.any():
        raise DataValidationError(source, "every span has a start before its end", int(bad.sum()),
                                  out.loc[bad].head().to_string())
    return out


def akshare_index_hist(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Membership spans ``symbol, name, start, end`` from ``index_stock_hist`` (no names: empty)."""
    _require(df, list(AK_HIST_COLUMNS), source)
    out = df[list(AK_HIST_COLUMNS)].rename(columns=AK_HIST_COLUMNS)
    out["symbol"] = [to_symbol(str(c).zfill(6)) for c in out["code"]]
    out["name"] = ""
    out["start"] = _span_dates(out["start"], source, "in_date")
    out["end"] = _span_dates(out["end"], source, "out_date")
    return _spans(out, source)


def index_constitution_spans(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Membership spans from index-constitution's ``history('csi300')``."""
    _require(df, list(IC_COLUMNS), source)
    out = df[list(IC_COLUMNS)].rename(columns=IC_COLUMNS)
    out["symbol"] = [to_symbol(s) for s in out["symbol"]]
    out["name"] = out["name"].fillna("").astype(str)
    out["start"] = _span_dates(out["start"], source, "opt-in")
    out["end"] = _span_dates(out["end"], source, "opt-out")
    return _spans(out, source)


def qlib_instrument_spans(text: str, calendar: pd.DatetimeIndex, source: str) -> pd.DataFrame:
    """Membership spans from a qlib instruments file (``SH600000<TAB>first day<TAB>last day``, both
    days IN the index): the exclusive end is the trading day after the last day; a span that
    reaches the file's last day is still open."""
    rows = [line.split("\t") for line in text.splitlines() if line.strip()]
    if not rows or any(len(r) < 3 for r in rows):
        raise DataValidationError(source, "qlib instrument lines 'SYMBOL<TAB>start<TAB>end'", len(rows))
    df = pd.DataFrame([r[:3] for r in rows], columns=["symbol", "start", "last"])
    df["symbol"] = [to_symbol(s) for s in df["symbol"]]
    df["name"] = ""
    df["start"] = _dates(df["start"], f"{source} start")
    last = _dates(df["last"], f"{source} end")
    cal = pd.DatetimeIndex(calendar)
    nxt = cal.searchsorted(last.to_numpy(), side="right")
    end = pd.Series(cal[np.minimum(nxt, len(cal) - 1)], index=df.index).where(nxt < len(cal))
    df["end"] = end.where(last < last.max()).astype("datetime64[ns]")
    return _spans(df, source)

"""The style library: point-in-time characteristics of each member on each day, from the toolkit's data.

A style is a well-known characteristic that anyone can hold without a model (low volatility, low
beta, small size, short-term losers, ...). Every value of day ``d`` reads data of days ``<= d`` only
(it is known at the close of ``d``, when the day's prediction is made); nothing is centred or
forward-filled into the future. Windows count trading days of the calendar; a statistic needs a
stated share of its window observed, else it is NaN (a new listing has no 250-day beta).

Daily return: ``r(d) = adjusted close(d) / adjusted close(d-1) - 1`` on days the stock traded (a bar
with volume > 0) on both ``d`` and ``d-1``; NaN otherwise. Dollar volume: raw close x volume (CNY).

==========  ======  ========  =======================================================  ============
style       side    window    definition                                               units
==========  ======  ========  =======================================================  ============
beta        low     250 (120) OLS slope of r on the CSI-300's daily return             unitless
volatility  low     60 (40)   standard deviation of r                                  fraction/day
reversal    low     5         adjusted close(d) / adjusted close(d-5) - 1 (last close)  fraction
momentum    high    250, 21   adjusted close(d-21) / adjusted close(d-250) - 1         fraction
liquidity   high    20 (10)   Amihud illiquidity: mean of abs(r) / dollar volume       per 1e8 CNY
size_proxy  low     60 (40)   log of the mean daily dollar volume (NOT capitalisation) log CNY
price       low     0         log of the raw close                                     log CNY
size        low     0         log total market value (tushare), else float value      log CNY
value       high    0         book-to-price, 1 / pb (tushare daily_basic)              unitless
industry    -       0         Shenwan level-1 industry on the day (tushare)            category
==========  ======  ========  =======================================================  ============

(window (n): the trailing trading days read, and the fewest observed; ``side``: the side a style
investor holds, the textbook premium: low volatility, low beta, short-term losers, 12-1 month
winners, illiquid, small, cheap.)

``size_proxy`` is what the snapshot allows: trading value, which grows with capitalisation but also
with attention (a hot mid cap can out-trade a quiet giant). Real ``size``, ``value`` and ``industry``
need vendor fields that the snapshot lacks; they join when the data carry them
(:attr:`data_store.MarketData.characteristics`, :attr:`data_store.MarketData.industry`, filled by
``python -m data_store update --characteristics``). A user's own characteristics join from a table
(:func:`signals.styles.table.read_table`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import bottleneck as bn
import numpy as np
import pandas as pd

from data_store.market import MarketData

from ..errors import ConfigError
from .config import AUTO, BAR_STYLES, STYLE_NAMES

__all__ = ["STYLES", "Style", "StylePanel", "available", "compute_styles", "resolve_names"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Style:
    """One style: ``name``, ``title`` (the premium side in words), ``side`` (+1: high values are the
    side a style investor holds, -1: low values; 0: a category), ``window`` (trading days read),
    ``units``, ``definition`` and where its data come from (``needs``: bars, characteristics,
    industry or table)."""

    name: str
    title: str
    side: int
    window: int
    units: str
    definition: str
    needs: str = "bars"

    @property
    def categorical(self) -> bool:
        return self.side == 0

    def describe(self) -> dict[str, object]:
        return {"name": self.name, "title": self.title, "side": {1: "high", -1: "low", 0: "category"}[self.side],
                "window_days": self.window, "units": self.units, "definition": self.definition, "needs": self.needs}


#: every style of the library (see the module docstring)
STYLES: dict[str, Style] = {s.name: s for s in (
    Style("beta", "low beta", -1, 250, "unitless",
          "OLS slope of the daily return on the CSI-300's over 250 trading days (at least 120 returns)"),
    Style("volatility", "low volatility", -1, 60, "fraction a day",
          "standard deviation of the daily return over 60 trading days (at least 40 returns)"),
    Style("reversal", "short-term losers", -1, 5, "fraction",
          "5-day return: adjusted close / adjusted close 5 trading days before - 1 (last closes)"),
    Style("momentum", "12-1 month winners", 1, 250, "fraction",
          "adjusted close 21 trading days ago / adjusted close 250 trading days ago - 1 (last closes)"),
    Style("liquidity", "illiquid", 1, 20, "abs. return per 1e8 CNY traded",
          "Amihud illiquidity: mean over 20 trading days (at least 10) of abs(daily return) / (close x volume)"),
    Style("size_proxy", "small (traded value)", -1, 60, "log CNY",
          "log of the mean daily traded value (raw close x volume) over 60 trading days (at least 40): a proxy "
          "for size from trading, not capitalisation"),
    Style("price", "low share price", -1, 0, "log CNY", "log of the day's raw close"),
    Style("size", "small", -1, 0, "log CNY",
          "log of the total market value at the day's close (tushare daily_basic total_mv); without it, the float "
          "value (akshare: float shares from the turnover rate x close)", needs="characteristics"),
    Style("value", "cheap (high book-to-price)", 1, 0, "unitless",
          "book-to-price at the day's close: 1 / pb (tushare daily_basic)", needs="characteristics"),
    Style("industry", "industry", 0, 0, "category", "Shenwan level-1 industry on the day (tushare index_member_all)",
          needs="industry"),
)}
assert tuple(STYLES) == STYLE_NAMES

#: fewest observed days of a window (share of it), per windowed style
_MIN_OBS = {"beta": 120, "volatility": 40, "liquidity": 10, "size_proxy": 40}
#: traded value is per 1e8 CNY in the Amihud ratio (so typical values are near 1)
AMIHUD_SCALE = 1e8


@dataclass
class StylePanel:
    """The styles of a run on the calendar x symbols grid.

    ``values``: name -> raw values (float64 array, days x symbols; NaN where unknown; a category's
    integer codes as floats); ``styles``: the :class:`Style` of each name, in order (a user's column
    gets a Style with ``needs='table'``); ``labels``: category codes -> names (industry);
    ``calendar``, ``symbols``: the grid."""

    values: dict[str, np.ndarray]
    styles: list[Style]
    calendar: pd.DatetimeIndex
    symbols: list[str]
    labels: dict[str, list[str]] = field(default_factory=dict)

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.styles]

    @property
    def continuous(self) -> list[str]:
        """The styles with an order (every one but the categories)."""
        return [s.name for s in self.styles if not s.categorical]

    def style(self, name: str) -> Style:
        for s in self.styles:
            if s.name == name:
                return s
        raise ConfigError(f"style {name!r} is not in this run's styles {self.names}")

    def frame(self, name: str) -> pd.DataFrame:
        """One style's values as a calendar x symbols DataFrame."""
        return pd.DataFrame(self.values[name], index=self.calendar, columns=pd.Index(self.symbols, name="symbol"))

    def premium(self, name: str) -> np.ndarray:
        """The values signed so that higher is the side a style investor holds (side x value)."""
        s = self.style(name)
        if s.categorical:
            raise ConfigError(f"style {name!r} is a category: it has no side to hold")
        return s.side * self.values[name]

    def subset(self, names: Sequence[str]) -> StylePanel:
        """The same panel with only ``names`` (each must be in it)."""
        missing = [n for n in names if n not in self.values]
        if missing:
            raise ConfigError(f"style(s) {missing} are not in this run's styles {self.names}: add them to "
                              "styles.names (vendor styles need `data_store update --characteristics`)")
        return StylePanel(values={n: self.values[n] for n in names}, styles=[self.style(n) for n in names],
                          calendar=self.calendar, symbols=self.symbols,
                          labels={k: v for k, v in self.labels.items() if k in names})

    def missing_per_day(self, mask: np.ndarray) -> pd.DataFrame:
        """Per day, for each style, how many of the names in ``mask`` (days x symbols) have no value."""
        return pd.DataFrame({n: (mask & ~np.isfinite(v)).sum(axis=1) for n, v in self.values.items()},
                            index=self.calendar)


def available(md: MarketData) -> list[str]:
    """The library's styles ``md`` can give: the bar styles, and the vendor styles whose fields it carries."""
    out = list(BAR_STYLES)
    chars = md.characteristics
    if chars is not None and len(chars):
        if chars["total_mv"].notna().any() or chars["float_mv"].notna().any():
            out.append("size")
        if chars["pb"].notna().any():
            out.append("value")
    if md.industry is not None and len(md.industry):
        out.append("industry")
    return out


def resolve_names(names: Sequence[str], md: MarketData) -> list[str]:
    """The styles of ``names`` (``auto`` = :func:`available`), in library order; a vendor style the
    data lack raises :class:`ConfigError` with the fix."""
    have = available(md)
    want: list[str] = []
    for n in names:
        if n == AUTO:
            want += have
        elif n not in STYLES:
            raise ConfigError(f"style {n!r} is not in the library: choose from {list(STYLES)} or auto")
        elif n not in have:
            raise ConfigError(f"style {n!r} needs vendor fields the data lack (the snapshot has no capitalisation, "
                              "valuation or industry): run `python -m data_store update --characteristics` with a "
                              "tushare token and data.use_cache = true, or leave it out")
        else:
            want.append(n)
    return [n for n in STYLE_NAMES if n in set(want)]


# ---------------------------------------------------------------- computation
class _Inputs:
    """The panels the styles read, computed once (days x symbols float64)."""

    def __init__(self, md: MarketData) -> None:
        self.md = md
        self._c: dict[str, np.ndarray] = {}

    def get(self, key: str, make: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._c:
            self._c[key] = make()
        return self._c[key]

    @property
    def close(self) -> np.ndarray:
        return self.get("close", lambda: self.md.panel("close", adjusted=True).to_numpy(np.float64))

    @property
    def traded(self) -> np.ndarray:
        def make() -> np.ndarray:
            vol = self.md.panel("volume").to_numpy(np.float64)
            with np.errstate(invalid="ignore"):
                return (vol > 0) & np.isfinite(self.close)
        return self.get("traded", make)

    @property
    def last_close(self) -> np.ndarray:
        """The adjusted close of the last day with a bar on or before each day (never later)."""
        return self.get("last_close", lambda: pd.DataFrame(np.where(self.traded, self.close, np.nan)).ffill()
                        .to_numpy())

    @property
    def ret(self) -> np.ndarray:
        def make() -> np.ndarray:
            c, t = self.close, self.traded
            out = np.full(c.shape, np.nan)
            ok = t[1:] & t[:-1]
            with np.errstate(invalid="ignore", divide="ignore"):
                out[1:] = np.where(ok, c[1:] / c[:-1] - 1.0, np.nan)
            return out
        return self.get("ret", make)

    @property
    def market(self) -> np.ndarray:
        def make() -> np.ndarray:
            ic = self.md.index["close"].to_numpy(np.float64)
            out = np.full(len(ic), np.nan)
            out[1:] = ic[1:] / ic[:-1] - 1.0
            return out
        return self.get("market", make)

    @property
    def dollar_volume(self) -> np.ndarray:
        def make() -> np.ndarray:
            raw = self.md.panel("close").to_numpy(np.float64)
            vol = self.md.panel("volume").to_numpy(np.float64)
            return np.where(self.traded, raw * vol, np.nan)
        return self.get("dollar_volume", make)


def _mean(x: np.ndarray, n: int, min_obs: int) -> np.ndarray:
    return bn.move_mean(x, n, min_count=min_obs, axis=0)


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    """``x`` moved ``k`` days later (row d holds row d-k); NaN where there is none."""
    out = np.full(x.shape, np.nan)
    if k < len(x):
        out[k:] = x[: len(x) - k]
    return out


def _beta(inp: _Inputs) -> np.ndarray:
    n, k = 250, _MIN_OBS["beta"]
    r = inp.ret
    m = np.broadcast_to(inp.market[:, None], r.shape)
    both = np.isfinite(r) & np.isfinite(m)
    r, m = np.where(both, r, np.nan), np.where(both, m, np.nan)
    mr, mm = _mean(r, n, k), _mean(m, n, k)
    cov = _mean(r * m, n, k) - mr * mm
    var = _mean(m * m, n, k) - mm * mm
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(var > 1e-12, cov / var, np.nan)


def _volatility(inp: _Inputs) -> np.ndarray:
    return bn.move_std(inp.ret, 60, min_count=_MIN_OBS["volatility"], axis=0, ddof=1)


def _reversal(inp: _Inputs) -> np.ndarray:
    c = inp.last_close
    with np.errstate(invalid="ignore", divide="ignore"):
        return c / _shift(c, 5) - 1.0


def _momentum(inp: _Inputs) -> np.ndarray:
    c = inp.last_close
    with np.errstate(invalid="ignore", divide="ignore"):
        return _shift(c, 21) / _shift(c, 250) - 1.0


def _liquidity(inp: _Inputs) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.abs(inp.ret) / inp.dollar_volume * AMIHUD_SCALE
    ratio[~np.isfinite(ratio)] = np.nan
    return _mean(ratio, 20, _MIN_OBS["liquidity"])


def _size_proxy(inp: _Inputs) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(_mean(inp.dollar_volume, 60, _MIN_OBS["size_proxy"]))


def _price(inp: _Inputs) -> np.ndarray:
    raw = inp.md.panel("close").to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(raw > 0, np.log(raw), np.nan)


def _characteristic(md: MarketData, column: str) -> np.ndarray:
    chars = md.characteristics
    out = np.full((len(md.calendar), len(md.symbols)), np.nan)
    if chars is None or not len(chars):
        return out
    c = chars.dropna(subset=[column])
    d = md.calendar.get_indexer(c["date"])
    s = pd.Index(md.symbols).get_indexer(c["symbol"].astype(str))
    ok = (d >= 0) & (s >= 0)
    out[d[ok], s[ok]] = c[column].to_numpy(np.float64)[ok]
    return out


def _size(inp: _Inputs) -> np.ndarray:
    total = _characteristic(inp.md, "total_mv")
    cap = total if np.isfinite(total).any() else _characteristic(inp.md, "float_mv")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cap > 0, np.log(cap), np.nan)


def _value(inp: _Inputs) -> np.ndarray:
    pb = _characteristic(inp.md, "pb")
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(np.isfinite(pb) & (pb != 0), 1.0 / pb, np.nan)


def _industry(md: MarketData) -> tuple[np.ndarray, list[str]]:
    """Integer codes (as floats; NaN = unknown) of each member's industry on each day, and the names."""
    ind = md.industry
    out = np.full((len(md.calendar), len(md.symbols)), np.nan)
    if ind is None or not len(ind):
        return out, []
    names = sorted(ind["industry"].astype(str).unique())
    code = {n: i for i, n in enumerate(names)}
    pos = {s: i for i, s in enumerate(md.symbols)}
    cal = md.calendar.to_numpy()
    for row in ind.itertuples(index=False):
        j = pos.get(str(row.symbol))
        if j is None:
            continue
        lo = np.searchsorted(cal, np.datetime64(row.start), side="left")
        hi = len(cal) if pd.isna(row.end) else np.searchsorted(cal, np.datetime64(row.end), side="left")
        out[lo:hi, j] = code[str(row.industry)]
    return out, names


_COMPUTE: dict[str, Callable[[_Inputs], np.ndarray]] = {
    "beta": _beta, "volatility": _volatility, "reversal": _reversal, "momentum": _momentum,
    "liquidity": _liquidity, "size_proxy": _size_proxy, "price": _price, "size": _size, "value": _value,
}


def compute_styles(md: MarketData, names: Sequence[str] = (AUTO,), table: pd.DataFrame | None = None,
                   compute: Mapping[str, Callable[[MarketData], np.ndarray]] | None = None) -> StylePanel:
    """The styles ``names`` (library names or ``auto``, see :func:`resolve_names`) of every day and
    symbol of ``md``, plus each column of a user's ``table`` (:func:`signals.styles.table.read_table`).

    ``compute``: styles of your own as functions of the MarketData (name -> calendar x symbols
    array); they must read only data up to each day (the leakage audit checks them by name).
    Infinite values become NaN. Nothing is forward-filled past a day."""
    lib = resolve_names(names, md)
    inp = _Inputs(md)
    values: dict[str, np.ndarray] = {}
    styles: list[Style] = []
    labels: dict[str, list[str]] = {}
    shape = (len(md.calendar), len(md.symbols))
    for name in lib:
        if name == "industry":
            values[name], labels[name] = _industry(md)
        else:
            values[name] = _COMPUTE[name](inp)
        styles.append(STYLES[name])
    for name, fn in (compute or {}).items():
        if name in values:
            raise ConfigError(f"style {name!r} of your own has the name of a library style: rename it")
        arr = np.asarray(fn(md), dtype=np.float64)
        if arr.shape != shape:
            raise ConfigError(f"style {name!r} of your own has shape {arr.shape}, the grid is {shape} (calendar x "
                              "symbols of the MarketData)")
        values[name] = arr
        styles.append(Style(name, name, 1, 0, "as given", "a function of your own", needs="function"))
    if table is not None:
        from .table import table_panels

        for name, arr in table_panels(table, md.calendar, md.symbols).items():
            if name in values:
                raise ConfigError(f"column {name!r} of styles.table has the name of a style already used: rename it")
            values[name] = arr
            styles.append(Style(name, name, 1, 0, "as given", "a column of styles.table", needs="table"))
    for arr in values.values():
        arr[~np.isfinite(arr)] = np.nan
    log.debug("styles %s on %d days x %d symbols", list(values), *shape)
    return StylePanel(values=values, styles=styles, calendar=md.calendar, symbols=list(md.symbols), labels=labels)


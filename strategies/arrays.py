"""Market arrays of one backtest: every instrument aligned on the trading calendar, with the
A-share rule facts (suspension, limit prices, limit-up and limit-down opens, ex-rights ratios)
precomputed in NumPy.

Rows are trading days, columns symbols. The arrays are built once, vectorised, so that the
per-bar work of the Backtrader run is a few array look-ups. The rule facts are not computed here:
:func:`build_arrays` calls the rule classes of :mod:`strategies.rules` on the whole panels.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.timing import FILL_LAG
from data_store import MarketData

from .rules import FillFacts, PriceLimit, Suspension


@dataclass(frozen=True, eq=False)
class MarketArrays:
    """Aligned (days x symbols) arrays for the days of one backtest.

    Attributes:
        dates: the trading days of the run.
        symbols: the instruments (columns).
        open, high, low, close: raw CNY, forward-filled over days without a bar (a suspended
            stock is marked at its last close) and back-filled before the first bar (never traded
            there: such days are suspended).
        volume: shares, 0 where there is no bar or the volume is missing.
        has_bar: a bar exists in the data.
        suspended: no bar, volume 0 or volume missing: no trade that day.
        member: point-in-time CSI-300 member (``start <= d < end``).
        tradable: member and not suspended (what a decision on that day may pick).
        ex_ratio: factor(t) / factor(t-1), both forward-filled: > 1 on an ex-dividend or bonus
            share day. A holding of h shares is worth h x ex_ratio shares afterwards.
        reference: previous close adjusted for ex-rights, rounded to the fen (CNY).
        limit_pct: limit fraction of the day (nan: no limit, e.g. first listed days).
        upper, lower: limit prices (CNY, nan without a limit).
        buy_blocked: the open is at the upper limit (no buy at that open).
        sell_blocked: the open is at the lower limit (no sell at that open).
        volatility: standard deviation (ddof=1) of the stock's adjusted close-to-close daily
            returns over the :data:`VOL_DAYS` trading days up to and including the day (known at
            its close; at least half of them traded); where a stock has too few, the day's median
            over the run's symbols, else :data:`FALLBACK_VOLATILITY`. Read by the impact rule.
    """

    dates: pd.DatetimeIndex
    symbols: list[str]
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    has_bar: np.ndarray
    suspended: np.ndarray
    member: np.ndarray
    tradable: np.ndarray
    ex_ratio: np.ndarray
    reference: np.ndarray
    limit_pct: np.ndarray
    upper: np.ndarray
    lower: np.ndarray
    buy_blocked: np.ndarray
    sell_blocked: np.ndarray
    volatility: np.ndarray

    @property
    def shape(self) -> tuple[int, int]:
        return self.close.shape

    def fill_facts(self, i: int, c: int) -> FillFacts:
        """What day ``i`` says about column ``c`` to an order filling at its open (the volatility
        is the decision day's, ``FILL_LAG`` rows earlier: known when the order went in)."""
        return FillFacts(open=float(self.open[i, c]), high=float(self.high[i, c]), low=float(self.low[i, c]),
                         upper=float(self.upper[i, c]), lower=float(self.lower[i, c]),
                         suspended=bool(self.suspended[i, c]), member=bool(self.member[i, c]),
                         buy_blocked=bool(self.buy_blocked[i, c]), sell_blocked=bool(self.sell_blocked[i, c]),
                         volume=float(self.volume[i, c]), volatility=float(self.volatility[max(i - FILL_LAG, 0), c]))


#: trading days of the trailing volatility (:attr:`MarketArrays.volatility`)
VOL_DAYS = 20
#: daily volatility used where no stock of the day has enough history (a fraction)
FALLBACK_VOLATILITY = 0.02


def trailing_volatility(close: np.ndarray, factor: np.ndarray, days: int = VOL_DAYS) -> np.ndarray:
    """Rolling standard deviation (ddof=1) of adjusted close-to-close returns over ``days`` rows,
    each row up to and including itself; NaN where fewer than ``days // 2`` returns exist (a
    return needs a bar on both days)."""
    adj = pd.DataFrame(close * factor)
    ret = adj / adj.shift(1) - 1.0
    return ret.rolling(days, min_periods=max(days // 2, 2)).std(ddof=1).to_numpy()


def _ffill(a: np.ndarray) -> np.ndarray:
    """Forward-fill NaN down the rows of a 2-D array (column-wise)."""
    n = a.shape[0]
    idx = np.where(np.isnan(a), 0, np.arange(n)[:, None])
    np.maximum.accumulate(idx, axis=0, out=idx)
    out = a[idx, np.arange(a.shape[1])[None, :]]
    return out


def _bfill(a: np.ndarray) -> np.ndarray:
    return _ffill(a[::-1])[::-1]


def build_arrays(
    md: MarketData,
    symbols: list[str],
    start: pd.Timestamp,
    end: pd.Timestamp,
    price_limit: PriceLimit | None = None,
    suspension: Suspension | None = None,
) -> MarketArrays:
    """Aligned arrays of ``symbols`` over the calendar days ``start..end`` (inclusive).

    Rule facts that look back (reference price, ex-rights ratio, listing age) are computed on the
    whole calendar first, so the first day of the run has its true previous close. The rule
    facts come from the rule classes themselves (:class:`~strategies.rules.PriceLimit`,
    :class:`~strategies.rules.Suspension`), called once on the whole panel.
    """
    price_limit = price_limit or PriceLimit()
    suspension = suspension or Suspension()
    cal = md.calendar
    lo, hi = cal.searchsorted(start), cal.searchsorted(end, side="right")
    # one extra day before the run for the look-back facts
    lo0 = max(lo - 1, 0)
    rows = slice(lo0, hi)

    def panel(field: str) -> np.ndarray:
        return md.panel(field)[symbols].to_numpy()[rows].astype("float64", copy=True)

    o, h, low, c, v, f = (panel(x) for x in ("open", "high", "low", "close", "volume", "factor"))
    has_bar = ~np.isnan(c)
    suspended = suspension.is_suspended(v, has_bar)

    # prices carried over gaps: the close marks the position, the rest keep Backtrader finite
    c_ff = _ffill(c)
    f_ff = _bfill(_ffill(f))
    c_fill = _bfill(c_ff)
    o_fill = np.where(has_bar, o, c_fill)
    h_fill = np.where(has_bar, h, c_fill)
    l_fill = np.where(has_bar, low, c_fill)

    prev_c = np.vstack([np.full((1, c.shape[1]), np.nan), c_ff[:-1]])
    prev_f = np.vstack([f_ff[:1], f_ff[:-1]])
    ex_ratio = f_ff / prev_f
    ex_ratio[~np.isfinite(ex_ratio)] = 1.0

    # the price-limit rule, on the whole panel: reference, limit fraction, limit prices, blocks
    dates = cal[rows]
    listing = md.listing_dates().reindex(symbols)
    list_pos = cal.get_indexer(pd.DatetimeIndex(listing))  # -1 for NaT: listed long before
    listed_days = np.where(list_pos[None, :] >= 0, np.arange(lo0, hi)[:, None] - list_pos[None, :] + 1, np.nan)
    reference = price_limit.reference_price(prev_c, prev_f, f_ff)
    pct = price_limit.pct(np.asarray(symbols, dtype=object)[None, :], dates.to_numpy()[:, None], listed_days)
    upper, lower = price_limit.limit_prices(reference, pct)
    pct = np.where(np.isfinite(upper), pct, np.nan)  # no reference price (first day): no limit
    buy_blocked = price_limit.blocks_buy(o, upper)  # o is NaN without a bar: never blocked
    sell_blocked = price_limit.blocks_sell(o, lower)

    # the trailing volatility needs VOL_DAYS rows before the run
    lo_v = max(lo - VOL_DAYS, 0)
    vrows = slice(lo_v, hi)
    raw_c = md.panel("close")[symbols].to_numpy()[vrows].astype("float64")
    raw_f = _bfill(_ffill(md.panel("factor")[symbols].to_numpy()[vrows].astype("float64")))
    sigma = trailing_volatility(raw_c, raw_f)[lo - lo_v:]
    day_median = pd.DataFrame(sigma).median(axis=1, skipna=True).fillna(FALLBACK_VOLATILITY).to_numpy()[:, None]
    sigma = np.where(np.isfinite(sigma), sigma, day_median)

    member = md.membership_mask(dates=dates, symbols=symbols).to_numpy()
    tradable = member & ~suspended
    vol = np.where(has_bar & np.isfinite(v), v, 0.0)

    k = lo - lo0  # drop the look-back day
    cut = slice(k, None)
    return MarketArrays(
        dates=pd.DatetimeIndex(dates[cut], name="date"),
        symbols=list(symbols),
        open=o_fill[cut],
        high=h_fill[cut],
        low=l_fill[cut],
        close=c_fill[cut],
        volume=vol[cut],
        has_bar=has_bar[cut],
        suspended=suspended[cut],
        member=member[cut],
        tradable=tradable[cut],
        ex_ratio=ex_ratio[cut],
        reference=reference[cut],
        limit_pct=pct[cut],
        upper=upper[cut],
        lower=lower[cut],
        buy_blocked=buy_blocked[cut],
        sell_blocked=sell_blocked[cut],
        volatility=sigma,
    )

"""Trading a signal at its own pace: score smoothing, staggered review days, and the cost-aware
swap rule's two inputs (the fitted score-to-forward-return slope and each holding's round-trip
cost).

Everything here is a pure function of arrays (no Backtrader, no state). :func:`paced_scores`
smooths a score panel and fits the slopes: :func:`strategies.run_backtest` calls it over the run,
the next session's order list (``python -m backtests.predict``) over the days up to its decision
day. :func:`strategies.targets.topk_orders`, the one TopK decision both of them make, calls
:func:`review_plan`, :func:`joining_tranches` and :func:`swap_costs` and hands the results to
:func:`strategies.targets.topk_select`, which applies the rules.

The review cycle counts trading days from its day 0 (:func:`cycle_day`): a backtest's first
decision day, or the start of a live book; a position's tranche is the one reviewed on its buy's
decision day (:func:`bought_tranche`), except a refill of another tranche's exit, which joins that
tranche.

Timing (:data:`core.timing.FILL_LAG`): a decision on day t fills at the open of t + 1. The
``h``-day forward return of a decision day d is adjusted ``open(d + 1 + h) / open(d + 1) - 1``,
realised at the open of d + 1 + h; the slope a decision on day t reads uses only the days d with
``d + FILL_LAG + h <= t`` (returns realised by t's close). No decision reads a later price.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.timing import FILL_LAG

from .rules import AShareRules

__all__ = ["MIN_FIT_DAYS", "MIN_FIT_NAMES", "Review", "bought_tranche", "cycle_day", "cycle_tranche",
           "daily_gain_slopes", "day_percentiles", "forward_open_returns", "gain_slopes", "held_tranches",
           "joining_tranches", "paced_scores", "review_plan", "round_trip_cost", "smooth_scores", "swap_costs",
           "tranche_sizes"]

#: fewest past days with a slope before the cost-aware rule allows a swap (before: none)
MIN_FIT_DAYS = 20
#: fewest names with a score and a realised return for a day's slope
MIN_FIT_NAMES = 10


# ----------------------------------------------------------------------------- smoothing
def smooth_scores(scores: np.ndarray, halflife: float) -> np.ndarray:
    """Exponential average of each column (stock) of a (days x symbols) score panel across days.

    ``y_t = (1 - a) y_prev + a x_t`` with ``a = 1 - 0.5 ** (1 / halflife)`` (pandas' ``ewm``,
    ``adjust=False``), ``y_prev`` the average at the stock's previous scored day: a day without a
    score (NaN) leaves the average where it was and stays NaN itself (the stock is unscored that
    day). The first score of a stock starts its average. ``halflife <= 0``: the scores unchanged.
    Causal: row t uses rows up to t only.
    """
    s = np.asarray(scores, dtype="float64")
    if halflife <= 0 or s.size == 0:
        return s.copy()
    avg = pd.DataFrame(s).ewm(halflife=float(halflife), adjust=False, ignore_na=True).mean().to_numpy()
    return np.where(np.isfinite(s), avg, np.nan)


# ----------------------------------------------------------------------------- review days
def tranche_sizes(k: int, hold_days: int) -> np.ndarray:
    """Slots of each of the ``hold_days`` tranches of a book of ``k`` names: as equal as whole
    names allow, the first ``k mod hold_days`` tranches one larger (k=30, 4 -> 8, 8, 7, 7; with
    fewer names than tranches the last ones are empty: k=2, 4 -> 1, 1, 0, 0)."""
    base, extra = divmod(int(k), int(hold_days))
    return np.array([base + (1 if g < extra else 0) for g in range(int(hold_days))], dtype=np.int64)


@dataclass(frozen=True)
class Review:
    """What decision day ``day`` may change (:func:`review_plan`).

    Attributes:
        tranche: the tranche reviewed today (its holdings may be replaced, its free slots
            filled, and today's buys join it); -1: no review today (a day between rebalances).
        locked: holdings that may not be replaced today (those of the other tranches; all on a
            day without a review). Exits from the index are sold whatever this says.
        capacity: most names the book may hold after today's trades: the holdings of the other
            tranches, the slots their exits free today (``refill``) and the reviewed tranche's
            slots (the holdings kept on a day without a review, so nothing is bought).
        refill: for each slot of another tranche that an exit from the index frees today, that
            tranche (its replacement joins it); today's first buys go to the reviewed tranche.
    """

    tranche: int
    locked: np.ndarray
    capacity: int
    refill: tuple[int, ...] = ()


def review_plan(day: int, k: int, hold_days: int, rebalance_every: int, tranche: np.ndarray,
                staying: np.ndarray, leaving: np.ndarray | None = None) -> Review:
    """The review of decision day ``day`` (0 = the run's first decision day).

    Rules: decisions are made on the days ``day % rebalance_every == 0``; on those, the book's
    ``k`` slots are split into ``hold_days`` tranches (:func:`tranche_sizes`) and tranche
    ``(day // rebalance_every) % hold_days`` is reviewed, so each tranche is reviewed every
    ``hold_days x rebalance_every`` trading days and a name bought is held that long before it
    may be replaced (Jegadeesh-Titman's overlapping portfolios: 1/hold_days of the book turns a
    review day). A holding of another tranche that left the index is sold, and its slot refilled
    the same day into its tranche (a tranche's slots that were never filled wait for its review,
    so the book is built a tranche a day). ``hold_days = rebalance_every = 1``: every holding is
    reviewed every day, all ``k`` slots open (the plain TopK rule).

    Args:
        day: position of the decision day in the run.
        k: names held (:class:`~strategies.targets.TopKConfig`).
        hold_days: tranches of the book (:class:`~strategies.targets.TopKConfig`).
        rebalance_every: trading days between decisions (:class:`~strategies.targets.TopKConfig`).
        tranche: per name, the tranche of its holding (-1: not held).
        staying: held names that stay unless replaced (held and still members).
        leaving: held names sold today because they left the index (default: none).
    """
    staying = np.asarray(staying, dtype=bool)
    tranche = np.asarray(tranche)
    if day % rebalance_every:
        return Review(tranche=-1, locked=staying.copy(), capacity=int(staying.sum()))
    g = cycle_tranche(day, hold_days, rebalance_every)
    sizes = tranche_sizes(k, hold_days)
    closed = staying & (tranche != g)
    held = staying if leaving is None else staying | np.asarray(leaving, dtype=bool)
    ids = np.clip(tranche, 0, hold_days - 1)
    had = np.bincount(ids[held & (tranche >= 0)], minlength=hold_days)
    stay = np.bincount(ids[staying & (tranche >= 0)], minlength=hold_days)
    freed = np.maximum(np.minimum(had, sizes) - stay, 0)
    freed[g] = 0
    refill = tuple(int(t) for t in np.repeat(np.arange(hold_days), freed))
    return Review(tranche=int(g), locked=closed, capacity=int(closed.sum()) + int(sizes[g]) + len(refill),
                  refill=refill)


def cycle_tranche(day: int, hold_days: int, rebalance_every: int) -> int:
    """The tranche of the review on or before decision day ``day`` (0 = the cycle's first day):
    ``(day // rebalance_every) % hold_days``. A name bought on a review day joins it (unless it
    refills another tranche's exit: :attr:`Review.refill`)."""
    return int((int(day) // int(rebalance_every)) % int(hold_days))


def cycle_day(calendar: pd.DatetimeIndex, start: pd.Timestamp, day: pd.Timestamp) -> int:
    """Trading days of ``calendar`` from ``start`` (day 0 of the review cycle) to ``day``: the
    ``day`` :func:`review_plan` reads. A backtest's cycle starts on its first decision day; the
    next session's order list (``python -m backtests.predict``) counts from the book's start the
    same way. Days off the calendar count from the next trading day."""
    cal = pd.DatetimeIndex(calendar)
    return int(cal.searchsorted(pd.Timestamp(day))) - int(cal.searchsorted(pd.Timestamp(start)))


def bought_tranche(calendar: pd.DatetimeIndex, start: pd.Timestamp, bought: pd.Timestamp, hold_days: int,
                   rebalance_every: int) -> int:
    """The tranche a position bought (filled) on ``bought`` joined: that of the review of its
    decision day, ``FILL_LAG`` trading days earlier (:func:`cycle_tranche`), as a buy of a
    backtest joins the tranche reviewed on its decision day. A refill of another tranche's exit
    is the one exception (its tranche is that of the name it replaced): only a record of it tells."""
    day = cycle_day(calendar, start, bought) - FILL_LAG
    return cycle_tranche(day, hold_days, rebalance_every)


def held_tranches(tranche: np.ndarray, held: np.ndarray) -> np.ndarray:
    """Each name's tranche for today's review: -1 where not held (a name sold, or a refused buy,
    leaves its tranche); a holding without one (not bought by a TopK decision) joins tranche 0."""
    out = np.where(np.asarray(held, dtype=bool), np.asarray(tranche, dtype=np.int64), -1)
    out[np.asarray(held, dtype=bool) & (out < 0)] = 0
    return out


def joining_tranches(review: Review, k: int, hold_days: int, tranche: np.ndarray, staying: np.ndarray,
                     sells: np.ndarray, n_buys: int) -> np.ndarray:
    """The tranche each of today's ``n_buys`` buys (best first) joins: the reviewed tranche's free
    slots first (its size less its holdings kept), then the slots that exits from the index freed
    in other tranches (:attr:`Review.refill`), any further buy the reviewed tranche again."""
    g = review.tranche
    kept = np.asarray(staying, dtype=bool) & (np.asarray(tranche) == g)
    kept[np.asarray(sells, dtype=np.intp)] = False
    room = max(int(tranche_sizes(k, hold_days)[g]) - int(kept.sum()), 0) if g >= 0 else 0
    out = [g] * min(room, n_buys) + list(review.refill)
    return np.asarray((out + [g] * n_buys)[:n_buys], dtype=np.int64)


# ----------------------------------------------------------------------------- the fitted relation
def day_percentiles(scores: np.ndarray) -> np.ndarray:
    """Each row's finite scores as percentiles of the day: ``(rank - 1) / (n - 1)`` with average
    ranks for ties (the best 1, the worst 0; a lone score 1); NaN stays NaN."""
    s = pd.DataFrame(np.asarray(scores, dtype="float64"))
    n = s.notna().sum(axis=1).to_numpy()[:, None]
    r = s.rank(axis=1, method="average").to_numpy()
    with np.errstate(invalid="ignore", divide="ignore"):
        q = np.where(n > 1, (r - 1.0) / (n - 1.0), 1.0)
    return np.where(np.isfinite(r), q, np.nan)


def forward_open_returns(open_: np.ndarray, ex_ratio: np.ndarray, suspended: np.ndarray, horizon: int) -> np.ndarray:
    """(days x symbols) ``horizon``-day return of each decision day d: adjusted
    ``open(d + FILL_LAG + horizon) / open(d + FILL_LAG) - 1`` (raw opens times the cumulated
    ex-rights ratios); NaN where either day is suspended or beyond the arrays."""
    o = np.asarray(open_, dtype="float64")
    adj = o * np.cumprod(np.asarray(ex_ratio, dtype="float64"), axis=0)
    adj = np.where(np.asarray(suspended, dtype=bool), np.nan, adj)
    n = adj.shape[0]
    out = np.full_like(adj, np.nan)
    a, b = FILL_LAG, FILL_LAG + int(horizon)
    if n > b:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[: n - b] = adj[b:] / adj[a: n - horizon] - 1.0
    return out


def daily_gain_slopes(percentiles: np.ndarray, forward: np.ndarray) -> np.ndarray:
    """Per day, the OLS slope of the forward return on the score's percentile over the names that
    have both: ``sum((q - mean q)(r - mean r)) / sum((q - mean q)^2)`` (return per unit of
    percentile, over the forward return's horizon); NaN for fewer than :data:`MIN_FIT_NAMES`
    names or no spread in q. A one-regressor slope per day, as alphalens' factor returns: written
    out in NumPy rather than a regression per day through statsmodels, thousands of times slower
    for the same number."""
    q = np.asarray(percentiles, dtype="float64")
    r = np.asarray(forward, dtype="float64")
    ok = np.isfinite(q) & np.isfinite(r)
    n = ok.sum(axis=1)
    qz, rz = np.where(ok, q, 0.0), np.where(ok, r, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        qm = qz.sum(axis=1) / n
        rm = rz.sum(axis=1) / n
        dq = np.where(ok, q - qm[:, None], 0.0)
        dr = np.where(ok, r - rm[:, None], 0.0)
        sxx = (dq * dq).sum(axis=1)
        slope = (dq * dr).sum(axis=1) / sxx
    return np.where((n >= MIN_FIT_NAMES) & (sxx > 0), slope, np.nan)


def gain_slopes(daily: np.ndarray, horizon: int) -> np.ndarray:
    """The slope each decision day reads: the mean of the daily slopes (:func:`daily_gain_slopes`)
    of the days d whose ``horizon``-day return is realised by its close (``d + FILL_LAG +
    horizon <= t``), from the run's first day on (an expanding fit on earlier, out-of-sample
    predictions); NaN until :data:`MIN_FIT_DAYS` such days have a slope."""
    b = np.asarray(daily, dtype="float64")
    have = np.isfinite(b)
    csum = np.cumsum(np.where(have, b, 0.0))
    ccount = np.cumsum(have)
    lag = FILL_LAG + int(horizon)
    out = np.full(len(b), np.nan)
    if len(b) > lag:
        s, c = csum[: len(b) - lag], ccount[: len(b) - lag]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[lag:] = np.where(c >= MIN_FIT_DAYS, s / c, np.nan)
    return out


def paced_scores(scores: np.ndarray, tradable: np.ndarray, open_: np.ndarray, ex_ratio: np.ndarray,
                 suspended: np.ndarray, halflife: float, cost_aware: bool,
                 horizon: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The scores a TopK decision ranks and the cost-aware rule's slope of each day, from a
    (days x symbols) panel of ``p_up`` and the same days' market arrays
    (:class:`strategies.arrays.MarketArrays` fields): :func:`smooth_scores` with ``halflife``,
    and with ``cost_aware`` :func:`gain_slopes` of :func:`daily_gain_slopes` on the tradable
    smoothed scores' percentiles and the ``horizon``-day forward open returns (else None).

    Row t reads rows up to t only, so a panel that ends on a decision day (the next session's
    order list) gives that day what a backtest over the same first days gives it."""
    smoothed = smooth_scores(scores, halflife)
    if not cost_aware:
        return smoothed, None
    slopes = gain_slopes(daily_gain_slopes(day_percentiles(np.where(tradable, smoothed, np.nan)),
                                           forward_open_returns(open_, ex_ratio, suspended, horizon)), horizon)
    return smoothed, slopes


# ----------------------------------------------------------------------------- costs
def round_trip_cost(value: float, shares: float, fill_date: pd.Timestamp, rules: AShareRules, volume: float = 0.0,
                    volatility: float = float("nan")) -> float:
    """CNY the broker would charge to sell a holding worth ``value`` (``shares`` shares) and buy
    the same value of another name on ``fill_date``: commission on both sides (each at least its
    minimum), the dated stamp duty on the sell, slippage on both, and the square-root impact of
    ``shares`` against ``volume`` (the decision day's, an estimate of the fill day's) on both."""
    value = abs(float(value))
    if value <= 0:
        return 0.0
    sell = rules.commission.fee(value) + rules.stamp_duty.fee(value, fill_date, True)
    buy = rules.commission.fee(value)
    moved = rules.slippage.rate + rules.impact.fraction(shares, volume, volatility)
    return float(sell + buy + 2.0 * moved * value)


def swap_costs(shares: np.ndarray, close: np.ndarray, volume: np.ndarray, volatility: np.ndarray,
               fill_date: pd.Timestamp, rules: AShareRules) -> np.ndarray:
    """Each holding's :func:`round_trip_cost` as a fraction of its value at the decision close
    (``shares`` held, the decision day's ``close``, ``volume`` and ``volatility``; filled on
    ``fill_date``); 0 where nothing is held."""
    out = np.zeros(len(shares))
    for c in np.flatnonzero(np.asarray(shares) > 0):
        n = float(shares[c])
        value = n * float(close[c])
        if value > 0:
            out[c] = round_trip_cost(value, n, fill_date, rules, float(volume[c]), float(volatility[c])) / value
    return out

"""The next session's target portfolio and orders, from the day's scores and a book.

Everything that decides or refuses is the strategies' own code, the code a backtest runs: the
strategy's orders of the day (:func:`strategies.targets.topk_orders` or
:func:`~strategies.targets.threshold_orders`: selection, rank buffer, minimum holding period, ties,
the tranche reviewed today, the cost-aware swap rule, budget and its capped spread), the scores it
ranks (:func:`strategies.pacing.paced_scores` over the earlier days' scores: smoothing and the
fitted slope), the decision day's facts (:func:`strategies.arrays.build_arrays`: the close a
position is marked at, membership, suspension, volume, volatility), and every order check at the
fill (:func:`strategies.rules.check_fill`: lots by board, T+1, price limits, suspension, the
participation cap, impact, cash), taken in the broker's order (the sells, then the buys best
first) with the cash each fill leaves and the sale proceeds a refused sell takes out of the day's
buy budget (:class:`strategies.rules.DayPlan`). This module only lays the book out as the
backtest's arrays and tabulates the answers.

TopK's review cycle (``hold_days``, ``rebalance_every``) counts trading days from the book's day 0
(:meth:`Book.cycle_day0 <backtests.predict.holdings.Book.cycle_day0>`), as a backtest counts from
its first decision day; each holding's tranche is the holdings file's, or the one reviewed on its
first purchase's decision day (:func:`strategies.pacing.bought_tranche`). With the same day 0, the
same earlier scores and the same book, the orders are the ones a backtest places that day.

An order is checked twice. *Planned*: at an open equal to the last close, inside the next
session's limits computed from it (:class:`strategies.rules.PriceLimit`), with the membership the
data give for that session and the decision day's volume for the participation cap: what is
refused here (T+1, a lot, the cash, a name leaving the index) is an order the strategy would not
place. *Realised* (a past decision day, ``--as-of``): at the
next session's real open, limits and volume, as the backtest's broker would have met them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError
from core.timing import FILL_LAG
from data_store import MarketData, board_of
from strategies import pacing
from strategies.arrays import MarketArrays, build_arrays
from strategies.rules import AShareRules, BuyValue, CostModel, DayPlan, FillCheck, FillFacts, check_fill
from strategies.targets import (
    DayOrders,
    ThresholdConfig,
    TopKConfig,
    symbol_codes,
    threshold_orders,
    tie_keys,
    topk_orders,
)

from .holdings import Book

__all__ = ["ORDER_COLUMNS", "TARGET_COLUMNS", "Plan", "plan_next_session"]

TARGET_COLUMNS = ["symbol", "name", "board", "score", "rank", "held_shares", "action", "target_shares",
                  "target_weight", "ref_price", "limit_up", "limit_down", "tranche", "note"]
ORDER_COLUMNS = ["order", "symbol", "name", "side", "score", "rank", "requested", "shares", "price", "value",
                 "commission", "stamp_duty", "status", "reason", "refused_at_open_if"]
#: the columns of a past decision day's realised outcome (``--as-of``)
REALISED_TARGETS = ["next_open", "next_close", "realised_ret"]
REALISED_ORDERS = ["next_open", "next_close", "outcome", "filled_shares", "fill_price"]

PLACE, NOT_PLACED = "place", "not placed"


@dataclass
class Plan:
    """``targets`` (one row per scored or held symbol, best rank first), ``orders`` (in the order
    the broker takes them) and ``facts`` (the book's equity, cash, the day's budget, counts)."""

    targets: pd.DataFrame
    orders: pd.DataFrame
    facts: dict[str, Any] = field(default_factory=dict)


def _names(md: MarketData, symbols: list[str], day: pd.Timestamp) -> list[str]:
    """Each symbol's name as the membership table gives it (the span around ``day`` first)."""
    sp = md.membership.spans
    sp = sp[sp["symbol"].isin(symbols) & (sp["name"].astype(str).str.len() > 0) & (sp["name"] != "nan")]
    sp = sp.assign(after=sp["start"] > day).sort_values(["symbol", "after", "start"], ascending=[True, True, False])
    first = sp.drop_duplicates("symbol").set_index("symbol")["name"]
    return [str(first.get(s, "")) for s in symbols]


def _listed_days(md: MarketData, symbols: list[str], day: pd.Timestamp) -> np.ndarray:
    """Trading days from each symbol's first bar to ``day`` (the listing day counts 1); NaN when it
    was listed before the data start (long ago), as :func:`strategies.arrays.build_arrays` counts."""
    cal = md.calendar
    first = pd.DatetimeIndex(md.listing_dates().reindex(symbols))
    pos = cal.get_indexer(first)
    here = int(cal.get_loc(day))
    return np.where(pos >= 0, here - pos + 1, np.nan).astype("float64")


def _limits(rules: AShareRules, symbols: list[str], close: np.ndarray, fill: pd.Timestamp,
            listed: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(reference, limit up, limit down) of the next session from the last close (no ex-rights
    adjustment: an ex-dividend day is announced, but not in the data)."""
    pl = rules.price_limit
    ref = np.asarray(pl.reference_price(close), dtype="float64")
    pct = np.asarray(pl.pct(np.asarray(symbols, dtype=object), fill, listed + 1), dtype="float64")
    up, down = pl.limit_prices(ref, pct)
    return ref, np.asarray(up, dtype="float64"), np.asarray(down, dtype="float64")


@dataclass
class _Ledger:
    """One pass of the day's orders through :func:`check_fill`, with the cash each fill leaves."""

    checks: list[FillCheck] = field(default_factory=list)
    cash: float = 0.0


def _run(orders: DayOrders, facts: Callable[[int], FillFacts], rules: AShareRules, symbols: list[str],
         shares: np.ndarray, bought_today: np.ndarray, close: np.ndarray, cash: float,
         fill: pd.Timestamp) -> _Ledger:
    """The broker's order: every sell, then every buy best first; a filled sell's proceeds (less
    commission and stamp duty) are cash for the buys after it, and what a refused or trimmed sell
    will not deliver is taken out of the day's buy budget (a fresh :class:`DayPlan` each pass)."""
    led = _Ledger(cash=float(cash))
    position = shares.astype("float64").copy()
    plan: DayPlan | None = None if orders.plan is None else orders.plan.fresh()
    expected = orders.sell_proceeds if len(orders.sell_proceeds) == len(orders.sells) else np.zeros(len(orders.sells))
    for c, proceeds in zip(orders.sells, expected, strict=True):
        chk = check_fill(rules, False, float(position[c]), facts(c), symbol=symbols[c], cash=led.cash,
                         position=float(position[c]), bought_today=float(bought_today[c]), proceeds=float(proceeds))
        if plan is not None:
            plan.missing += chk.undelivered
        if chk.filled:
            value = chk.size * chk.price
            led.cash += value - sum(rules.fees(value, fill, True))
            position[c] -= chk.size
        led.checks.append(chk)
    for slot, (c, value) in enumerate(zip(orders.buys, orders.values, strict=True)):
        wish = BuyValue(value=float(value), target=float(orders.target), price=float(close[c]), plan=plan, slot=slot)
        size = wish.wanted if np.isfinite(wish.wanted) and wish.wanted > 0 else float(rules.lot.LOT)
        chk = check_fill(rules, True, size, facts(c), symbol=symbols[c], cash=led.cash, wish=wish)
        if chk.filled:
            cost = chk.size * chk.price
            led.cash -= cost + sum(rules.fees(cost, fill, False))
        led.checks.append(chk)
    return led


def _trims(chk: FillCheck) -> str:
    return "; ".join(f"{reason} {shares:g} shares" for shares, reason in chk.trims)


def _ranks(scores: np.ndarray, key: np.ndarray) -> np.ndarray:
    """1 = the best score; ties in the strategy's tie order; NaN where there is no score."""
    cand = np.flatnonzero(np.isfinite(scores))
    order = cand[np.lexsort((key[cand], -scores[cand]))]
    out = np.full(len(scores), np.nan)
    out[order] = np.arange(1, len(order) + 1)
    return out


@dataclass(frozen=True)
class _Pace:
    """What TopK's pace settings make of the decision day: the scores it ranks (smoothed), the
    cost-aware rule's slope (None: the rule is off or not fitted), the cycle's day 0 and the day's
    place in it, each name's tranche, and how many earlier days the scores came from."""

    scores: np.ndarray
    slope: float | None
    start: pd.Timestamp
    day: int
    tranche: np.ndarray
    history_days: int


def _history_panel(md: MarketData, symbols: list[str], today: np.ndarray, history: pd.DataFrame | None,
                   rules: AShareRules, decision: pd.Timestamp) -> tuple[np.ndarray, MarketArrays | None]:
    """The (days x symbols) ``p_up`` panel from the first earlier day to the decision day (whose row
    is ``today``) and its market arrays; the decision day alone (and no arrays) without a history."""
    if history is None or history.empty:
        return today[None, :], None
    first = pd.Timestamp(history["date"].min())
    arr = build_arrays(md, symbols, first, decision, rules.price_limit, rules.suspension)
    panel = np.full(arr.shape, np.nan)
    di = arr.dates.get_indexer(pd.DatetimeIndex(history["date"]))
    si = pd.Index(symbols).get_indexer(history["symbol"].astype(str))
    if (di < 0).any() or (si < 0).any():
        raise ConfigError("the earlier scores hold days off the data's calendar or symbols without bars: give the "
                          "predictions of the data's trading days")
    panel[di, si] = history["p_up"].to_numpy(dtype="float64")
    panel[-1] = today
    return panel, arr


def _pace(md: MarketData, symbols: list[str], today: np.ndarray, history: pd.DataFrame | None, book: Book,
          held: np.ndarray, cfg: TopKConfig, rules: AShareRules, decision: pd.Timestamp) -> _Pace:
    """The pace of a TopK book on the decision day (see :class:`_Pace`)."""
    cal = md.calendar
    panel, arr = _history_panel(md, symbols, today, history, rules, decision)
    if arr is None:  # the decision day alone: smoothing starts here, the slope is not fitted yet
        scores, slope = pacing.smooth_scores(panel, cfg.score_halflife)[-1], None
    else:
        paced, slopes = pacing.paced_scores(panel, arr.tradable, arr.open, arr.ex_ratio, arr.suspended,
                                            cfg.score_halflife, cfg.cost_aware, cfg.gain_horizon)
        scores, slope = paced[-1], None if slopes is None else float(slopes[-1])
    start = book.cycle_day0(cal, decision)
    if start < cal[0]:
        raise ConfigError(f"--cycle-start {start.date()} is before the data's first day {cal[0].date()}: the cycle "
                          "cannot be counted; give a later day 0")
    given = book.tranches()
    bad = given[(given < 0) | (given >= cfg.hold_days)]
    if len(bad):
        raise ConfigError(f"holdings {book.source}: {bad.index[0]} is in tranche {int(bad.iloc[0])}, but "
                          f"strategy.topk.hold_days = {cfg.hold_days} has tranches 0..{cfg.hold_days - 1}")
    first = book.first_bought()
    tranche = np.array([int(given[sym]) if sym in given.index else
                        pacing.bought_tranche(cal, start, first[sym], cfg.hold_days, cfg.rebalance_every)
                        if h else -1 for sym, h in zip(symbols, held, strict=True)], dtype=np.int64)
    return _Pace(scores=np.asarray(scores, dtype="float64"), slope=slope, start=start,
                 day=pacing.cycle_day(cal, start, decision), tranche=tranche,
                 history_days=0 if arr is None else len(arr.dates) - 1)


def plan_next_session(md: MarketData, scores: pd.Series, book: Book, strategy: TopKConfig | ThresholdConfig,
                      costs: CostModel, decision: pd.Timestamp, fill: pd.Timestamp, *,
                      history: pd.DataFrame | None = None) -> Plan:
    """Targets and orders for the open of ``fill`` from ``scores`` (``p_up`` by symbol, decided
    after the close of ``decision``) and ``book``; realised columns when ``md`` has ``fill``.

    ``history``: ``date, symbol, p_up`` of the same model on earlier days (a TopK
    ``score_halflife`` smooths over them, ``cost_aware`` fits its slope on them and their realised
    returns, as a backtest from their first day would; None: the decision day alone, so no
    smoothing history and no slope yet). ``md`` may reach past ``decision`` (a past day): nothing
    after it is read except for the realised columns, which are the next session's own facts."""
    rules = AShareRules.from_costs(costs)
    decision, fill = pd.Timestamp(decision), pd.Timestamp(fill)
    scores = scores.astype("float64")
    if history is not None:
        history = history[pd.DatetimeIndex(history["date"]) < decision]
    listed_here = sorted(set(scores.index) | set(book.symbols))
    symbols = sorted(set(listed_here) | (set(history["symbol"].astype(str)) if history is not None else set()))
    book.check(set(md.symbols), decision, fill)
    if isinstance(strategy, ThresholdConfig):
        others = sorted(set(listed_here) - {strategy.symbol})
        if others:
            raise ConfigError(f"a threshold study trades {strategy.symbol} alone, but the book holds {others}: "
                              "give the holdings of that symbol only")
        symbols = listed_here
    unknown = sorted(set(symbols) - set(md.symbols))
    if unknown:
        raise ConfigError(f"scores for {unknown[:5]}, which have no bars in the data: give scores of its symbols")
    arr = build_arrays(md, symbols, decision, decision, rules.price_limit, rules.suspension)
    n = len(symbols)
    close = arr.close[0]
    held_shares = book.shares().reindex(symbols, fill_value=0.0).to_numpy(dtype="float64")
    bought_today = book.bought_on(fill).reindex(symbols, fill_value=0.0).to_numpy(dtype="float64")
    held = held_shares > 0
    tradable, member = arr.tradable[0], arr.member[0]
    raw = scores.reindex(symbols).to_numpy(dtype="float64")
    s = np.where(tradable, raw, np.nan)
    equity = float(book.cash + np.nansum(held_shares * close))
    key = tie_keys(strategy.tie_seed, decision, symbol_codes(symbols)) if isinstance(strategy, TopKConfig) \
        else np.arange(n)
    cal = md.calendar
    locked = np.zeros(n, dtype=bool)
    pace: _Pace | None = None
    tranche_after = np.full(n, -1, dtype=np.int64)
    if isinstance(strategy, TopKConfig):
        pace = _pace(md, symbols, raw, history, book, held, strategy, rules, decision)
        s = np.where(tradable, pace.scores, np.nan)  # only tradable members are candidates, as in the backtest
        first = book.first_bought().reindex(symbols)
        since = cal.searchsorted(pd.DatetimeIndex(first))  # the first decision day it was held on
        age = np.clip(int(cal.get_loc(decision)) - since, 0, None)
        locked = held & (age < strategy.min_hold)
        day_orders = topk_orders(s, held_shares, close, held & ~member, tradable, locked, float(book.cash), equity,
                                 strategy, rules, decision, key, symbols, day=pace.day, tranche=pace.tranche,
                                 gain_slope=pace.slope, volume=arr.volume[0], volatility=arr.volatility[0],
                                 fill_date=fill)
        tranche_after = pacing.held_tranches(pace.tranche, held)
        tranche_after[day_orders.sells] = -1
        tranche_after[day_orders.buys] = day_orders.joins
    else:
        day_orders = threshold_orders(float(s[0]), bool(held[0]), bool(member[0]), float(book.cash), equity,
                                      strategy)
    listed = _listed_days(md, symbols, decision)
    ref, up, down = _limits(rules, symbols, close, fill, listed)
    member_next = md.membership.mask(pd.DatetimeIndex([fill]), symbols).to_numpy()[0]

    def planned(c: int) -> FillFacts:  # the open at the last close, inside the next session's limits
        return FillFacts(open=float(close[c]), high=float(close[c]), low=float(close[c]), upper=float(up[c]),
                         lower=float(down[c]), member=bool(member_next[c]), volume=float(arr.volume[0, c]),
                         volatility=float(arr.volatility[0, c]))

    plan = _run(day_orders, planned, rules, symbols, held_shares, bought_today, close, book.cash, fill)
    real: _Ledger | None = None
    nxt: MarketArrays | None = None
    if fill in cal and fill > decision:
        # the decision day and the next session: the fill's facts, with the decision day's volatility
        nxt = build_arrays(md, symbols, decision, fill, rules.price_limit, rules.suspension)
        real = _run(day_orders, lambda c: nxt.fill_facts(FILL_LAG, c), rules, symbols, held_shares, bought_today,
                    close, book.cash, fill)

    names = _names(md, symbols, decision)
    ranks = _ranks(s, key)
    sides = [("sell", int(c), None) for c in day_orders.sells] + \
        [("buy", int(c), float(v)) for c, v in zip(day_orders.buys, day_orders.values, strict=True)]
    target = held_shares.copy()
    rows = []
    for k, ((side, c, _), chk) in enumerate(zip(sides, plan.checks, strict=True)):
        value = chk.size * float(close[c])
        comm, duty = rules.fees(value, fill, side == "sell") if chk.filled and value > 0 else (0.0, 0.0)
        target[c] += chk.size if side == "buy" else -chk.size
        if side == "buy":
            cond = f"open >= {up[c]:.2f} (limit up)" if np.isfinite(up[c]) else "no limit"
        else:
            cond = f"open <= {down[c]:.2f} (limit down)" if np.isfinite(down[c]) else "no limit"
        why = chk.reason if chk.reason else _trims(chk)
        row = {"order": k + 1, "symbol": symbols[c], "name": names[c], "side": side, "score": s[c], "rank": ranks[c],
               "requested": chk.requested, "shares": chk.size, "price": float(close[c]), "value": value,
               "commission": comm, "stamp_duty": duty, "status": PLACE if chk.filled else NOT_PLACED,
               "reason": why, "refused_at_open_if": f"{cond}, or no trading that day"}
        if real is not None and nxt is not None:
            rc = real.checks[k]
            row.update(next_open=float(nxt.open[FILL_LAG, c]) if nxt.has_bar[FILL_LAG, c] else np.nan,
                       next_close=float(nxt.close[FILL_LAG, c]) if nxt.has_bar[FILL_LAG, c] else np.nan,
                       outcome=("filled" if not rc.trims else f"filled, trimmed: {_trims(rc)}") if rc.filled
                       else rc.reason, filled_shares=rc.size, fill_price=rc.price)
        rows.append(row)
    cols = ORDER_COLUMNS + (REALISED_ORDERS if real is not None else [])
    orders = pd.DataFrame(rows, columns=cols)

    order_side = {c: side for side, c, _ in sides}
    reviewed = day_orders.tranche
    notes = []
    for c in range(n):
        note = []
        if held[c] and not member[c]:
            note.append(f"left the CSI-300 by {decision.date()}: sold")
        if held[c] and not tradable[c] and member[c]:
            note.append(f"no trading on {decision.date()}: kept, it cannot be traded")
        if locked[c] and c not in order_side:
            note.append(f"held fewer than min_hold = {getattr(strategy, 'min_hold', 0)} days: kept")
        if pace is not None and held[c] and member[c] and c not in order_side and pace.tranche[c] != reviewed and \
                isinstance(strategy, TopKConfig) and (strategy.hold_days > 1 or strategy.rebalance_every > 1):
            today = f"tranche {reviewed} is reviewed today" if reviewed >= 0 else "no tranche is reviewed today"
            note.append(f"in tranche {pace.tranche[c]}, not reviewed today ({today}): kept")
        if bought_today[c] > 0:
            note.append(f"{bought_today[c]:g} shares bought on {fill.date()}: not sellable that day (T+1)")
        if nxt is not None and held[c] and nxt.ex_ratio[FILL_LAG, c] != 1.0:
            h = held_shares[c]
            note.append(f"ex-rights on {fill.date()}: the position becomes floor({h:g} x "
                        f"{nxt.ex_ratio[FILL_LAG, c]:.4f}) shares before the open; the realised columns keep {h:g}")
        notes.append("; ".join(note))
    action = [order_side.get(c, "keep" if held[c] else "") for c in range(n)]
    targets = pd.DataFrame({
        "symbol": symbols, "name": names, "board": [board_of(x) for x in symbols], "score": s, "rank": ranks,
        "held_shares": held_shares, "action": action, "target_shares": target,
        "target_weight": target * ref / equity if equity > 0 else np.nan, "ref_price": ref, "limit_up": up,
        "limit_down": down,
        "tranche": pd.array(np.where((target > 0) & (tranche_after >= 0), tranche_after, -1), dtype="Int64"),
        "note": notes})
    targets.loc[targets["tranche"] < 0, "tranche"] = pd.NA
    if nxt is not None:
        targets["next_open"] = np.where(nxt.has_bar[FILL_LAG], nxt.open[FILL_LAG], np.nan)
        targets["next_close"] = np.where(nxt.has_bar[FILL_LAG], nxt.close[FILL_LAG], np.nan)
    targets = targets[targets["symbol"].isin(listed_here)]  # the day's scored names and the book
    targets = targets.assign(_r=targets["rank"].fillna(np.inf)).sort_values(["_r", "symbol"]).drop(columns="_r")
    facts: dict[str, Any] = {
        "cash": float(book.cash), "equity": equity, "held_value": equity - float(book.cash),
        "budget": float(day_orders.budget), "sell_proceeds": float(day_orders.proceeds),
        "one_name_value": float(day_orders.target), "scored": int(np.isfinite(s).sum()),
        "orders": len(orders), "placed": int((orders["status"] == PLACE).sum()),
        "not_placed": int((orders["status"] == NOT_PLACED).sum()), "cash_after": plan.cash,
        "names_after": int((target > 0).sum())}
    if pace is not None:
        facts.update(cycle_start=str(pace.start.date()), cycle_day=pace.day, tranche_reviewed=int(reviewed),
                     history_days=pace.history_days,
                     gain_slope=None if pace.slope is None or not np.isfinite(pace.slope) else pace.slope)
    if real is not None:
        facts["realised_cash_after"] = real.cash
    return Plan(targets=targets.reset_index(drop=True), orders=orders, facts=facts)

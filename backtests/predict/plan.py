"""The next session's target portfolio and orders, from the day's scores and a book.

Everything that decides or refuses is the strategies' own code, the code a backtest runs: the
strategy's orders of the day (:func:`strategies.targets.topk_orders` or
:func:`~strategies.targets.threshold_orders`: selection, rank buffer, minimum holding period, ties,
budget and its spread), the decision day's facts (:func:`strategies.arrays.build_arrays`: the
close a position is marked at, membership, suspension), and every order check at the fill
(:func:`strategies.rules.check_fill`: lots by board, T+1, price limits, suspension, cash), taken in
the broker's order (the sells, then the buys best first) with the cash each fill leaves. This
module only lays the book out as the backtest's arrays and tabulates the answers.

An order is checked twice. *Planned*: at an open equal to the last close, inside the next
session's limits computed from it (:class:`strategies.rules.PriceLimit`), with the membership the
data give for that session: what is refused here (T+1, a lot, the cash, a name leaving the index)
is an order the strategy would not place. *Realised* (a past decision day, ``--as-of``): at the
next session's real open, limits and volume, as the backtest's broker would have met them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError
from data_store import MarketData, board_of
from strategies.arrays import MarketArrays, build_arrays
from strategies.rules import AShareRules, BuyValue, CostModel, FillCheck, FillFacts, check_fill
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
                  "target_weight", "ref_price", "limit_up", "limit_down", "note"]
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
    commission and stamp duty) are cash for the buys after it."""
    led = _Ledger(cash=float(cash))
    position = shares.astype("float64").copy()
    for c in orders.sells:
        chk = check_fill(rules, False, float(position[c]), facts(c), symbol=symbols[c], cash=led.cash,
                         position=float(position[c]), bought_today=float(bought_today[c]))
        if chk.filled:
            value = chk.size * chk.price
            led.cash += value - sum(rules.fees(value, fill, True))
            position[c] -= chk.size
        led.checks.append(chk)
    for c, value in zip(orders.buys, orders.values, strict=True):
        wish = BuyValue(value=float(value), target=float(orders.target), price=float(close[c]))
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


def plan_next_session(md: MarketData, scores: pd.Series, book: Book, strategy: TopKConfig | ThresholdConfig,
                      costs: CostModel, decision: pd.Timestamp, fill: pd.Timestamp) -> Plan:
    """Targets and orders for the open of ``fill`` from ``scores`` (``p_up`` by symbol, decided
    after the close of ``decision``) and ``book``; realised columns when ``md`` has ``fill``.

    ``md`` may reach past ``decision`` (a past day): nothing after it is read except for the
    realised columns, which are the next session's own facts."""
    rules = AShareRules.from_costs(costs)
    decision, fill = pd.Timestamp(decision), pd.Timestamp(fill)
    scores = scores.astype("float64")
    symbols = sorted(set(scores.index) | set(book.symbols))
    book.check(set(md.symbols), decision, fill)
    if isinstance(strategy, ThresholdConfig):
        others = sorted(set(symbols) - {strategy.symbol})
        if others:
            raise ConfigError(f"a threshold study trades {strategy.symbol} alone, but the book holds {others}: "
                              "give the holdings of that symbol only")
    arr = build_arrays(md, symbols, decision, decision, rules.price_limit, rules.suspension)
    n = len(symbols)
    close = arr.close[0]
    held_shares = book.shares().reindex(symbols, fill_value=0.0).to_numpy(dtype="float64")
    bought_today = book.bought_on(fill).reindex(symbols, fill_value=0.0).to_numpy(dtype="float64")
    held = held_shares > 0
    tradable, member = arr.tradable[0], arr.member[0]
    s = np.where(tradable, scores.reindex(symbols).to_numpy(dtype="float64"), np.nan)
    equity = float(book.cash + np.nansum(held_shares * close))
    key = tie_keys(strategy.tie_seed, decision, symbol_codes(symbols)) if isinstance(strategy, TopKConfig) \
        else np.arange(n)
    cal = md.calendar
    locked = np.zeros(n, dtype=bool)
    if isinstance(strategy, TopKConfig):
        first = book.first_bought().reindex(symbols)
        since = cal.searchsorted(pd.DatetimeIndex(first))  # the first decision day it was held on
        age = np.clip(int(cal.get_loc(decision)) - since, 0, None)
        locked = held & (age < strategy.min_hold)
        day_orders = topk_orders(s, held_shares, close, held & ~member, tradable, locked, float(book.cash), equity,
                                 strategy, rules, decision, key, symbols)
    else:
        day_orders = threshold_orders(float(s[0]), bool(held[0]), bool(member[0]), float(book.cash), equity,
                                      strategy)
    listed = _listed_days(md, symbols, decision)
    ref, up, down = _limits(rules, symbols, close, fill, listed)
    member_next = md.membership.mask(pd.DatetimeIndex([fill]), symbols).to_numpy()[0]

    def planned(c: int) -> FillFacts:  # the open at the last close, inside the next session's limits
        return FillFacts(open=float(close[c]), high=float(close[c]), low=float(close[c]), upper=float(up[c]),
                         lower=float(down[c]), member=bool(member_next[c]))

    plan = _run(day_orders, planned, rules, symbols, held_shares, bought_today, close, book.cash, fill)
    real: _Ledger | None = None
    nxt: MarketArrays | None = None
    if fill in cal and fill > decision:
        nxt = build_arrays(md, symbols, fill, fill, rules.price_limit, rules.suspension)
        real = _run(day_orders, lambda c: nxt.fill_facts(0, c), rules, symbols, held_shares, bought_today, close,
                    book.cash, fill)

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
            row.update(next_open=float(nxt.open[0, c]) if nxt.has_bar[0, c] else np.nan,
                       next_close=float(nxt.close[0, c]) if nxt.has_bar[0, c] else np.nan,
                       outcome=("filled" if not rc.trims else f"filled, trimmed: {_trims(rc)}") if rc.filled
                       else rc.reason, filled_shares=rc.size, fill_price=rc.price)
        rows.append(row)
    cols = ORDER_COLUMNS + (REALISED_ORDERS if real is not None else [])
    orders = pd.DataFrame(rows, columns=cols)

    order_side = {c: side for side, c, _ in sides}
    notes = []
    for c in range(n):
        note = []
        if held[c] and not member[c]:
            note.append(f"left the CSI-300 by {decision.date()}: sold")
        if held[c] and not tradable[c] and member[c]:
            note.append(f"no trading on {decision.date()}: kept, it cannot be traded")
        if locked[c] and c not in order_side:
            note.append(f"held fewer than min_hold = {getattr(strategy, 'min_hold', 0)} days: kept")
        if bought_today[c] > 0:
            note.append(f"{bought_today[c]:g} shares bought on {fill.date()}: not sellable that day (T+1)")
        if nxt is not None and held[c] and nxt.ex_ratio[0, c] != 1.0:
            h = held_shares[c]
            note.append(f"ex-rights on {fill.date()}: the position becomes floor({h:g} x {nxt.ex_ratio[0, c]:.4f}) "
                        f"shares before the open; the realised columns keep {h:g}")
        notes.append("; ".join(note))
    action = [order_side.get(c, "keep" if held[c] else "") for c in range(n)]
    targets = pd.DataFrame({
        "symbol": symbols, "name": names, "board": [board_of(x) for x in symbols], "score": s, "rank": ranks,
        "held_shares": held_shares, "action": action, "target_shares": target,
        "target_weight": target * ref / equity if equity > 0 else np.nan, "ref_price": ref, "limit_up": up,
        "limit_down": down, "note": notes})
    if nxt is not None:
        targets["next_open"] = np.where(nxt.has_bar[0], nxt.open[0], np.nan)
        targets["next_close"] = np.where(nxt.has_bar[0], nxt.close[0], np.nan)
    targets = targets.assign(_r=targets["rank"].fillna(np.inf)).sort_values(["_r", "symbol"]).drop(columns="_r")
    facts = {"cash": float(book.cash), "equity": equity, "held_value": equity - float(book.cash),
             "budget": float(day_orders.budget), "sell_proceeds": float(day_orders.proceeds),
             "one_name_value": float(day_orders.target), "scored": int(np.isfinite(s).sum()),
             "orders": len(orders), "placed": int((orders["status"] == PLACE).sum()),
             "not_placed": int((orders["status"] == NOT_PLACED).sum()), "cash_after": plan.cash,
             "names_after": int((target > 0).sum())}
    if real is not None:
        facts["realised_cash_after"] = real.cash
    return Plan(targets=targets.reset_index(drop=True), orders=orders, facts=facts)

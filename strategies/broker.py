"""The thin adapter that makes Backtrader's broker follow the A-share rules.

* :class:`AShareCommInfo` (a ``CommInfoBase``) charges commission with its minimum on both sides
  and the dated stamp duty on sells.
* :class:`AShareBroker` (a ``BackBroker``) is the only place that refuses orders: it takes each
  pending market order at the open it fills at (``FILL_LAG`` trading days after the decision),
  sizes a buy submitted by value (:class:`BuyValue`) to whole lots, after taking out of the day's
  budget (:class:`DayPlan`) the proceeds of the sells it refused or trimmed; checks suspension,
  membership, price limits, T+1, lots, the participation cap and cash, refuses or trims it,
  records why, applies ex-rights share adjustments, and fills the rest at the open (plus
  slippage and the square-root impact of the filled size).

Nothing in this module decides what to trade; the rules themselves live in
:mod:`strategies.rules` (the per-day facts precomputed in :mod:`strategies.arrays`).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import backtrader as bt
import numpy as np

from core.timing import FILL_LAG

from . import rules as R
from .arrays import MarketArrays
from .errors import StrategyConfigError
from .feeds import date_numbers

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Journal:
    """Everything a run records, by day position ``i`` and symbol column ``c``.

    Only the broker appends to ``trades``, ``rejected`` and ``actions``, in the order it meets
    them: by fill day, then the day's orders in submission order. The strategy writes the books
    (``equity``, ``cash``, ``positions``) and its decision facts (``unscored``, ``tied``).

    A refusal is one row per episode: a whole order refused for the same reason on consecutive
    fill days (a suspended stock that left the index is offered every day until it trades) is
    one row, dated by its first day, whose ``days`` counts the days. Trims are one row each."""

    n_days: int
    n_symbols: int
    trades: list[tuple] = field(default_factory=list)  # i, c, side, shares, price, value, comm, duty, impact
    rejected: list[tuple] = field(default_factory=list)  # i, c, side, shares, reason, requested, days
    actions: list[tuple] = field(default_factory=list)  # i, c, shares_before, shares_after, cash
    positions: list[tuple] = field(default_factory=list)  # i, cols, shares
    equity: np.ndarray = field(init=False)
    cash: np.ndarray = field(init=False)
    shares: np.ndarray = field(init=False)  # current shares per column (the book)
    unscored: np.ndarray = field(init=False)  # per decision day: held tradable members without a score
    tied: np.ndarray = field(init=False)  # per decision day: the k-th and (k+1)-th scores are equal
    _open: dict[tuple[int, str, str], int] = field(init=False, default_factory=dict)  # episode -> row

    def __post_init__(self) -> None:
        self.equity = np.full(self.n_days, np.nan)
        self.cash = np.full(self.n_days, np.nan)
        self.shares = np.zeros(self.n_symbols)
        self.unscored = np.zeros(self.n_days, dtype=np.int64)
        self.tied = np.zeros(self.n_days, dtype=bool)

    def refuse(self, i: int, c: int, side: str, shares: float, reason: str, requested: float) -> None:
        """Record the part ``shares`` of an order of ``requested`` refused on fill day ``i`` (a
        trim: a row of its own)."""
        self.rejected.append((i, c, side, float(shares), reason, float(requested), 1))

    def refuse_order(self, i: int, c: int, side: str, requested: float, reason: str) -> None:
        """Record a whole order refused on fill day ``i``: it extends the episode of the same
        column, side and reason refused on day ``i - 1``, else starts one."""
        key = (c, side, reason)
        row = self._open.get(key)
        if row is not None:
            first, *rest, days = self.rejected[row]
            if first + days == i:
                self.rejected[row] = (first, *rest, days + 1)
                return
        self._open[key] = len(self.rejected)
        self.rejected.append((i, c, side, float(requested), reason, float(requested), 1))


@dataclass(eq=False)
class DayPlan:
    """One decision day's buy budget, shared by its orders (made by
    :class:`strategies.engine.TopKStrategy`).

    The budget counts the expected proceeds of the day's sells (at the decision close, after
    fees). When the broker refuses a sell, or fills only part of it, it adds the proceeds it will
    not get to ``missing`` before the day's buys are sized (sells are submitted, and filled,
    first), so the buys are spread over what the day really has, as if those proceeds had never
    been budgeted: :meth:`values` re-spreads ``budget - missing`` with the same rule.

    Attributes:
        spread: budget (CNY) -> each buy's value, best first
            (:func:`strategies.targets.spread_budget` with the day's prices and cap).
        budget: CNY the decision budgeted for the buys.
        missing: CNY of budgeted sell proceeds the broker did not deliver.
    """

    spread: Callable[[float], np.ndarray]
    budget: float = 0.0
    missing: float = 0.0
    _values: np.ndarray | None = field(default=None, repr=False)
    _for: float = field(default=float("nan"), repr=False)

    def values(self) -> np.ndarray:
        """Each buy's value (CNY), best first, for the budget less what is missing."""
        if self._values is None or self._for != self.missing:
            self._values = np.asarray(self.spread(self.budget - self.missing), dtype="float64")
            self._for = self.missing
        return self._values


@dataclass(frozen=True)
class BuyValue:
    """A buy submitted by value: what the strategy wants, for the broker to size at the fill.

    A strategy passes it in the order's info (``strategy.buy(data, size=bv.wanted,
    buy_value=bv)``, see :meth:`strategies.engine.AShareStrategy.buy_value`); the broker turns it
    into whole lots at ``price`` before any other check, and refuses the order (``cash`` or
    ``lot``) when that is no lot at all.

    Attributes:
        value: CNY that may be spent on this name, commission included (what the day's budget
            leaves for it; 0 or less: no cash).
        target: CNY of the name's full weight; when ``value`` buys no lot it tells a cash
            shortage (the full weight would buy a lot) from a lot problem (it would not).
        price: CNY per share the lots are sized at: the decision day's close (the next open is
            not known when the order goes in).
        plan: the day's budget this buy belongs to (None: ``value`` as given); at the fill its
            value is ``plan.values()[slot]``, less when a sale the budget counted on was refused.
        slot: the buy's place in the plan (best first).
    """

    value: float
    target: float
    price: float
    plan: DayPlan | None = None
    slot: int = -1

    def value_at_fill(self) -> float:
        """CNY this buy may spend at its fill (the plan's share when it has one)."""
        return self.value if self.plan is None else float(self.plan.values()[self.slot])

    @property
    def wanted(self) -> float:
        """Shares of the full weight at ``price`` (not rounded): the size the order is submitted
        with, and the ``requested`` size of a refusal before sizing."""
        return self.target / self.price


class AShareCommInfo(bt.CommInfoBase):
    """Stock-like commission scheme: ``max(rate x value, minimum)`` per order on both sides plus
    the stamp duty of the fill date on sells. The fill date comes from the broker."""

    params = (
        ("stocklike", True),
        ("commtype", bt.CommInfoBase.COMM_PERC),
        ("percabs", True),
        ("commission", 0.0),
    )

    rules: R.AShareRules
    broker: AShareBroker

    def _getcommission(self, size, price, pseudoexec):
        value = abs(size) * price
        if value <= 0.0:
            return 0.0
        fee = self.rules.commission.fee(value)
        if size < 0:
            fee += self.rules.stamp_duty.fee(value, self.broker.today, is_sell=True)
        return fee


class AShareBroker(bt.brokers.BackBroker):
    """Backtrader broker with A-share order checks. Call :meth:`setup` before ``cerebro.run``."""

    arrays: MarketArrays
    rules: R.AShareRules
    journal: Journal
    feeds: list

    def setup(self, arrays: MarketArrays, rules: R.AShareRules, journal: Journal, feeds: list) -> None:
        self.arrays, self.rules, self.journal, self.feeds = arrays, rules, journal, feeds
        self.set_checksubmit(False)  # cash is checked at the fill, after the day's sells
        self.set_coc(False)
        self.set_coo(False)
        comminfo = AShareCommInfo()
        comminfo.rules = rules
        comminfo.broker = self
        self.addcommissioninfo(comminfo)
        self.day = -1
        self.today = arrays.dates[0]
        self._bought: dict[int, float] = {}
        self._dates = list(arrays.dates)
        self._dtnum = date_numbers(arrays.dates)

    # ------------------------------------------------------------------ the bar
    def next(self):
        clock = self.feeds[0]
        self.day = i = len(clock) - 1
        self.today = self._dates[i]
        self._bought = {}
        if i > 0:
            self._corporate_actions(i)
        super().next()

    def _corporate_actions(self, i: int) -> None:
        """Ex-rights day: h shares become floor(h x ratio); the fraction is paid in cash at the
        ex-reference price, so the holding's value at the previous close is unchanged."""
        A = self.arrays
        cols = np.flatnonzero(A.ex_ratio[i] != 1.0)
        book = self.journal.shares
        for c in cols:
            if book[c] == 0:
                continue
            data = self.feeds[c]
            pos = self.positions[data]
            h = pos.size
            if not h:
                continue
            ratio = float(A.ex_ratio[i, c])
            new = math.floor(h * ratio + 1e-6)
            ref = A.close[i - 1, c] / ratio
            cash = (h * ratio - new) * ref
            pos.size = new
            pos.price = pos.price * h / new if new else 0.0
            self.cash += cash
            book[c] = new
            self.journal.actions.append((i, int(c), float(h), float(new), float(cash)))
            for order in self.pending:  # a pending sell of the whole position follows it
                if order.data is data and not order.isbuy() and -order.executed.remsize == h:
                    _resize(order, -new)

    # ------------------------------------------------------------------ order checks
    def _try_exec(self, order):
        if order.exectype != bt.Order.Market:
            # Backtrader would fill it by its own logic, past every rule below and the journal
            raise StrategyConfigError(
                f"{bt.Order.ExecTypes[order.exectype]} orders are not modelled: the A-share broker fills market orders "
                f"at the open {FILL_LAG} day(s) after the decision, under lots, T+1, price limits and suspension; "
                "place market orders (self.buy / self.sell without exectype)")
        data = order.data
        i, c = self.day, data.col
        decided = int(np.searchsorted(self._dtnum, order.created.dt, side="right")) - 1
        if i < decided + FILL_LAG:
            return  # fills FILL_LAG opens after the decision, never on the bar it was made on
        A, rules, journal = self.arrays, self.rules, self.journal
        is_buy = order.isbuy()
        side = "buy" if is_buy else "sell"
        requested = abs(order.executed.remsize)
        size: float
        price: float
        capped: float

        plan: DayPlan | None = order.info.get("plan")
        proceeds = float(order.info.get("proceeds") or 0.0)

        def refuse(reason: str) -> None:
            journal.refuse_order(i, c, side, requested, reason)
            if plan is not None and not is_buy:  # budgeted proceeds that will not come
                plan.missing += proceeds
            order.reject(self)
            self.notify(order)

        wish: BuyValue | None = order.info.get("buy_value") if is_buy else None
        if wish is not None:  # sized first: the shares the decision asked for, at its close
            value = wish.value_at_fill()
            if not value > 0:
                return refuse(R.CASH)
            lots = rules.lot.lots_for_value(value, wish.price, rules.commission)
            if lots == 0:
                full = rules.lot.lots_for_value(wish.target, wish.price, rules.commission)
                return refuse(R.CASH if full else R.LOT)
            _resize(order, lots)
            requested = lots
        if A.suspended[i, c]:
            return refuse(R.SUSPENDED)
        price_args = (float(A.open[i, c]), float(A.high[i, c]), float(A.low[i, c]))
        cap = rules.volume_cap.max_shares(float(A.volume[i, c]))
        if is_buy:
            if not A.member[i, c]:
                return refuse(R.NOT_MEMBER)
            if A.buy_blocked[i, c]:
                return refuse(R.LIMIT_UP)
            size = rules.lot.buy_shares(requested)
            if size == 0:
                return refuse(R.LOT)
            if size < requested:
                journal.refuse(i, c, side, requested - size, R.LOT, requested)
            if size > cap:
                capped = rules.lot.buy_shares(cap)
                if capped == 0:
                    return refuse(R.VOLUME)
                journal.refuse(i, c, side, size - capped, R.VOLUME, requested)
                size = capped
            base = rules.slippage.fill_price(True, *price_args)
            if np.isfinite(A.upper[i, c]):
                base = min(base, float(A.upper[i, c]))  # slippage never crosses the limit
            price = self._impacted(base, True, size, i, c)
            affordable = rules.lot.lots_for_value(self.cash, price, rules.commission)
            if affordable == 0:
                return refuse(R.CASH)
            if affordable < size:
                journal.refuse(i, c, side, size - affordable, R.CASH, requested)
                size = affordable
                price = self._impacted(base, True, size, i, c)  # a smaller fill moves the price less
        else:
            if A.sell_blocked[i, c]:
                return refuse(R.LIMIT_DOWN)
            position = self.positions[data].size
            sellable = rules.t_plus_1.sellable(position, self._bought.get(c, 0.0))
            if sellable <= 0:
                return refuse(R.T_PLUS_1 if position > 0 else R.LOT)
            size = min(requested, sellable)
            if size < requested and requested <= position:
                journal.refuse(i, c, side, requested - size, R.T_PLUS_1, requested)
            if size > cap:
                capped = rules.lot.sell_shares(cap, position)
                if capped == 0:
                    return refuse(R.VOLUME)
                journal.refuse(i, c, side, size - capped, R.VOLUME, requested)
                size = capped
            lotted = rules.lot.sell_shares(size, position)
            if lotted == 0:
                return refuse(R.LOT)
            if lotted < size:
                journal.refuse(i, c, side, size - lotted, R.LOT, requested)
            size = lotted
            if plan is not None and size < requested:
                plan.missing += proceeds * (requested - size) / requested
            base = rules.slippage.fill_price(False, *price_args)
            if np.isfinite(A.lower[i, c]):
                base = max(base, float(A.lower[i, c]))
            price = self._impacted(base, False, size, i, c)

        _resize(order, size if is_buy else -size)
        self._execute(order, ago=0, price=price)
        if order.status == bt.Order.Completed:
            value = size * price
            comm, duty = rules.fees(value, self.today, not is_buy)
            journal.trades.append((i, c, side, float(size), price, value, comm, duty, abs(price - base) * size))
            journal.shares[c] += size if is_buy else -size
            if is_buy:
                self._bought[c] = self._bought.get(c, 0.0) + size
            elif not self.positions[data].size:
                # an emptied position would be revalued every bar by BackBroker: drop it
                del self.positions[data]
        else:  # pragma: no cover - the checks above make this unreachable
            log.warning("order %s on %s not filled (status %s)", order.ref, data._name, order.getstatusname())


    def _impacted(self, base: float, is_buy: bool, size: float, i: int, c: int) -> float:
        """``base`` moved against the trader by the square-root impact of ``size`` shares
        (:class:`strategies.rules.Impact`, the decision day's volatility)."""
        move = self.rules.impact.fraction(size, float(self.arrays.volume[i, c]),
                                          float(self.arrays.volatility[max(i - FILL_LAG, 0), c]))
        return base * (1.0 + move) if is_buy else base * (1.0 - move)


def _resize(order: bt.Order, size: float) -> None:
    """Change the size of a not-yet-executed order (signed: negative for sells)."""
    order.size = size
    order.created.size = size
    order.executed.remsize = size


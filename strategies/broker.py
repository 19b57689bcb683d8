"""The thin adapter that makes Backtrader's broker follow the A-share rules.

* :class:`AShareCommInfo` (a ``CommInfoBase``) charges commission with its minimum on both sides
  and the dated stamp duty on sells.
* :class:`AShareBroker` (a ``BackBroker``) is the only place of a backtest that refuses orders: it
  takes each pending market order at the open it fills at (``FILL_LAG`` trading days after the
  decision), has :func:`strategies.rules.check_fill` size a buy submitted by value
  (:class:`~strategies.rules.BuyValue`, with what its :class:`~strategies.rules.DayPlan` still has
  after the day's refused or trimmed sells) to the board's lots and check suspension, membership,
  price limits, T+1, lots, the participation cap and cash at the impacted price, records every
  refusal and trim with its reason, takes a sell's undelivered proceeds out of its day plan,
  applies ex-rights share adjustments, and fills the rest at the open (plus slippage and the
  square-root impact of the filled size).

Nothing in this module decides what to trade; the rules themselves live in
:mod:`strategies.rules` (the per-day facts precomputed in :mod:`strategies.arrays`).
"""

from __future__ import annotations

import logging
import math
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
        # the checks are the pure rule function's (strategies.rules.check_fill); this adapter
        # records what it says, takes a sell's undelivered proceeds out of its day plan, and fills
        plan: R.DayPlan | None = order.info.get("plan")
        check = R.check_fill(rules, is_buy, abs(order.executed.remsize), A.fill_facts(i, c), symbol=A.symbols[c],
                             cash=self.cash, position=0.0 if is_buy else self.positions[data].size,
                             bought_today=self._bought.get(c, 0.0),
                             wish=order.info.get("buy_value") if is_buy else None,
                             proceeds=float(order.info.get("proceeds") or 0.0))
        if plan is not None:
            plan.missing += check.undelivered
        for shares, reason in check.trims:
            journal.refuse(i, c, side, shares, reason, check.requested)
        if check.reason is not None:
            journal.refuse_order(i, c, side, check.requested, check.reason)
            order.reject(self)
            self.notify(order)
            return
        size, price = check.size, check.price
        _resize(order, size if is_buy else -size)
        self._execute(order, ago=0, price=price)
        if order.status == bt.Order.Completed:
            value = size * price
            comm, duty = rules.fees(value, self.today, not is_buy)
            journal.trades.append((i, c, side, float(size), price, value, comm, duty, check.impact))
            journal.shares[c] += size if is_buy else -size
            if is_buy:
                self._bought[c] = self._bought.get(c, 0.0) + size
            elif not self.positions[data].size:
                # an emptied position would be revalued every bar by BackBroker: drop it
                del self.positions[data]
        else:  # pragma: no cover - the checks above make this unreachable
            log.warning("order %s on %s not filled (status %s)", order.ref, data._name, order.getstatusname())



def _resize(order: bt.Order, size: float) -> None:
    """Change the size of a not-yet-executed order (signed: negative for sells)."""
    order.size = size
    order.created.size = size
    order.executed.remsize = size


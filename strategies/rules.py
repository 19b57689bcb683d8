"""China A-share trading rules, one small class per rule, with named constants and units.

Units: prices and money in CNY, sizes in shares, rates as fractions (0.00025 = 0.025%), dates
as ``pandas.Timestamp`` trading days. Board membership and limit percentages come from
:mod:`data_store.boards` (the one table of those market facts); this module only applies them.

Nothing here knows about Backtrader. Each rule has one implementation, and it is the one the
backtest runs: the per-day facts (suspension, limit prices, limit-up and limit-down opens) are
computed by :func:`strategies.arrays.build_arrays` calling :class:`Suspension` and
:class:`PriceLimit` on whole NumPy panels; the order-time rules (lots, T+1, fees, slippage) are
applied to one order by :func:`check_fill` (with the participation cap, :class:`VolumeCap`, and
the square-root impact, :class:`Impact`, on the trailing volatility of
:attr:`strategies.arrays.MarketArrays.volatility`), which :class:`strategies.broker.AShareBroker`
calls at each fill and the next session's order list calls too. The tests check the same classes
with hand-computed numbers.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from core.settings import check_settings, setting
from data_store import boards

# ----------------------------------------------------------------------------- refusal reasons
LIMIT_UP = "limit_up"  #: buy refused: the open is at the upper price limit
LIMIT_DOWN = "limit_down"  #: sell refused: the open is at the lower price limit
SUSPENDED = "suspended"  #: no trade: no bar, volume 0 or volume missing on the fill day
LOT = "lot"  #: buy whose full weight is below one lot, a size trimmed to whole lots, a sell of nothing
CASH = "cash"  #: buy refused or trimmed: the day's budget leaves no lot, or cash is short at the fill
T_PLUS_1 = "t_plus_1"  #: sell refused or trimmed: shares bought the same day
NOT_MEMBER = "not_member"  #: buy refused: not a point-in-time CSI-300 member on the fill day
VOLUME = "volume"  #: order trimmed or refused: it would fill more than the allowed share of the day's volume
REASONS: tuple[str, ...] = (LIMIT_UP, LIMIT_DOWN, SUSPENDED, LOT, CASH, T_PLUS_1, NOT_MEMBER, VOLUME)

#: Tolerance (CNY) when comparing a price with a limit price quoted to the fen.
PRICE_EPS = 1e-6


def round_fen(price: Any) -> Any:
    """Round a CNY price half-up to the fen (0.01 CNY), as exchanges quote limit prices.

    A tiny epsilon absorbs binary representation error (10.005 is stored as 10.00499...)."""
    return np.floor(np.asarray(price, dtype="float64") * 100.0 + 0.5 + 1e-7) / 100.0


# ----------------------------------------------------------------------------- fees
@dataclass(frozen=True)
class Commission:
    """Broker commission, charged on each side.

    Attributes:
        rate: fraction of the traded value (default 0.00025 = 0.025%).
        minimum: CNY per order (default 5.0); an order of any size pays at least this.
    """

    rate: float = 0.00025
    minimum: float = 5.0

    def fee(self, value: float) -> float:
        """Commission in CNY for one order of ``value`` CNY (0 for an empty order)."""
        value = abs(value)
        if value <= 0.0:
            return 0.0
        return max(self.rate * value, self.minimum)


@dataclass(frozen=True)
class StampDuty:
    """Stamp duty on sells only: 0.1% before 2023-08-28 and 0.05% from that day (MoF
    announcement of 2023-08-27). Buys pay none. ``charged=False`` charges none at all (a gross,
    zero-cost backtest; :attr:`CostModel.stamp_duty`)."""

    charged: bool = True
    RATE_BEFORE_CUT = 0.001  #: fraction of the sold value, trades before CUT_DATE
    RATE_FROM_CUT = 0.0005  #: fraction of the sold value, trades on or after CUT_DATE
    CUT_DATE = pd.Timestamp("2023-08-28")  #: first trading day of the halved duty

    def rate(self, date: pd.Timestamp | str) -> float:
        """Duty rate on a sell filled on ``date`` (0 when not ``charged``)."""
        if not self.charged:
            return 0.0
        return self.RATE_FROM_CUT if pd.Timestamp(date) >= self.CUT_DATE else self.RATE_BEFORE_CUT

    def fee(self, value: float, date: pd.Timestamp | str, is_sell: bool) -> float:
        """Duty in CNY on an order of ``value`` CNY filled on ``date`` (0 for buys)."""
        return self.rate(date) * abs(value) if is_sell else 0.0


# ----------------------------------------------------------------------------- sizes
@dataclass(frozen=True)
class LotRule:
    """Order sizes by board (:func:`data_store.boards.order_sizes`): a buy on the main board or
    ChiNext is whole lots of 100 shares; a buy on the STAR Market is at least 200 shares, then
    any whole number of shares. A sell may be any size that empties the position (odd lots left
    by bonus shares can be sold); a partial sell follows the board's buy sizes.

    ``symbol`` None (or omitted) applies the main-board rule."""

    LOT = boards.LOT  #: shares per lot of the main board and ChiNext

    @staticmethod
    def sizes(symbol: str | None = None) -> tuple[int, int]:
        """(smallest order, step) in shares for ``symbol``."""
        return boards.order_sizes(symbol) if symbol else (boards.LOT, boards.LOT)

    def buy_shares(self, shares: float, symbol: str | None = None) -> int:
        """Largest buy of ``symbol`` not above ``shares`` that its board allows (0: none)."""
        if not shares > 0:
            return 0
        minimum, step = self.sizes(symbol)
        n = int(math.floor(shares / step + 1e-9)) * step
        return n if n >= minimum else 0

    def sell_shares(self, shares: float, position: float, symbol: str | None = None) -> float:
        """Sellable size of a request to sell ``shares`` out of ``position``: the whole
        position when the request reaches it, else the board's sizes (never more than held)."""
        if shares <= 0 or position <= 0:
            return 0
        if shares >= position:
            return position
        return self.buy_shares(shares, symbol)

    def lots_for_value(self, value: float, price: float, commission: Commission, symbol: str | None = None) -> int:
        """Most shares of ``symbol`` its board allows whose cost (value plus commission) fits in
        ``value`` CNY."""
        if value <= 0 or not price > 0:
            return 0
        minimum, step = self.sizes(symbol)
        shares = self.buy_shares(value / (price * (1.0 + commission.rate)), symbol)
        while shares > 0 and shares * price + commission.fee(shares * price) > value + 1e-9:
            shares -= step
            if shares < minimum:
                shares = 0
        return shares


@dataclass(frozen=True)
class TPlusOne:
    """Settlement T+1: shares bought on a day cannot be sold that day."""

    def sellable(self, position: float, bought_today: float) -> float:
        """Shares that may be sold today out of ``position`` (shares held now)."""
        return max(position - bought_today, 0)


# ----------------------------------------------------------------------------- price limits
def _out(x: np.ndarray) -> Any:
    """A 0-d result as a Python scalar (float or bool), anything else as the array."""
    return x.item() if np.ndim(x) == 0 else x


def _datetimes(date: Any) -> np.ndarray:
    """Dates (a scalar, a sequence or an array of any shape) as ``datetime64[ns]``, same shape."""
    if np.ndim(date) == 0:
        return np.asarray(pd.Timestamp(date).to_datetime64(), dtype="datetime64[ns]")
    shape = np.shape(date)
    return pd.DatetimeIndex(np.ravel(np.asarray(date))).to_numpy().reshape(shape)


@dataclass(frozen=True)
class PriceLimit:
    """Daily price limits by board and date (:mod:`data_store.boards`), none in the first
    ``NO_LIMIT_LISTING_DAYS`` listed days.

    The reference price is the previous close adjusted for ex-rights:
    ``prev raw close x prev factor / today's factor`` (an ex-dividend day lowers it), rounded to
    the fen; the limit prices ``ref x (1 +/- pct)`` are rounded to the fen as well. A buy is
    refused when the open is at (or above) the upper limit, a sell when it is at (or below) the
    lower limit.

    Every method takes scalars (and returns Python floats and bools) or NumPy arrays that
    broadcast against each other (and returns arrays): :func:`strategies.arrays.build_arrays`
    calls these very methods on whole (days x symbols) panels.
    """

    NO_LIMIT_LISTING_DAYS = boards.NO_LIMIT_LISTING_DAYS  #: trading days from the first bar

    def pct(self, symbol: Any, date: Any, listed_days: Any = None) -> Any:
        """Limit as a fraction (0.10, 0.20), or ``nan`` when no limit applies: within the first
        ``NO_LIMIT_LISTING_DAYS`` trading days of listing (``listed_days`` counts the listing
        day as 1; ``None``, or ``nan`` in an array = listed long ago)."""
        sym = np.asarray(symbol, dtype=object)
        sym, day = np.broadcast_arrays(sym, _datetimes(date))
        pct = boards.limit_pct_array(sym.ravel(), day.ravel()).reshape(sym.shape)
        if listed_days is not None:
            with np.errstate(invalid="ignore"):
                young = np.asarray(listed_days, dtype="float64") <= self.NO_LIMIT_LISTING_DAYS
            pct = np.where(young, np.nan, pct)
        return _out(np.asarray(pct, dtype="float64"))

    @staticmethod
    def reference_price(prev_close: Any, prev_factor: Any = 1.0, factor: Any = 1.0) -> Any:
        """Previous raw close adjusted for an ex-rights/ex-dividend day, rounded to the fen
        (``nan`` without a previous close)."""
        prev_close = np.asarray(prev_close, dtype="float64")
        return _out(np.asarray(round_fen(prev_close * prev_factor / factor)))

    @staticmethod
    def limit_prices(reference: Any, pct: Any) -> tuple[Any, Any]:
        """(upper, lower) limit prices in CNY, rounded to the fen; ``nan`` where no limit applies
        (no limit fraction, or no reference price: the first day of the data)."""
        reference = np.asarray(reference, dtype="float64")
        pct = np.asarray(pct, dtype="float64")
        ok = np.isfinite(pct) & np.isfinite(reference)
        upper = np.where(ok, round_fen(reference * (1.0 + pct)), np.nan)
        lower = np.where(ok, round_fen(reference * (1.0 - pct)), np.nan)
        return _out(upper), _out(lower)

    @staticmethod
    def blocks_buy(open_price: Any, upper: Any) -> Any:
        """True when an open at ``open_price`` is at the upper limit (no seller); False without
        a limit or without an open."""
        upper = np.asarray(upper, dtype="float64")
        with np.errstate(invalid="ignore"):
            return _out(np.isfinite(upper) & (np.asarray(open_price, dtype="float64") >= upper - PRICE_EPS))

    @staticmethod
    def blocks_sell(open_price: Any, lower: Any) -> Any:
        """True when an open at ``open_price`` is at the lower limit (no buyer); False without
        a limit or without an open."""
        lower = np.asarray(lower, dtype="float64")
        with np.errstate(invalid="ignore"):
            return _out(np.isfinite(lower) & (np.asarray(open_price, dtype="float64") <= lower + PRICE_EPS))


@dataclass(frozen=True)
class Suspension:
    """No trade on a day without a bar, with volume 0 or with volume missing (NaN or None).

    Scalars or arrays, like :class:`PriceLimit`; :func:`strategies.arrays.build_arrays` calls it
    on the volume panel."""

    @staticmethod
    def is_suspended(volume: Any, has_bar: Any = True) -> Any:
        """True where no trade is possible: ``has_bar`` False, or volume not > 0 (0, NaN, None)."""
        if volume is None:
            return True
        with np.errstate(invalid="ignore"):
            traded = np.asarray(volume, dtype="float64") > 0
        return _out(~np.asarray(has_bar, dtype=bool) | ~traded)


# ----------------------------------------------------------------------------- slippage
@dataclass(frozen=True)
class Slippage:
    """Fill price of a market order at the open: ``open x (1 + rate)`` for buys,
    ``open x (1 - rate)`` for sells, kept inside the day's [low, high] range (and, in the
    broker, inside the day's price limits). rate 0 = the open."""

    rate: float = 0.0

    def fill_price(self, is_buy: bool, open_price: float, high: float, low: float) -> float:
        if self.rate <= 0.0:
            return open_price
        if is_buy:
            return min(open_price * (1.0 + self.rate), max(high, open_price))
        return max(open_price * (1.0 - self.rate), min(low, open_price))


# ----------------------------------------------------------------------------- volume and impact
@dataclass(frozen=True)
class VolumeCap:
    """Participation limit: an order fills at most ``share`` of the fill day's volume (shares); the
    rest is trimmed (reason ``volume``; a whole order when not one lot fits). ``share = 1``: at
    most the whole day's volume.

    The limit reads the fill day's whole volume, known only at its close: it stands for an order
    worked through the day, while the fill price stays the open (plus slippage and impact), as
    rqalpha and qlib cap a daily bar's fills."""

    share: float = 1.0

    def max_shares(self, volume: float) -> float:
        """Most shares one order may fill on a day of ``volume`` shares (0 without volume)."""
        return self.share * volume if volume > 0 else 0.0


@dataclass(frozen=True)
class Impact:
    """Square-root market impact: a fill of ``q`` shares on a day of ``V`` shares moves its price
    against the trader by ``coef x sigma x sqrt(q / V)`` (a fraction of the price), ``sigma`` the
    stock's daily volatility (:attr:`strategies.arrays.MarketArrays.volatility` of the decision
    day). The square-root law of order-book studies (Torre's Barra model, Almgren et al. 2005,
    Toth et al. 2011) puts ``coef`` of the order of 1. ``coef = 0``: no impact.

    The impacted price is not clipped to the day's range or its price limits: it is the cost of
    a large order, not a quote."""

    coef: float = 0.0

    def fraction(self, shares: float, volume: float, volatility: float) -> float:
        """The price move against the trader, a fraction of the price (0 without shares, volume
        or a finite volatility)."""
        if self.coef <= 0.0 or shares <= 0 or not volume > 0 or not np.isfinite(volatility):
            return 0.0
        return float(self.coef * volatility * math.sqrt(shares / volume))


# ----------------------------------------------------------------------------- user-facing config
@dataclass(frozen=True)
class CostModel:
    """Trading costs of a backtest (each field a :func:`core.settings.setting`: out-of-range
    or NaN values raise :class:`core.settings.SettingError`).

    Attributes:
        commission_rate: fraction of traded value per side (default 0.00025 = 0.025%).
        min_commission: CNY per order (default 5.0).
        slippage: fraction of the open price paid against the trader (default 0.0).
        stamp_duty: charge the stamp duty on sells (default True); its rate is not a parameter but the
            dated statutory rate of :class:`StampDuty`. False, with zero commission and slippage, gives a
            gross (zero-cost) backtest of the same strategy.
        participation: most shares an order fills, as a share of the fill day's volume (default
            0.1; :class:`VolumeCap`). A fill rule, not a cost: :meth:`gross` keeps it.
        impact: coefficient of the square-root impact (default 0: none; :class:`Impact`).

    :meth:`gross` is the same model without any cost (the twin of a backtest before costs).
    """

    commission_rate: float = setting(0.00025, lo=0.0, hi=0.01, doc="per side, fraction of the traded value")
    min_commission: float = setting(5.0, lo=0.0, hi=1000.0, doc="CNY per order")
    slippage: float = setting(0.0, lo=0.0, hi=0.05, doc="fraction of the open price, against the trader")
    stamp_duty: bool = setting(True, doc="charge the statutory stamp duty on sells (false: for a zero-cost, gross "
                                         "backtest)")
    participation: float = setting(0.1, lo=0.001, hi=1.0,
                                   doc="most shares an order fills, as a share of the fill day's volume (the rest "
                                       "is trimmed, reason volume)")
    impact: float = setting(0.0, lo=0.0, hi=10.0,
                            doc="square-root impact: the fill price moves against the trader by impact x the "
                                "stock's daily volatility x sqrt(shares / day's volume) (0: none)")

    def __post_init__(self) -> None:
        check_settings(self)

    def gross(self) -> CostModel:
        """The same fill rules (the participation cap) without commission, stamp duty, slippage or
        impact: the twin of a backtest before costs."""
        return replace(self, commission_rate=0.0, min_commission=0.0, slippage=0.0, stamp_duty=False, impact=0.0)

    @property
    def commission(self) -> Commission:
        return Commission(rate=float(self.commission_rate), minimum=float(self.min_commission))

    @property
    def slippage_rule(self) -> Slippage:
        return Slippage(rate=float(self.slippage))


@dataclass(frozen=True)
class AShareRules:
    """All the rules of one backtest, built from a :class:`CostModel`."""

    commission: Commission
    stamp_duty: StampDuty
    lot: LotRule
    t_plus_1: TPlusOne
    price_limit: PriceLimit
    suspension: Suspension
    slippage: Slippage
    volume_cap: VolumeCap = VolumeCap()
    impact: Impact = Impact()

    @classmethod
    def from_costs(cls, costs: CostModel | None = None) -> AShareRules:
        costs = costs or CostModel()
        return cls(
            commission=costs.commission,
            stamp_duty=StampDuty(charged=bool(costs.stamp_duty)),
            lot=LotRule(),
            t_plus_1=TPlusOne(),
            price_limit=PriceLimit(),
            suspension=Suspension(),
            slippage=costs.slippage_rule,
            volume_cap=VolumeCap(share=float(costs.participation)),
            impact=Impact(coef=float(costs.impact)),
        )

    def fees(self, value: float, date: pd.Timestamp, is_sell: bool) -> tuple[float, float]:
        """(commission, stamp duty) in CNY of one order of ``value`` CNY filled on ``date``."""
        return self.commission.fee(value), self.stamp_duty.fee(value, date, is_sell)


# ----------------------------------------------------------------------------- one order at its fill
@dataclass(eq=False)
class DayPlan:
    """One decision day's buy budget, shared by its buys (made by
    :func:`strategies.targets.topk_orders`).

    The budget counts the expected proceeds of the day's sells (at the decision close, after
    fees). A sell that is refused, or filled only in part, reports the proceeds it will not deliver
    (:attr:`FillCheck.undelivered`); whoever takes the day's orders in turn (the broker, the next
    session's order list) adds them to ``missing`` before the buys are sized (the sells come
    first), so the buys are spread over what the day really has, as if those proceeds had never
    been budgeted: :meth:`values` re-spreads ``budget - missing`` with the same rule.

    Attributes:
        spread: budget (CNY) -> each buy's value, best first
            (:func:`strategies.targets.spread_budget` with the day's prices, symbols and cap).
        budget: CNY the decision budgeted for the buys.
        missing: CNY of budgeted sell proceeds not delivered.
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

    def fresh(self) -> DayPlan:
        """The same plan with nothing missing yet (for another pass over the day's orders)."""
        return DayPlan(spread=self.spread, budget=self.budget)


@dataclass(frozen=True)
class BuyValue:
    """A buy submitted by value: what the strategy wants, for the broker to size at the fill.

    A strategy passes it in the order's info (``strategy.buy(data, size=bv.wanted,
    buy_value=bv)``, see :meth:`strategies.engine.AShareStrategy.buy_value`); :func:`size_buy`
    turns it into the board's lots at ``price`` before any other check, and refuses the order
    (``cash`` or ``lot``) when that is no lot at all.

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


def size_buy(wish: BuyValue, rules: AShareRules, symbol: str | None = None) -> tuple[int, str | None]:
    """(shares, None) a buy by value asks for at its fill (:meth:`BuyValue.value_at_fill`), in
    ``symbol``'s lots at the decision close; or (0, reason) when it is no lot at all: ``cash``
    when the budget share is empty or the full weight would buy a lot, ``lot`` when even the full
    weight buys none."""
    value = wish.value_at_fill()
    if not value > 0:
        return 0, CASH
    lots = rules.lot.lots_for_value(value, wish.price, rules.commission, symbol)
    if lots == 0:
        full = rules.lot.lots_for_value(wish.target, wish.price, rules.commission, symbol)
        return 0, CASH if full else LOT
    return lots, None


@dataclass(frozen=True)
class FillFacts:
    """What the fill day says about one symbol at its open (a row of
    :class:`strategies.arrays.MarketArrays`, :meth:`~strategies.arrays.MarketArrays.fill_facts`):
    prices in CNY, limit prices ``nan`` where none applies; ``volume``: shares traded that day,
    for the participation cap (inf: no cap); ``volatility``: the stock's daily volatility on the
    decision day, for the impact (nan: no impact)."""

    open: float
    high: float
    low: float
    upper: float = math.nan
    lower: float = math.nan
    suspended: bool = False
    member: bool = True
    buy_blocked: bool = False
    sell_blocked: bool = False
    volume: float = math.inf
    volatility: float = math.nan


@dataclass(frozen=True)
class FillCheck:
    """The outcome of :func:`check_fill`.

    Attributes:
        size: shares that fill (0 when refused).
        price: fill price in CNY, slippage and impact included (``nan`` when refused).
        reason: why the whole order is refused (one of :data:`REASONS`), None when it fills.
        requested: the order's size after a buy by value was sized (the size a refusal names).
        trims: (shares cut, reason) of each trim met before the fill (or the refusal).
        impact: CNY the square-root impact moved the fill against the trader (in ``price``).
        undelivered: CNY of a sell's budgeted ``proceeds`` it will not deliver (all of them when
            refused, the share not sold when trimmed): for :attr:`DayPlan.missing`.
    """

    size: float
    price: float
    reason: str | None
    requested: float
    trims: tuple[tuple[float, str], ...] = ()
    impact: float = 0.0
    undelivered: float = 0.0

    @property
    def filled(self) -> bool:
        return self.reason is None


def impacted_price(rules: AShareRules, base: float, is_buy: bool, size: float, facts: FillFacts) -> float:
    """``base`` moved against the trader by the square-root impact of ``size`` shares
    (:class:`Impact`, on the fill day's volume and the decision day's volatility)."""
    move = rules.impact.fraction(size, float(facts.volume), float(facts.volatility))
    return base * (1.0 + move) if is_buy else base * (1.0 - move)


def check_fill(rules: AShareRules, is_buy: bool, requested: float, facts: FillFacts, *, symbol: str | None = None,
               cash: float = math.inf, position: float = 0.0, bought_today: float = 0.0,
               wish: BuyValue | None = None, proceeds: float = 0.0) -> FillCheck:
    """Every A-share check of one market order at the open it fills at, in the broker's order.

    A buy by value (``wish``) is sized first (:func:`size_buy`, with what its day plan still has);
    then suspension; for a buy membership, a limit-up open, lots, the participation cap
    (:class:`VolumeCap`, reason ``volume``) and the ``cash`` at hand at the impacted fill price;
    for a sell a limit-down open, T+1 (``bought_today`` of the ``position`` were bought on the fill
    day), the participation cap and lots, and the share of its budgeted ``proceeds`` it will not
    deliver. The fill price is the open plus slippage, kept inside the day's limit prices, then
    moved by the square-root impact of the filled size (:func:`impacted_price`; a buy trimmed to
    the cash is priced again at its smaller size).
    :class:`strategies.broker.AShareBroker` calls this for every order it fills; the next
    session's order list (``python -m backtests.predict``) calls it too."""
    trims: list[tuple[float, str]] = []

    def refuse(reason: str) -> FillCheck:
        return FillCheck(0.0, math.nan, reason, float(requested), tuple(trims),
                         undelivered=0.0 if is_buy else float(proceeds))

    if wish is not None:  # sized first: the shares the decision asked for, at its close
        lots, why = size_buy(wish, rules, symbol)
        if why is not None:
            return refuse(why)
        requested = lots
    if facts.suspended:
        return refuse(SUSPENDED)
    price_args = (float(facts.open), float(facts.high), float(facts.low))
    cap = rules.volume_cap.max_shares(float(facts.volume))
    size: float
    undelivered = 0.0
    if is_buy:
        if not facts.member:
            return refuse(NOT_MEMBER)
        if facts.buy_blocked:
            return refuse(LIMIT_UP)
        size = rules.lot.buy_shares(requested, symbol)
        if size == 0:
            return refuse(LOT)
        if size < requested:
            trims.append((requested - size, LOT))
        capped: float
        if size > cap:
            capped = rules.lot.buy_shares(cap, symbol)
            if capped == 0:
                return refuse(VOLUME)
            trims.append((size - capped, VOLUME))
            size = capped
        base = rules.slippage.fill_price(True, *price_args)
        if np.isfinite(facts.upper):
            base = min(base, float(facts.upper))  # slippage never crosses the limit
        price = impacted_price(rules, base, True, size, facts)
        if math.isfinite(cash):  # inf: the cash is not checked (a plan before the day's sells)
            affordable = rules.lot.lots_for_value(cash, price, rules.commission, symbol)
            if affordable == 0:
                return refuse(CASH)
            if affordable < size:
                trims.append((size - affordable, CASH))
                size = affordable
                price = impacted_price(rules, base, True, size, facts)  # a smaller fill moves the price less
    else:
        if facts.sell_blocked:
            return refuse(LIMIT_DOWN)
        sellable = rules.t_plus_1.sellable(position, bought_today)
        if sellable <= 0:
            return refuse(T_PLUS_1 if position > 0 else LOT)
        size = min(requested, sellable)
        if size < requested and requested <= position:
            trims.append((requested - size, T_PLUS_1))
        if size > cap:
            capped = float(rules.lot.sell_shares(cap, position, symbol))
            if capped == 0:
                return refuse(VOLUME)
            trims.append((size - capped, VOLUME))
            size = capped
        lotted = rules.lot.sell_shares(size, position, symbol)
        if lotted == 0:
            return refuse(LOT)
        if lotted < size:
            trims.append((size - lotted, LOT))
        size = lotted
        if size < requested:
            undelivered = float(proceeds) * (requested - size) / requested
        base = rules.slippage.fill_price(False, *price_args)
        if np.isfinite(facts.lower):
            base = max(base, float(facts.lower))
        price = impacted_price(rules, base, False, size, facts)
    return FillCheck(float(size), float(price), None, float(requested), tuple(trims),
                     impact=abs(price - base) * float(size), undelivered=undelivered)

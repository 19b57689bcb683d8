"""China A-share trading rules, one small class per rule, with named constants and units.

Units: prices and money in CNY, sizes in shares, rates as fractions (0.00025 = 0.025%), dates
as ``pandas.Timestamp`` trading days. Board membership and limit percentages come from
:mod:`data_store.boards` (the one table of those market facts); this module only applies them.

Nothing here knows about Backtrader. Each rule has one implementation, and it is the one the
backtest runs: the per-day facts (suspension, limit prices, limit-up and limit-down opens) are
computed by :func:`strategies.arrays.build_arrays` calling :class:`Suspension` and
:class:`PriceLimit` on whole NumPy panels; the order-time rules (lots, T+1, fees, slippage) are
called by :class:`strategies.broker.AShareBroker` at each fill. The tests check the same classes
with hand-computed numbers.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
REASONS: tuple[str, ...] = (LIMIT_UP, LIMIT_DOWN, SUSPENDED, LOT, CASH, T_PLUS_1, NOT_MEMBER)

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
    """

    commission_rate: float = setting(0.00025, lo=0.0, hi=0.01, doc="per side, fraction of the traded value")
    min_commission: float = setting(5.0, lo=0.0, hi=1000.0, doc="CNY per order")
    slippage: float = setting(0.0, lo=0.0, hi=0.05, doc="fraction of the open price, against the trader")
    stamp_duty: bool = setting(True, doc="charge the statutory stamp duty on sells (false: for a zero-cost, gross "
                                         "backtest)")

    def __post_init__(self) -> None:
        check_settings(self)

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
        )

    def fees(self, value: float, date: pd.Timestamp, is_sell: bool) -> tuple[float, float]:
        """(commission, stamp duty) in CNY of one order of ``value`` CNY filled on ``date``."""
        return self.commission.fee(value), self.stamp_duty.fee(value, date, is_sell)


# ----------------------------------------------------------------------------- one order at its fill
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
    """

    value: float
    target: float
    price: float

    @property
    def wanted(self) -> float:
        """Shares of the full weight at ``price`` (not rounded): the size the order is submitted
        with, and the ``requested`` size of a refusal before sizing."""
        return self.target / self.price


def size_buy(wish: BuyValue, rules: AShareRules, symbol: str | None = None) -> tuple[int, str | None]:
    """(shares, None) a buy by value asks for, in ``symbol``'s lots at the decision close; or
    (0, reason) when it is no lot at all: ``cash`` when the budget share is empty or the full
    weight would buy a lot, ``lot`` when even the full weight buys none."""
    if not wish.value > 0:
        return 0, CASH
    lots = rules.lot.lots_for_value(wish.value, wish.price, rules.commission, symbol)
    if lots == 0:
        full = rules.lot.lots_for_value(wish.target, wish.price, rules.commission, symbol)
        return 0, CASH if full else LOT
    return lots, None


@dataclass(frozen=True)
class FillFacts:
    """What the fill day says about one symbol at its open (a row of
    :class:`strategies.arrays.MarketArrays`, :meth:`~strategies.arrays.MarketArrays.fill_facts`):
    prices in CNY, limit prices ``nan`` where none applies."""

    open: float
    high: float
    low: float
    upper: float = math.nan
    lower: float = math.nan
    suspended: bool = False
    member: bool = True
    buy_blocked: bool = False
    sell_blocked: bool = False


@dataclass(frozen=True)
class FillCheck:
    """The outcome of :func:`check_fill`.

    Attributes:
        size: shares that fill (0 when refused).
        price: fill price in CNY (``nan`` when refused).
        reason: why the whole order is refused (one of :data:`REASONS`), None when it fills.
        requested: the order's size after a buy by value was sized (the size a refusal names).
        trims: (shares cut, reason) of each trim met before the fill (or the refusal).
    """

    size: float
    price: float
    reason: str | None
    requested: float
    trims: tuple[tuple[float, str], ...] = ()

    @property
    def filled(self) -> bool:
        return self.reason is None


def check_fill(rules: AShareRules, is_buy: bool, requested: float, facts: FillFacts, *, symbol: str | None = None,
               cash: float = math.inf, position: float = 0.0, bought_today: float = 0.0,
               wish: BuyValue | None = None) -> FillCheck:
    """Every A-share check of one market order at the open it fills at, in the broker's order.

    A buy by value (``wish``) is sized first (:func:`size_buy`); then suspension; for a buy
    membership, a limit-up open, lots and the ``cash`` at hand at the fill price; for a sell a
    limit-down open, T+1 (``bought_today`` of the ``position`` were bought on the fill day) and
    lots. The fill price is the open plus slippage, kept inside the day's limit prices.
    :class:`strategies.broker.AShareBroker` calls this for every order it fills; the next
    session's order list (``python -m backtests.predict``) calls it too."""
    trims: list[tuple[float, str]] = []

    def refuse(reason: str) -> FillCheck:
        return FillCheck(0.0, math.nan, reason, float(requested), tuple(trims))

    if wish is not None:  # sized first: the shares the decision asked for, at its close
        lots, why = size_buy(wish, rules, symbol)
        if why is not None:
            return refuse(why)
        requested = lots
    if facts.suspended:
        return refuse(SUSPENDED)
    price_args = (float(facts.open), float(facts.high), float(facts.low))
    size: float
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
        price = rules.slippage.fill_price(True, *price_args)
        if np.isfinite(facts.upper):
            price = min(price, float(facts.upper))  # slippage never crosses the limit
        if math.isfinite(cash):  # inf: the cash is not checked (a plan before the day's sells)
            affordable = rules.lot.lots_for_value(cash, price, rules.commission, symbol)
            if affordable == 0:
                return refuse(CASH)
            if affordable < size:
                trims.append((size - affordable, CASH))
                size = affordable
    else:
        if facts.sell_blocked:
            return refuse(LIMIT_DOWN)
        sellable = rules.t_plus_1.sellable(position, bought_today)
        if sellable <= 0:
            return refuse(T_PLUS_1 if position > 0 else LOT)
        size = min(requested, sellable)
        if size < requested and requested <= position:
            trims.append((requested - size, T_PLUS_1))
        lotted = rules.lot.sell_shares(size, position, symbol)
        if lotted == 0:
            return refuse(LOT)
        if lotted < size:
            trims.append((size - lotted, LOT))
        size = lotted
        price = rules.slippage.fill_price(False, *price_args)
        if np.isfinite(facts.lower):
            price = max(price, float(facts.lower))
    return FillCheck(float(size), float(price), None, float(requested), tuple(trims))

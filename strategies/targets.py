"""Strategy configurations and the pure functions that choose target positions.

Everything here is a plain function of (the day's predictions, the holdings, the configuration):
no Backtrader, no state, so each decision can be tested alone. :mod:`strategies.engine` calls
these functions after the close of each day and submits the orders; the broker sizes, refuses or
trims them at the open ``FILL_LAG`` days later (:mod:`strategies.broker`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.settings import SettingError, Spec, check_settings, setting

from . import pacing
from .rules import AShareRules, Commission, DayPlan, LotRule

#: The starting capital of :func:`strategies.run_backtest` (the command line declares its field with it).
INITIAL_CASH = Spec(lo=1e4, hi=1e12, doc="starting capital, CNY")
DEFAULT_INITIAL_CASH = 10_000_000.0  #: CNY


# ----------------------------------------------------------------------------- configurations
@dataclass(frozen=True, kw_only=True)
class StrategyConfig:
    """What every strategy configuration has (the base of :class:`TopKConfig` and
    :class:`ThresholdConfig`; its fields are keyword-only and come after the subclass's own).

    Every field is a :func:`core.settings.setting`: one default, one range, one meaning, for
    research scripts and the command line alike. Out-of-range, NaN or mistyped values raise
    :class:`core.settings.SettingError` (a :class:`~data_store.errors.ConfigError`).

    Attributes:
        cash_buffer: share of equity kept in cash for fees and opening gaps (0.02 = 2%).
    """

    cash_buffer: float = setting(0.02, lo=0.0, hi=0.5, doc="share of equity kept in cash for fees and opening gaps")

    def __post_init__(self) -> None:
        check_settings(self)


#: TopKConfig.missing: a held tradable member without a prediction ranks below every scored name
LOWEST = "lowest"
#: TopKConfig.missing: ... or is kept and keeps its slot (the behaviour before issue 13)
KEEP = "hold"


@dataclass(frozen=True)
class TopKConfig(StrategyConfig):
    """Cross-sectional strategy: hold the ``k`` highest ``p_up`` among tradable members.

    Attributes:
        k: names held (a buy gets an equal share of the day's budget: cash and sell proceeds
            above ``cash_buffer`` of equity; on the first day ``(1 - cash_buffer) / k`` each).
        max_replace: at most this many held names are swapped for better-ranked ones per day
            (``max_replace >= k``: no limit). Filling empty slots (the first day, after a forced
            exit) does not count, nor do forced sells of stocks that left the index.
        buffer: rank buffer: a held name is kept while it ranks within the top ``k + buffer``
            (0: sold as soon as it leaves the top k, subject to ``max_replace``).
        min_hold: a bought name is not dropped for a better one before it has been held this
            many trading days (decisions on its fill day and the ``min_hold - 1`` days after keep
            it; 0: no minimum beyond T+1). Exits from the index are never delayed.
        missing: a held stock that is a tradable member but has no prediction that day (no row,
            or NaN): ``"lowest"`` ranks it below every scored name (sold when a better candidate
            exists, within ``max_replace`` and ``buffer``), ``"hold"`` keeps it with its slot.
            A suspended holding is always kept (it cannot trade).
        tie_seed: seed of the tie-break: names with equal ``p_up`` are ordered by a seeded
            shuffle of the day (:func:`tie_keys`), the same for the same seed, date and symbol.
        hold_days: staggered tranches (Jegadeesh-Titman): the k slots are split into this many
            tranches, one reviewed per decision day, so a name bought is held ``hold_days``
            decision days before it may be replaced and about 1/hold_days of the book turns a day
            (:func:`strategies.pacing.review_plan`); 1: every holding reviewed every day. With
            fewer names than tranches some tranches are empty (days without a buy).
        rebalance_every: decide only every N-th trading day of the run (the first is day 0);
            between them nothing is bought or replaced, but a stock that left the index is sold.
        score_halflife: half-life (trading days) of an exponential average of each stock's
            ``p_up`` across days, ranked instead of the day's ``p_up``
            (:func:`strategies.pacing.smooth_scores`); 0: the day's ``p_up``.
        cost_aware: a holding is replaced by a better-ranked name only when the expected gain,
            slope x (percentile of the candidate - percentile of the holding) x the holding's
            value, exceeds the round-trip cost the broker would charge for it (commission with
            its minimum, stamp duty, slippage, impact; :func:`strategies.pacing.round_trip_cost`).
            The slope is fitted on the run's earlier predictions whose ``gain_horizon``-day
            returns are realised by the decision day (:func:`strategies.pacing.gain_slopes`);
            until 20 such days exist, or when it is not positive, no holding is replaced (empty
            slots and exits are not swaps: they are always traded).
        gain_horizon: trading days of forward return the cost-aware rule's slope is fitted on
            (the gain a swap is credited with).
        cash_buffer: see :class:`StrategyConfig`.

    The defaults ``hold_days=20``, ``buffer=0``, ``min_hold=0``, ``score_halflife=3``,
    ``cost_aware=True`` were chosen on validation predictions before the default test span (the
    default model's out-of-sample 2018-07 .. 2021-12 walk-forward) by
    ``scripts/choose_topk_defaults.py``: among the 61 settings of its grid that traded at most 0.15
    of the book a day with costs of at most 2.5% a year, the highest net Sharpe, the lowest
    turnover among near ties (``docs/trading-pace.md``); rerun it when the default model changes
    (it was rerun when the presets moved to the style-neutral target, which added the smoothing and
    the cost-aware rule). ``hold_days=1, buffer=0, min_hold=0, score_halflife=0, cost_aware=False``
    is the plain rule (sell a name as soon as it leaves the top k, within ``max_replace``);
    ``hold_days=1, buffer=20, min_hold=2`` (no smoothing, no cost-aware rule) were the defaults of
    issue 13.
    """

    k: int = setting(30, lo=1, hi=1000, doc="TopK: names held")
    max_replace: int = setting(10, lo=1, hi=1000, doc="TopK: most held names replaced per day (>= k: no limit)")
    buffer: int = setting(0, lo=0, hi=1000, doc="TopK: a holding is kept while it ranks within the top k + buffer")
    min_hold: int = setting(0, lo=0, hi=250,
                            doc="TopK: trading days a bought name is held before it may be replaced (0: none)")
    missing: str = setting(LOWEST, choices=(LOWEST, KEEP),
                           doc="TopK: a held tradable member without a prediction ranks lowest, or is kept (hold)")
    tie_seed: int = setting(0, lo=0, hi=2**31 - 1, doc="TopK: seed of the shuffle that orders equal p_up each day")
    hold_days: int = setting(20, lo=1, hi=250,
                             doc="TopK: staggered tranches: one of this many is reviewed a decision day, so a buy "
                                 "is held this many decision days before it may be replaced (1: all every day)")
    rebalance_every: int = setting(1, lo=1, hi=250,
                                   doc="TopK: decide every N-th trading day (exits from the index are sold any day)")
    score_halflife: float = setting(3.0, lo=0.0, hi=250.0,
                                    doc="TopK: half-life in trading days of an exponential average of each stock's "
                                        "p_up across days, ranked instead of the day's p_up (0: no smoothing)")
    cost_aware: bool = setting(True, doc="TopK: replace a holding only when the expected gain (fitted score-to-"
                                          "forward-return slope x rank gap x value) exceeds the round-trip cost")
    gain_horizon: int = setting(10, lo=1, hi=120,
                                doc="TopK: days of forward return the cost-aware rule's slope is fitted on")


@dataclass(frozen=True)
class ThresholdConfig(StrategyConfig):
    """Single-instrument strategy: long (all equity but the cash buffer) when ``p_up > upper``,
    flat when ``p_up < lower``, unchanged in between or on days without a prediction.

    Attributes:
        symbol: exchange-prefixed code, e.g. ``"SH600519"``; ``None`` (``"auto"`` in TOML): the
            one symbol of the predictions table (:func:`strategies.run_backtest` raises
            :class:`~strategies.errors.PredictionsError` when the table has several).
        upper, lower: probability thresholds, ``0 <= lower <= upper <= 1``.
        cash_buffer: see :class:`StrategyConfig`.
    """

    symbol: str | None = setting(None, pattern=r"(SH|SZ|BJ)\d{6}", none="auto",
                                 doc="Threshold: the stock traded, an exchange-prefixed code like SH600519")
    upper: float = setting(0.52, lo=0.0, hi=1.0, doc="Threshold: go long above this p_up")
    lower: float = setting(0.48, lo=0.0, hi=1.0, doc="Threshold: go flat below this p_up (<= upper)")

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.lower > self.upper:
            raise SettingError(type(self).__name__, "lower", self.lower,
                               f"must not exceed upper = {self.upper} (e.g. lower=0.48, upper=0.52)")


# ----------------------------------------------------------------------------- TopK
_M64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def _splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's finaliser on uint64 (wrapping arithmetic): a well-mixed hash of ``x``."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        x = (x + np.uint64(0x9E3779B97F4A7C15)) & _M64
        x = ((x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)) & _M64
        x = ((x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)) & _M64
    return x ^ (x >> np.uint64(31))


def symbol_codes(symbols: Iterable[str]) -> np.ndarray:
    """A fixed 64-bit code per symbol (blake2b of its text), the symbol's part of :func:`tie_keys`."""
    return np.array([int.from_bytes(hashlib.blake2b(str(s).encode(), digest_size=8).digest(), "little")
                     for s in symbols], dtype=np.uint64)


def tie_keys(seed: int, date: pd.Timestamp | str, codes: np.ndarray) -> np.ndarray:
    """Tie-break keys of one day: among names with equal ``p_up`` the lower key ranks first.

    Rule: key = SplitMix64(code(symbol) XOR SplitMix64(seed x 2^32 + yyyymmdd)). The keys are a
    seeded shuffle of the day: a fresh order every day (no symbol is favoured), the same for the
    same seed, date and symbol whatever else the table or the run's span holds.
    """
    day = pd.Timestamp(date)
    salt = np.uint64((int(seed) << 32) + day.year * 10_000 + day.month * 100 + day.day)
    return _splitmix64(np.asarray(codes, dtype=np.uint64) ^ _splitmix64(np.array([salt]))[0])


def topk_select(
    scores: np.ndarray,
    held: np.ndarray,
    must_exit: np.ndarray,
    k: int,
    max_replace: int,
    *,
    tradable: np.ndarray | None = None,
    buffer: int = 0,
    locked: np.ndarray | None = None,
    tie_key: np.ndarray | None = None,
    missing: str = LOWEST,
    capacity: int | None = None,
    gain_slope: float | None = None,
    swap_cost: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Names to sell and to buy today (array positions), best buys first.

    Args:
        scores: ``p_up`` per name; NaN where there is none.
        held: True where shares are held now.
        must_exit: held names that must go whatever their score (they left the index).
        k: names to hold.
        max_replace: most held names dropped for better ones (forced exits not counted).
        tradable: names that can trade today (default: all); others are never bought, and a
            holding among them (suspended) is kept with its slot.
        buffer: a held name is kept while it ranks within the top ``slots + buffer``.
        locked: held names that may not be dropped today (``TopKConfig.min_hold``, the tranches
            not reviewed today: :func:`strategies.pacing.review_plan`).
        tie_key: among equal scores the lower key ranks first (default: the position, so the
            earlier name); see :func:`tie_keys`.
        missing: ``"lowest"``: a tradable holding without a score ranks below every scored name;
            ``"hold"``: it is kept with its slot.
        capacity: most names held after today's trades (default ``k``; a day that reviews one
            tranche passes the other tranches' holdings plus its slots).
        gain_slope: the cost-aware rule (None: off): expected return, over the rule's horizon,
            per unit of the day's percentile (:func:`strategies.pacing.gain_slopes`); NaN: not
            known yet, so no holding is replaced.
        swap_cost: with ``gain_slope``, each holding's round-trip cost as a fraction of its value
            (:func:`strategies.pacing.round_trip_cost`).

    Rules: the scored tradable names (held or not) are ranked best first, the unscored tradable
    holdings after them; ``slots`` = k minus the holdings kept without a rank. A holding ranked
    outside the top ``slots + buffer`` and not locked is a loser; losers are dropped worst first,
    at most ``max_replace``. The best-ranked names not held fill the free places up to
    ``capacity``: first the places open without a sale, then one per dropped loser. With the
    cost-aware rule each loser, worst first, is dropped only if ``gain_slope x (q_c - q_h) >
    swap_cost[h]``, where c is the best candidate not yet taken after the free places, and q is
    the day's percentile of the ranking ((n-1-position)/(n-1) among the n scored names, 1 the
    best; an unscored holding 0); a loser that fails is kept.
    """
    scores = np.asarray(scores, dtype="float64")
    held = np.asarray(held, dtype=bool)
    n = scores.shape[0]
    ok = np.ones(n, dtype=bool) if tradable is None else np.asarray(tradable, dtype=bool)
    must_exit = np.asarray(must_exit, dtype=bool) & held
    lock = np.zeros(n, dtype=bool) if locked is None else np.asarray(locked, dtype=bool)
    key = np.arange(n) if tie_key is None else np.asarray(tie_key)
    if missing not in (LOWEST, KEEP):
        raise ValueError(f"missing={missing!r}: use {LOWEST!r} or {KEEP!r}")
    cap = k if capacity is None else int(capacity)
    staying = held & ~must_exit
    scored = np.isfinite(scores) & ok & ~must_exit  # a leaver neither competes nor takes a slot
    unscored = staying & ~scored
    kept_unranked = unscored if missing == KEEP else unscored & ~ok
    slots = max(k - int(kept_unranked.sum()), 0)

    cand = np.flatnonzero(scored)
    order = cand[np.lexsort((key[cand], -scores[cand]))]  # best first, ties by key
    last = np.flatnonzero(unscored & ~kept_unranked)
    ranking = np.concatenate([order, last[np.argsort(key[last], kind="stable")]]).astype(np.intp)
    rank = np.full(n, n + len(ranking), dtype=np.intp)
    rank[ranking] = np.arange(len(ranking))

    losers = np.flatnonzero(staying & ~kept_unranked & ~lock & (rank >= slots + buffer))
    drops = losers[np.argsort(-rank[losers], kind="stable")][:max_replace]  # worst first
    candidates = order[~held[order]]
    if gain_slope is not None and len(drops):
        drops = _worth_the_cost(drops, candidates, max(cap - int(staying.sum()), 0), rank, len(order),
                                float(gain_slope), np.asarray(swap_cost, dtype="float64"))

    n_buy = max(cap - (int(staying.sum()) - len(drops)), 0)
    buys = candidates[:n_buy]
    sells = np.concatenate([np.flatnonzero(must_exit), drops]).astype(np.intp)
    return sells, buys.astype(np.intp)


def _worth_the_cost(drops: np.ndarray, candidates: np.ndarray, free: int, rank: np.ndarray, n_scored: int,
                    slope: float, cost: np.ndarray) -> np.ndarray:
    """The losers (worst first) whose swap for the best candidate not yet taken (after ``free``
    places filled without a sale) is expected to earn more than its round-trip cost."""
    if not np.isfinite(slope):
        return drops[:0]

    def pct(i: int) -> float:
        if rank[i] >= n_scored:  # unscored: below every scored name
            return 0.0
        return 1.0 if n_scored <= 1 else (n_scored - 1 - rank[i]) / (n_scored - 1)

    kept, nxt = [], free
    for h in drops:
        if nxt >= len(candidates):
            break
        if slope * (pct(candidates[nxt]) - pct(h)) > cost[h]:
            kept.append(h)
            nxt += 1
    return np.asarray(kept, dtype=np.intp)


def tie_at_cut(scores: np.ndarray, k: int) -> bool:
    """True when the k-th and (k+1)-th best finite scores are equal: the tie rule chooses a name."""
    s = np.asarray(scores, dtype="float64")
    s = s[np.isfinite(s)]
    if len(s) <= k:
        return False
    top = -np.partition(-s, (k - 1, k))
    return bool(top[k - 1] == top[k])


@dataclass(frozen=True)
class TopKDecision:
    """Result of :func:`topk_targets`: symbols to sell (whole positions) and to buy, best first,
    and the tranche today's buys join (-1: a day without a review)."""

    sells: tuple[str, ...]
    buys: tuple[str, ...]
    tranche: int = 0

    def targets(self, holdings: Iterable[str]) -> set[str]:
        """Names held after the decision is filled."""
        return (set(holdings) - set(self.sells)) | set(self.buys)


def topk_targets(
    p_up: pd.Series | Mapping[str, float],
    holdings: Iterable[str],
    config: TopKConfig,
    eligible: Iterable[str] | None = None,
    members: Iterable[str] | None = None,
    *,
    date: pd.Timestamp | str | None = None,
    held_days: Mapping[str, int] | None = None,
    day: int = 0,
    tranches: Mapping[str, int] | None = None,
    gain_slope: float | None = None,
    swap_cost: Mapping[str, float] | None = None,
) -> TopKDecision:
    """Labelled wrapper of :func:`topk_choose` for research code and tests, with every rule of
    ``config`` that chooses names (k, max_replace, buffer, min_hold, missing, tie_seed, hold_days
    and rebalance_every through :func:`strategies.pacing.review_plan`, cost_aware).

    Args:
        p_up: the day's predictions by symbol (already smoothed, when ``score_halflife`` is set).
        holdings: symbols held now.
        config: the TopK settings.
        eligible: symbols that can trade today (tradable members); default: all, held or scored.
            A holding outside it is suspended: kept with its slot.
        members: point-in-time members today; held symbols outside it are sold. Default: all
            held symbols are members.
        date: the decision day, for the seeded tie-break (:func:`tie_keys`); default: ties go
            to the earlier symbol.
        held_days: trading days each holding has been held (for ``min_hold``); default: long.
        day: the decision day's position in the run (for ``hold_days`` and ``rebalance_every``).
        tranches: the tranche of each holding (default: 0); today's buys join ``decision.tranche``.
        gain_slope: the cost-aware rule's slope (used when ``config.cost_aware``; None: not fitted
            yet, so no swap).
        swap_cost: each holding's round-trip cost as a fraction of its value (default 0).
    """
    p = pd.Series(p_up, dtype="float64")
    held_set = set(holdings)
    universe = sorted(set(p.index) | held_set)
    scores = p.reindex(universe).to_numpy()
    ok = set(universe if eligible is None else eligible)
    if members is not None:
        ok &= set(members)
    tradable = np.array([s in ok for s in universe], dtype=bool)
    held = np.array([s in held_set for s in universe], dtype=bool)
    if members is None:
        must_exit = np.zeros(len(universe), dtype=bool)
    else:
        mem = set(members)
        must_exit = np.array([s not in mem for s in universe]) & held
    ages = held_days or {}
    where = tranches or {}
    tranche = np.array([where.get(s, 0) if s in held_set else -1 for s in universe], dtype=np.int64)
    locked = held & np.array([ages.get(s, config.min_hold) < config.min_hold for s in universe], dtype=bool)
    key = None if date is None else tie_keys(config.tie_seed, date, symbol_codes(universe))
    costs = swap_cost or {}
    choice = topk_choose(scores, held, must_exit, tradable, config, locked=locked, tie_key=key, day=day,
                         tranche=tranche, gain_slope=gain_slope,
                         swap_cost=np.array([costs.get(s, 0.0) for s in universe]))
    return TopKDecision(tuple(universe[i] for i in choice.sells), tuple(universe[i] for i in choice.buys),
                        choice.tranche)


def universe_warning(tradable_names: float, config: TopKConfig) -> str | None:
    """What a TopK backtest's money figures mean when the universe is small for the settings,
    or None. Raised when the typical day has fewer tradable members than ``2k + buffer``: then
    fewer than k names rank outside the top ``k + buffer`` that keeps a holding, so the book
    can hardly be renewed (with ``k + buffer`` or more, nothing is ever sold but exits)."""
    keep = config.k + config.buffer
    if tradable_names >= 2 * config.k + config.buffer:
        return None
    if tradable_names <= keep:
        how = (f"every holding always ranks within the top k + buffer = {keep}, so nothing is ever sold except "
               "exits from the index")
    else:
        how = (f"a holding is sold only when it ranks below {keep}, which at most {tradable_names - keep:g} names "
               "a day can")
    return (f"small universe: TopK(k={config.k}, buffer={config.buffer}) on a median of {tradable_names:g} "
            f"tradable members a day: {how}. The book is then close to an equal-weight holding of the universe "
            "bought on the first days, and its returns and costs say little about the signal (a signal that "
            "knew the future could still lose). Use k + buffer well below the number of members, e.g. "
            f"k <= {max(int(tradable_names) // 4, 1)} and buffer 0.")


# ----------------------------------------------------------------------------- Threshold
HOLD, BUY, SELL = "hold", "buy", "sell"


def threshold_action(p_up: float, holding: bool, upper: float, lower: float) -> str:
    """``'buy'`` when flat and ``p_up > upper``, ``'sell'`` when long and ``p_up < lower``,
    else ``'hold'`` (also for a missing prediction)."""
    if p_up is None or not np.isfinite(p_up):
        return HOLD
    if not holding and p_up > upper:
        return BUY
    if holding and p_up < lower:
        return SELL
    return HOLD


# ----------------------------------------------------------------------------- sizing
def buy_budget(cash: float, equity: float, sell_proceeds: float, cash_buffer: float) -> float:
    """CNY available for today's buys: cash plus expected sell proceeds minus the buffer (may be
    0 or less: the broker then refuses the buys with reason ``cash``)."""
    return cash + sell_proceeds - cash_buffer * equity


def equal_weight_value(equity: float, k: int, cash_buffer: float) -> float:
    """CNY target value of one name in an equal-weight book of ``k`` names."""
    return equity * (1.0 - cash_buffer) / k


def spread_budget(budget: float, prices: np.ndarray, lot: LotRule, commission: Commission,
                  symbols: Sequence[str] | None = None, cap: float | None = None) -> np.ndarray:
    """CNY to spend on each of the day's buys (best first).

    Each name gets an equal share of what the names before it left, ``left / names to go``,
    capped at ``cap`` (its target weight) plus the carry: what the earlier names' lots (their
    board's, :class:`~strategies.rules.LotRule`, for ``symbols``; main-board lots without them) at
    ``prices`` (the decision close, as the broker sizes them) and commission left unspent of their
    own shares. A name whose share buys no lot spends nothing; without a cap its share passes on
    to the next names, with one it stays in cash (only rounding is carried). ``cap`` None: no cap,
    the whole budget is spread."""
    prices = np.asarray(prices, dtype="float64")
    values = np.zeros(len(prices))
    left, carry = float(budget), 0.0
    for j, price in enumerate(prices):
        share = left / (len(prices) - j)
        if cap is not None:
            share = min(share, cap + carry)
        values[j] = share
        shares = lot.lots_for_value(share, float(price), commission, None if symbols is None else symbols[j])
        if shares:
            spent = shares * price + commission.fee(shares * price)
            left -= spent
            carry = share - spent
    return values


# ----------------------------------------------------------------------------- a day's orders
@dataclass(frozen=True)
class TopKChoice:
    """The names of one TopK decision (:func:`topk_choose`), by position: ``sells`` (exits from
    the index first, then the dropped losers, worst first), ``buys`` best first, the tranche each
    buy joins (``joins``) and the tranche reviewed today (``tranche``; -1: no review)."""

    sells: np.ndarray
    buys: np.ndarray
    joins: np.ndarray
    tranche: int


def topk_choose(scores: np.ndarray, held: np.ndarray, must_exit: np.ndarray, tradable: np.ndarray,
                config: TopKConfig, *, locked: np.ndarray | None = None, tie_key: np.ndarray | None = None,
                day: int = 0, tranche: np.ndarray | None = None, gain_slope: float | None = None,
                swap_cost: np.ndarray | None = None) -> TopKChoice:
    """Every rule of ``config`` that chooses names on decision day ``day`` of the review cycle:
    the tranche reviewed today and its capacity (:func:`strategies.pacing.review_plan`; the other
    tranches' holdings are locked, as are the ``locked`` ones of ``min_hold``), then
    :func:`topk_select` (rank buffer, missing scores, ties, ``max_replace``, and with
    ``config.cost_aware`` the swap rule on ``gain_slope``, NaN or None: not known yet, so no
    swap, and ``swap_cost``), and the tranche each buy joins
    (:func:`strategies.pacing.joining_tranches`).

    ``tranche``: each name's tranche (-1 or anything where not held; default 0 for every
    holding), normalised by :func:`strategies.pacing.held_tranches`."""
    held = np.asarray(held, dtype=bool)
    must_exit = np.asarray(must_exit, dtype=bool)
    staying = held & ~must_exit
    where = pacing.held_tranches(np.zeros(len(held), dtype=np.int64) if tranche is None else tranche, held)
    review = pacing.review_plan(day, config.k, config.hold_days, config.rebalance_every, where, staying, must_exit)
    lock = held & (review.locked if locked is None else (np.asarray(locked, dtype=bool) | review.locked))
    slope = None
    if config.cost_aware:
        slope = float("nan") if gain_slope is None else float(gain_slope)
    cost = np.zeros(len(held)) if swap_cost is None else np.asarray(swap_cost, dtype="float64")
    sells, buys = topk_select(scores, held, must_exit, config.k, config.max_replace, tradable=tradable,
                              buffer=config.buffer, locked=lock, tie_key=tie_key, missing=config.missing,
                              capacity=review.capacity, gain_slope=slope, swap_cost=cost)
    joins = pacing.joining_tranches(review, config.k, config.hold_days, where, staying, sells, len(buys))
    return TopKChoice(sells, buys, joins, review.tranche)


@dataclass(frozen=True)
class DayOrders:
    """The orders of one decision day as a strategy submits them, by position in the day's
    arrays: ``sells`` (whole positions, submitted first), then ``buys`` best first, each with the
    CNY it may spend (``values``, commission included, sized to lots by the broker at the fill:
    :func:`strategies.rules.size_buy`) and ``target``, the CNY of one name's full weight.
    ``proceeds`` (the sells' value at the close less their fees; ``sell_proceeds`` each) and
    ``budget`` (what the buys share) are the figures the values come from.

    TopK: ``plan`` is the day's :class:`~strategies.rules.DayPlan` (``values`` are its shares before
    any sell is refused; at the fill each buy takes ``plan.values()[slot]``), ``joins`` the tranche
    each buy joins and ``tranche`` the tranche reviewed (-1: none)."""

    sells: np.ndarray
    buys: np.ndarray
    values: np.ndarray
    target: float = 0.0
    proceeds: float = 0.0
    budget: float = 0.0
    sell_proceeds: np.ndarray = field(default_factory=lambda: np.zeros(0))
    plan: DayPlan | None = None
    joins: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    tranche: int = -1


def _none() -> np.ndarray:
    return np.zeros(0, dtype=np.intp)


def topk_orders(scores: np.ndarray, shares: np.ndarray, close: np.ndarray, must_exit: np.ndarray,
                tradable: np.ndarray, locked: np.ndarray, cash: float, equity: float, config: TopKConfig,
                rules: AShareRules, date: pd.Timestamp, tie_key: np.ndarray,
                symbols: Sequence[str] | None = None, *, day: int = 0, tranche: np.ndarray | None = None,
                gain_slope: float | None = None, volume: np.ndarray | None = None,
                volatility: np.ndarray | None = None, fill_date: pd.Timestamp | None = None,
                decision_rules: AShareRules | None = None) -> DayOrders:
    """The TopK strategy's orders of decision day ``date``, day ``day`` of the review cycle.

    :func:`topk_choose` chooses the names (``locked``: the holdings ``min_hold`` keeps; ``tranche``:
    each holding's; ``gain_slope``: the cost-aware rule's slope of the day, from
    :func:`strategies.pacing.paced_scores`, weighed against each holding's
    :func:`strategies.pacing.swap_costs` under ``decision_rules``, default ``rules``, on the day's
    ``volume`` and ``volatility``, filled on ``fill_date``); the sells' proceeds at the ``close``
    (less commission and stamp duty) join the ``cash`` above the cash buffer of ``equity``
    (:func:`buy_budget`), and :func:`spread_budget` shares that among the buys, each capped at one
    name's full weight (:func:`equal_weight_value`) plus the lot carry, in their boards' lots.

    Arrays are per name (``scores`` NaN where none, already smoothed; ``shares`` held now). The
    backtest's :class:`strategies.engine.TopKStrategy` submits exactly these orders; the next
    session's order list (``python -m backtests.predict``) places them too."""
    shares = np.asarray(shares, dtype="float64")
    close = np.asarray(close, dtype="float64")
    held = shares > 0
    cost = None
    if config.cost_aware:
        n = len(shares)
        cost = pacing.swap_costs(shares, close, np.zeros(n) if volume is None else volume,
                                 np.full(n, np.nan) if volatility is None else volatility,
                                 pd.Timestamp(date if fill_date is None else fill_date), decision_rules or rules)
    choice = topk_choose(scores, held, must_exit, tradable, config, locked=locked, tie_key=tie_key, day=day,
                         tranche=tranche, gain_slope=gain_slope, swap_cost=cost)
    sells, buys = choice.sells, choice.buys
    each = np.array([float(shares[c] * close[c]) - sum(rules.fees(float(shares[c] * close[c]), date, True))
                     for c in sells], dtype="float64")
    proceeds = 0.0
    for v in each:  # summed in order, as the sells are submitted
        proceeds += float(v)
    if not len(buys):
        return DayOrders(sells, buys, np.zeros(0), proceeds=proceeds, sell_proceeds=each, joins=choice.joins,
                         tranche=choice.tranche)
    budget = buy_budget(cash, equity, proceeds, config.cash_buffer)
    target = equal_weight_value(equity, config.k, config.cash_buffer)
    names = None if symbols is None else [symbols[c] for c in buys]
    prices = close[buys]

    def spread(amount: float) -> np.ndarray:
        return spread_budget(amount, prices, rules.lot, rules.commission, names, cap=target)

    plan = DayPlan(spread=spread, budget=budget)
    return DayOrders(sells, buys, plan.values().copy(), target, proceeds, budget, each, plan, choice.joins,
                     choice.tranche)


def threshold_orders(p_up: float, held: bool, member: bool, cash: float, equity: float,
                     config: ThresholdConfig) -> DayOrders:
    """The threshold strategy's orders for its one instrument (position 0): a non-member is never
    bought and a holding that left the index is sold whatever the prediction says (after its exit
    there are none, so the threshold would keep it); else :func:`threshold_action`, a buy spending
    all equity but the cash buffer, within the cash."""
    one = np.zeros(1, dtype=np.intp)
    if not member:
        return DayOrders(one if held else _none(), _none(), np.zeros(0))
    action = threshold_action(p_up, held, config.upper, config.lower)
    if action == SELL:
        return DayOrders(one, _none(), np.zeros(0))
    if action == BUY:
        budget = min(equal_weight_value(equity, 1, config.cash_buffer),
                     buy_budget(cash, equity, 0.0, config.cash_buffer))
        return DayOrders(_none(), one, np.array([budget]), target=budget, budget=budget)
    return DayOrders(_none(), _none(), np.zeros(0))

"""The pure target functions, without Cerebro."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.settings import SettingError, build, spec_of
from strategies import (
    CostModel,
    StrategyConfigError,
    ThresholdConfig,
    TopKConfig,
    threshold_action,
    topk_select,
    topk_targets,
)
from strategies.rules import AShareRules, Commission, LotRule
from strategies.targets import (
    StrategyConfig,
    buy_budget,
    equal_weight_value,
    spread_budget,
    symbol_codes,
    tie_keys,
    topk_orders,
)

NAN = float("nan")


def plain(**kw) -> TopKConfig:
    """TopK settings without tranches, the rank buffer, the minimum holding period, score smoothing
    and the cost-aware rule (unless given)."""
    return TopKConfig(**{"buffer": 0, "min_hold": 0, "hold_days": 1, "score_halflife": 0.0, "cost_aware": False, **kw})


def test_first_day_fills_all_k_slots_best_first():
    d = topk_targets({"A": 0.9, "B": 0.2, "C": 0.7, "D": 0.8}, [], plain(k=3, max_replace=1))
    assert d.buys == ("A", "D", "C")
    assert d.sells == ()


def test_max_replace_limits_swaps_worst_first():
    p = {"A": 0.1, "B": 0.2, "C": 0.3, "D": 0.9, "E": 0.8, "F": 0.7}
    d = topk_targets(p, ["A", "B", "C"], plain(k=3, max_replace=2))
    assert d.sells == ("A", "B")  # the two worst held
    assert d.buys == ("D", "E")  # the two best not held
    assert d.targets(["A", "B", "C"]) == {"C", "D", "E"}


def test_held_names_in_the_top_are_kept():
    p = {"A": 0.9, "B": 0.2, "C": 0.8, "D": 0.75}
    d = topk_targets(p, ["A", "C"], plain(k=2, max_replace=5))
    assert d.sells == () and d.buys == ()


def test_leaver_is_sold_and_does_not_count_against_max_replace():
    p = {"A": 0.9, "B": 0.1, "C": 0.2, "D": 0.8, "E": 0.7}
    d = topk_targets(p, ["A", "B", "C"], plain(k=3, max_replace=1), members=["A", "B", "C", "D", "E"][1:])
    # A left the index: sold whatever its score; B (worst) is the one voluntary swap
    assert d.sells == ("A", "B")
    assert d.buys == ("D", "E")


def test_suspended_holding_is_kept_and_keeps_its_slot():
    # B is held but suspended today (not eligible, no prediction): kept, so only 1 slot competes
    d = topk_targets({"A": 0.5, "C": 0.9}, ["A", "B"], plain(k=2, max_replace=3), eligible=["A", "C"])
    assert d.sells == ("A",)
    assert d.buys == ("C",)


def test_a_held_tradable_name_without_a_score_ranks_lowest():
    # B is held and tradable but the table has no row for it: it ranks below A, so it is the one
    # replaced by C (before: kept with its slot, and A was sold instead)
    d = topk_targets({"A": 0.5, "C": 0.9}, ["A", "B"], plain(k=2, max_replace=3))
    assert d.sells == ("B",)
    assert d.buys == ("C",)
    # the option keeps it
    d = topk_targets({"A": 0.5, "C": 0.9}, ["A", "B"], plain(k=2, max_replace=3, missing="hold"))
    assert (d.sells, d.buys) == (("A",), ("C",))
    # no better candidate: a name without a score is kept while a slot is free for it
    d = topk_targets({"A": 0.5}, ["A", "B"], plain(k=2, max_replace=3))
    assert (d.sells, d.buys) == ((), ())


def test_rank_buffer_keeps_holdings_within_k_plus_buffer():
    p = {"A": 0.9, "B": 0.8, "C": 0.7, "D": 0.6, "E": 0.5}
    # held C (3rd) and D (4th), k = 2: without a buffer both go for A and B
    assert topk_targets(p, ["C", "D"], plain(k=2, max_replace=5)).sells == ("D", "C")
    # top 2 + 1: C stays, D goes (A fills the free slot)
    d = topk_targets(p, ["C", "D"], plain(k=2, max_replace=5, buffer=1))
    assert (d.sells, d.buys) == (("D",), ("A",))
    # top 2 + 2: both stay, nothing to buy
    d = topk_targets(p, ["C", "D"], plain(k=2, max_replace=5, buffer=2))
    assert (d.sells, d.buys) == ((), ())


def test_min_hold_locks_recent_buys_against_replacement_only():
    p = {"A": 0.9, "B": 0.1}
    cfg = plain(k=1, max_replace=1, min_hold=3)
    assert topk_targets(p, ["B"], cfg, held_days={"B": 2}).sells == ()
    assert topk_targets(p, ["B"], cfg, held_days={"B": 3}).sells == ("B",)
    # an exit from the index is never delayed
    assert topk_targets(p, ["B"], cfg, members=["A"], held_days={"B": 0}).sells == ("B",)


def test_tie_keys_are_a_seeded_shuffle_of_the_day():
    codes = symbol_codes(["SH600000", "SH600004"])
    # fixed numbers: the same in every process (no salted hash), whatever else is in the table
    assert int(codes[0]) == 8977407616857598292
    assert int(tie_keys(0, "2022-03-02", codes)[0]) == 8791333741144034359
    assert np.array_equal(tie_keys(0, "2022-03-02", codes), tie_keys(0, pd.Timestamp("2022-03-02"), codes))
    assert tie_keys(0, "2022-03-02", codes[:1])[0] == tie_keys(0, "2022-03-02", codes)[0]
    assert not np.array_equal(tie_keys(0, "2022-03-02", codes), tie_keys(1, "2022-03-02", codes))
    # no symbol is favoured: over 400 days of a two-way tie, the earlier symbol wins about half
    days = pd.bdate_range("2020-01-01", periods=400)
    wins = sum(topk_targets({"SH600000": 0.5, "SH600004": 0.5}, [], plain(k=1), date=d).buys == ("SH600000",)
               for d in days)
    assert 160 < wins < 240
    # without a date (research code), ties go to the earlier symbol
    assert topk_targets({"SH600004": 0.5, "SH600000": 0.5}, [], plain(k=1)).buys == ("SH600000",)


def test_spread_budget_invests_the_rounding_left_by_earlier_names():
    lot, comm = LotRule(), Commission()
    # 980,000 over two names at 10.00: 490,000 buys 48,900 (489,122.25 with commission); the
    # second share is 980,000 - 489,122.25 = 490,877.75, which buys 49,000
    v = spread_budget(980_000.0, np.array([10.0, 10.0]), lot, comm)
    assert v.tolist() == pytest.approx([490_000.0, 490_877.75])
    assert [lot.lots_for_value(x, 10.0, comm) for x in v] == [48_900, 49_000]
    # a name whose share buys no lot spends nothing: its share passes on
    v = spread_budget(100_000.0, np.array([1_800.0, 10.0]), lot, comm)
    assert v.tolist() == pytest.approx([50_000.0, 100_000.0])
    assert spread_budget(-5.0, np.array([10.0]), lot, comm).tolist() == [-5.0]


def test_spread_budget_caps_each_buy_in_its_boards_lots():
    """The cap carries what each name's own lots leave: a STAR name's single shares leave less."""
    lot, comm = LotRule(), Commission()
    # 490,000 at 1,200 on STAR: 408 shares (489,600 + 122.40 commission), carrying 277.60
    v = spread_budget(1_000_000.0, np.array([1_200.0, 10.0]), lot, comm, ["SH688001", "SH600000"], cap=490_000.0)
    assert v.tolist() == pytest.approx([490_000.0, 490_277.6])
    # in main-board lots it would be 400 shares (480,120 with commission), carrying 9,880
    v = spread_budget(1_000_000.0, np.array([1_200.0, 10.0]), lot, comm, cap=490_000.0)
    assert v.tolist() == pytest.approx([490_000.0, 499_880.0])


def test_topk_orders_sell_first_then_share_the_budget_among_the_buys():
    """k=2 from a book of one low-ranked name: its sale at the close (less its fees) joins the cash
    above the 2% buffer, and the two buys share it, the STAR name sized in single shares."""
    cfg, rules = TopKConfig(k=2, max_replace=2, buffer=0, min_hold=0, hold_days=1,
                            score_halflife=0.0, cost_aware=False), AShareRules.from_costs()
    syms = ["SH600000", "SH688001", "SZ000001"]
    scores = np.array([0.9, 0.8, 0.1])
    shares = np.array([0.0, 0.0, 1_000.0])
    close = np.array([10.0, 1_200.0, 20.0])
    no = np.zeros(3, dtype=bool)
    day = pd.Timestamp("2025-06-20")
    o = topk_orders(scores, shares, close, no, np.ones(3, dtype=bool), no, 980_000.0, 1_000_000.0, cfg, rules, day,
                    np.arange(3), syms)
    assert o.sells.tolist() == [2] and o.buys.tolist() == [0, 1]
    # 20,000 CNY sold: commission 5 (minimum) and stamp duty 0.05% = 10 -> 19,985
    assert o.proceeds == pytest.approx(19_985.0)
    # budget 980,000 + 19,985 - 2% x 1,000,000 = 979,985; one name's full weight 490,000
    assert o.budget == pytest.approx(979_985.0) and o.target == pytest.approx(490_000.0)
    # first 489,992.50: 48,900 shares cost 489,122.25; the rest, 490,862.75, goes to the STAR name
    assert o.values.tolist() == pytest.approx([489_992.5, 490_862.75])
    assert rules.lot.lots_for_value(o.values[1], 1_200.0, rules.commission, "SH688001") == 408


def test_topk_orders_review_one_tranche_refill_an_exit_and_cap_each_buy():
    """k=4 in hold_days=2 tranches of 2, day 0: tranche 0 is reviewed. Name 0 (tranche 0) ranks last
    and is dropped; name 1 (tranche 1) ranks low too but is locked; name 2 (tranche 1) left the index
    and is sold, its slot refilled into tranche 1. Three buys: two into tranche 0, one refill."""
    cfg = TopKConfig(k=4, max_replace=2, buffer=0, min_hold=0, hold_days=2, score_halflife=0.0, cost_aware=False)
    rules = AShareRules.from_costs()
    scores = np.array([0.1, 0.2, 0.5, 0.9, 0.8, 0.7])
    shares = np.array([1_000.0, 1_000.0, 1_000.0, 0.0, 0.0, 0.0])
    close = np.full(6, 10.0)
    exits = np.array([False, False, True, False, False, False])
    day = pd.Timestamp("2025-06-20")
    o = topk_orders(scores, shares, close, exits, np.ones(6, dtype=bool), np.zeros(6, dtype=bool), 20_000.0,
                    50_000.0, cfg, rules, day, np.arange(6), [f"SH60000{c}" for c in range(6)], day=0,
                    tranche=np.array([0, 1, 1, -1, -1, -1]))
    assert o.sells.tolist() == [2, 0] and o.buys.tolist() == [3, 4, 5]
    assert o.tranche == 0 and o.joins.tolist() == [0, 0, 1]
    # each sale: 10,000 less 5 commission and 5 duty (0.05%) = 9,990; budget 20,000 + 19,980 - 2% x 50,000
    assert o.sell_proceeds.tolist() == [9_990.0, 9_990.0] and o.budget == pytest.approx(38_980.0)
    # one name's weight 50,000 x 0.98 / 4 = 12,250: the first buy is capped there (1,200 shares cost
    # 12,005, carrying 245); the second at 12,250 + 245; the third at 12,250 + 490
    assert o.target == pytest.approx(12_250.0)
    assert o.values.tolist() == pytest.approx([12_250.0, 12_495.0, 12_740.0])
    # the day plan re-spreads what a refused sale leaves: 38,980 - 9,990 = 28,990
    plan = o.plan.fresh()
    plan.missing += 9_990.0
    assert plan.values().tolist() == pytest.approx([28_990.0 / 3, 9_992.5, 10_980.0])
    # day 1 reviews tranche 1: name 0 is locked there, name 1 may go
    o1 = topk_orders(scores, shares, close, np.zeros(6, dtype=bool), np.ones(6, dtype=bool), np.zeros(6, dtype=bool),
                     20_000.0, 50_000.0, cfg, rules, day, np.arange(6), day=1, tranche=np.array([0, 1, 1, -1, -1, -1]))
    assert o1.sells.tolist() == [1] and o1.tranche == 1


def test_ineligible_names_are_not_bought():
    d = topk_targets({"A": 0.9, "B": 0.8, "C": 0.7}, [], plain(k=2, max_replace=1), eligible=["B", "C"])
    assert d.buys == ("B", "C")


def test_ties_broken_by_position():
    sells, buys = topk_select(np.array([0.5, 0.5, 0.5]), np.zeros(3, bool), np.zeros(3, bool), 2, 1)
    assert list(buys) == [0, 1]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.floats(0, 1), st.just(NAN)), min_size=1, max_size=30),
    st.data(),
    st.integers(1, 10),
    st.integers(1, 5),
)
def test_topk_invariants(scores, data, k, max_replace):
    n = len(scores)
    held = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    exit_ = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n))) & held
    s = np.array(scores)
    sells, buys = topk_select(s, held, exit_, k, max_replace)
    sells_set, buys_set = set(sells.tolist()), set(buys.tolist())
    assert len(sells_set) == len(sells) and len(buys_set) == len(buys)
    assert sells_set <= set(np.flatnonzero(held).tolist())  # only held names are sold
    assert set(np.flatnonzero(exit_).tolist()) <= sells_set  # every leaver is sold
    assert not (buys_set & set(np.flatnonzero(held).tolist()))  # never buy what is held
    assert all(np.isfinite(s[b]) for b in buys)  # only scored names are bought
    assert len(sells_set - set(np.flatnonzero(exit_).tolist())) <= max_replace
    after = (set(np.flatnonzero(held).tolist()) - sells_set) | buys_set
    assert len(after) <= max(k, int(held.sum()))
    # a bought name outranks every voluntarily sold one
    voluntary = sells_set - set(np.flatnonzero(exit_).tolist())
    if buys_set and voluntary:
        worst_sold = max(s[v] if np.isfinite(s[v]) else -np.inf for v in voluntary)  # no score: lowest
        assert min(s[b] for b in buys_set) >= worst_sold


@settings(max_examples=400, deadline=None)
@given(st.lists(st.one_of(st.floats(0, 1), st.just(NAN)), min_size=1, max_size=30), st.data(),
       st.integers(1, 10), st.integers(1, 5), st.integers(0, 5), st.sampled_from(["lowest", "hold"]))
def test_topk_invariants_with_buffer_locks_and_ties(scores, data, k, max_replace, buffer, missing):
    n = len(scores)
    draw = lambda: np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))  # noqa: E731
    held, exit_, locked, tradable = draw(), draw(), draw(), draw()
    exit_ &= held
    s = np.round(np.array(scores), 1)  # coarse scores: many ties
    key = np.array(data.draw(st.permutations(list(range(n)))))
    sells, buys = topk_select(s, held, exit_, k, max_replace, tradable=tradable, buffer=buffer,
                              locked=locked & held, tie_key=key, missing=missing)
    sold, bought = set(sells.tolist()), set(buys.tolist())
    voluntary = sold - set(np.flatnonzero(exit_).tolist())
    assert set(np.flatnonzero(exit_).tolist()) <= sold
    assert not voluntary & set(np.flatnonzero(locked).tolist())  # a locked holding is only sold to exit
    assert not voluntary & set(np.flatnonzero(~tradable).tolist())  # nor is a suspended one
    assert all(np.isfinite(s[b]) and tradable[b] and not held[b] for b in bought)
    if missing == "hold":  # a holding without a score is never replaced
        assert all(np.isfinite(s[v]) for v in voluntary)
    # a voluntarily sold name ranks below every bought one (ties: by key)
    for v in voluntary:
        for b in bought:
            assert not np.isfinite(s[v]) or (s[b], -key[b]) > (s[v], -key[v])
    # a holding within the top k + buffer of the scored tradable names is never sold voluntarily
    ranked = sorted((i for i in range(n) if np.isfinite(s[i]) and tradable[i] and not exit_[i]),
                    key=lambda i: (-s[i], key[i]))
    unscored = held & ~exit_ & ~(np.isfinite(s) & tradable)
    kept_unranked = unscored if missing == "hold" else unscored & ~tradable
    assert not voluntary & set(ranked[: max(k - int(kept_unranked.sum()), 0) + buffer])


def test_threshold_actions():
    assert threshold_action(0.6, False, 0.55, 0.45) == "buy"
    assert threshold_action(0.6, True, 0.55, 0.45) == "hold"
    assert threshold_action(0.5, True, 0.55, 0.45) == "hold"
    assert threshold_action(0.5, False, 0.55, 0.45) == "hold"
    assert threshold_action(0.4, True, 0.55, 0.45) == "sell"
    assert threshold_action(0.4, False, 0.55, 0.45) == "hold"
    assert threshold_action(NAN, True, 0.55, 0.45) == "hold"


def test_sizing_helpers():
    assert equal_weight_value(1_000_000.0, 20, 0.02) == pytest.approx(49_000.0)
    assert buy_budget(10_000.0, 1_000_000.0, 60_000.0, 0.02) == pytest.approx(50_000.0)


@pytest.mark.parametrize(
    ("cls", "kwargs", "field"),
    [
        (TopKConfig, {"k": 0}, "k"),
        (TopKConfig, {"k": 1001}, "k"),
        (TopKConfig, {"k": 2.5}, "k"),
        (TopKConfig, {"k": True}, "k"),
        (TopKConfig, {"max_replace": 0}, "max_replace"),
        (TopKConfig, {"cash_buffer": 0.6}, "cash_buffer"),
        (TopKConfig, {"buffer": -1}, "buffer"),
        (TopKConfig, {"min_hold": 251}, "min_hold"),
        (TopKConfig, {"missing": "drop"}, "missing"),
        (TopKConfig, {"tie_seed": -1}, "tie_seed"),
        (TopKConfig, {"cash_buffer": float("nan")}, "cash_buffer"),
        (ThresholdConfig, {"upper": 0.4, "lower": 0.6}, "lower"),
        (ThresholdConfig, {"upper": 1.5}, "upper"),
        (ThresholdConfig, {"symbol": "600519"}, "symbol"),
        (ThresholdConfig, {"cash_buffer": -0.1}, "cash_buffer"),
        (CostModel, {"commission_rate": float("inf")}, "commission_rate"),
    ],
)
def test_config_validation_names_the_field(cls, kwargs, field):
    with pytest.raises(SettingError, match=rf"{cls.__name__}\.{field} = "):
        cls(**kwargs)


def test_defaults_and_ranges_are_declared_once():
    assert (TopKConfig().k, TopKConfig().max_replace, TopKConfig().cash_buffer) == (30, 10, 0.02)
    t = ThresholdConfig()
    assert (t.symbol, t.upper, t.lower, t.cash_buffer) == (None, 0.52, 0.48, 0.02)
    # one definition of cash_buffer, inherited by both strategies (keyword-only, last)
    assert spec_of(TopKConfig, "cash_buffer") is spec_of(ThresholdConfig, "cash_buffer")
    assert issubclass(TopKConfig, StrategyConfig) and issubclass(ThresholdConfig, StrategyConfig)
    assert TopKConfig(5, 2) == TopKConfig(k=5, max_replace=2)
    # max_replace >= k is allowed: no limit on the swaps
    assert TopKConfig(k=3, max_replace=50).max_replace == 50
    # what the command line does with a TOML table
    assert build(ThresholdConfig, {"symbol": "auto", "upper": 0.6}) == ThresholdConfig(upper=0.6)
    assert build(TopKConfig, {"k": 20.0}).k == 20


def test_config_errors_are_config_errors():
    from core.errors import ConfigError

    with pytest.raises(ConfigError):
        TopKConfig(k=0)
    assert issubclass(StrategyConfigError, ConfigError) and issubclass(SettingError, ValueError)

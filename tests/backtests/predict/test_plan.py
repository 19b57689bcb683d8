"""The next session's targets and orders on a hand-made market, every field computed by hand.

Four names, k = 2 (no buffer, no minimum holding period): two new buys (a main-board name and a
STAR name) replace two holdings, one of which was bought on the session the orders are for (T+1).
Decision day Fri 2025-06-20 (the data to its close), orders for the open of Mon 2025-06-23."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from backtests.predict.holdings import Book
from backtests.predict.plan import plan_next_session
from core.errors import ConfigError
from strategies import CostModel, ThresholdConfig, TopKConfig

from ...strategies.conftest import make_market

DAYS = ["2025-06-18", "2025-06-19", "2025-06-20", "2025-06-23"]
D, F = pd.Timestamp("2025-06-20"), pd.Timestamp("2025-06-23")


def market():
    # (open, close): the decision day's closes are 10, 50, 20 and 30; the next session opens at
    # 10.50 (fills), 60.00 (the STAR name's limit up: 50 x 1.2), 18.00 (limit down: 20 x 0.9), 31.00
    return make_market(DAYS, {
        "SH600000": [(9.8, 9.9), (9.9, 10.0), (10.0, 10.0), (10.5, 10.8)],
        "SH688001": [(48.0, 49.0), (49.0, 49.5), (49.5, 50.0), (60.0, 60.0)],
        "SZ000001": [(20.5, 20.4), (20.4, 20.2), (20.2, 20.0), (18.0, 18.1)],
        "SZ300001": [(29.0, 29.5), (29.5, 29.8), (29.8, 30.0), (31.0, 30.5)],
    })


def book():
    lots = pd.DataFrame({"symbol": ["SZ000001", "SZ300001"], "shares": [1_000.0, 500.0],
                         "bought": pd.to_datetime(["2025-06-10", "2025-06-23"])})
    return Book(cash=100_000.0, lots=lots, source="test")


SCORES = pd.Series({"SH600000": 0.9, "SH688001": 0.8, "SZ300001": 0.2, "SZ000001": 0.1})
CFG = TopKConfig(k=2, max_replace=2, buffer=0, min_hold=0, hold_days=1, score_halflife=0.0, cost_aware=False)


@pytest.fixture(scope="module")
def plan():
    return plan_next_session(market(), SCORES, book(), CFG, CostModel(), D, F)


def test_orders_every_field(plan):
    o = plan.orders.set_index("symbol")
    # the sells, then the buys best first
    assert list(plan.orders["symbol"]) == ["SZ000001", "SZ300001", "SH600000", "SH688001"]
    assert list(plan.orders["order"]) == [1, 2, 3, 4] and list(plan.orders["side"]) == ["sell", "sell", "buy", "buy"]
    # the sells: SZ000001 whole (1,000 at 20.00: commission 5 minimum, stamp duty 0.05% = 10);
    # SZ300001 bought on the fill day: not sellable then (T+1), not placed
    a = o.loc["SZ000001"]
    assert (a.requested, a.shares, a.price, a.value) == (1_000, 1_000, 20.0, 20_000.0)
    assert (a.commission, a.stamp_duty, a.status, a.reason) == (5.0, 10.0, "place", "")
    assert a.refused_at_open_if == "open <= 18.00 (limit down), or no trading that day"
    b = o.loc["SZ300001"]
    assert (b.requested, b.shares, b.value, b.status, b.reason) == (500, 0, 0.0, "not placed", "t_plus_1")
    # equity 100,000 + 1,000 x 20 + 500 x 30 = 135,000; the strategy counts on both sales:
    # 19,985 + 14,987.50 (15,000 less 5 commission and 7.50 duty) = 34,972.50; budget
    # 100,000 + 34,972.50 - 2% x 135,000 = 132,272.50; one name's full weight 135,000 x 0.98 / 2 = 66,150
    assert plan.facts["equity"] == 135_000.0 and plan.facts["budget"] == pytest.approx(132_272.5)
    assert plan.facts["sell_proceeds"] == pytest.approx(34_972.5)
    assert plan.facts["one_name_value"] == pytest.approx(66_150.0)
    # the T+1 sale will not deliver its 14,987.50: the day plan takes it out of the budget before the
    # buys are sized, as the backtest's broker does, leaving 117,285.00; the first share, 58,642.50,
    # buys 5,800 at 10.00 (58,000 + 14.50 commission), carrying 628.00
    c = o.loc["SH600000"]
    assert (c.requested, c.shares, c.price, c.value, c.status, c.reason) == (5_800, 5_800, 10.0, 58_000.0, "place", "")
    assert c.commission == pytest.approx(14.5) and c.stamp_duty == 0.0
    assert c.refused_at_open_if == "open >= 11.00 (limit up), or no trading that day"
    # the rest, 59,270.50 (below the cap 66,150 + 628), buys 1,185 STAR shares at 50.00 (59,250 +
    # 14.8125 commission), which the cash at its fill, 100,000 + 19,985 - 58,014.50 = 61,970.50, affords
    d = o.loc["SH688001"]
    assert (d.requested, d.shares, d.price, d.value, d.status, d.reason) == \
        (1_185, 1_185, 50.0, 59_250.0, "place", "")
    assert d.commission == pytest.approx(14.8125) and d.refused_at_open_if.startswith("open >= 60.00 (limit up)")
    assert d["rank"] == 2 and d.score == 0.8 and d["name"] == "SH688001"
    assert plan.facts["cash_after"] == pytest.approx(2_705.6875)
    assert (plan.facts["placed"], plan.facts["not_placed"]) == (3, 1)


def test_realised_outcome_of_each_order(plan):
    """The next session's real open: the sale meets the limit down, the STAR buy the limit up, the
    main-board buy fills at 10.50 within the cash, sized on what the day really has."""
    o = plan.orders.set_index("symbol")
    assert o["next_open"].tolist() == [18.0, 31.0, 10.5, 60.0]
    assert o["next_close"].tolist() == [18.1, 30.5, 10.8, 60.0]
    assert o["outcome"].tolist() == ["limit_down", "t_plus_1", "filled", "limit_up"]
    # neither sale delivers: 132,272.50 - 34,972.50 = 97,300.00, the first share 48,650.00 buys 4,800
    # at the decision close of 10.00 (48,000 + 12 commission)
    assert o["filled_shares"].tolist() == [0, 0, 4_800, 0]
    assert o.loc["SH600000", "fill_price"] == 10.5 and np.isnan(o.loc["SH688001", "fill_price"])
    # 100,000 - 4,800 x 10.50 - 12.60 commission
    assert plan.facts["realised_cash_after"] == pytest.approx(49_587.4)


def test_targets_every_field(plan):
    t = plan.targets.set_index("symbol")
    assert list(plan.targets["symbol"]) == ["SH600000", "SH688001", "SZ300001", "SZ000001"]  # by rank
    assert t["rank"].tolist() == [1, 2, 3, 4] and t["score"].tolist() == [0.9, 0.8, 0.2, 0.1]
    assert t["board"].tolist() == ["main", "star", "chinext", "main"]
    assert t["held_shares"].tolist() == [0, 0, 500, 1_000]
    assert t["action"].tolist() == ["buy", "buy", "sell", "sell"]
    assert t["target_shares"].tolist() == [5_800, 1_185, 500, 0]
    # the value at the reference price over the equity of 135,000
    assert t["target_weight"].tolist() == pytest.approx([58_000 / 135_000, 59_250 / 135_000, 15_000 / 135_000, 0.0])
    assert t["ref_price"].tolist() == [10.0, 50.0, 30.0, 20.0]
    # main board 10%, STAR 20%, ChiNext 20% (since 2020-08-24), rounded to the fen
    assert t["limit_up"].tolist() == [11.0, 60.0, 36.0, 22.0]
    assert t["limit_down"].tolist() == [9.0, 40.0, 24.0, 18.0]
    assert t.loc["SZ300001", "note"] == "500 shares bought on 2025-06-23: not sellable that day (T+1)"
    assert t.loc["SH600000", "note"] == ""
    assert t["next_open"].tolist() == [10.5, 60.0, 31.0, 18.0]


def test_a_holding_that_left_the_index_is_sold_and_a_recent_one_is_kept():
    md = make_market(DAYS, {
        "SH600000": [(10, 10)] * 4, "SH600004": [(10, 10)] * 4, "SZ000001": [(20, 20)] * 4},
        members={"SH600000": (DAYS[0], None), "SH600004": (DAYS[0], None), "SZ000001": (DAYS[0], "2025-06-20")})
    lots = pd.DataFrame({"symbol": ["SZ000001", "SH600004"], "shares": [300.0, 200.0],
                         "bought": pd.to_datetime(["2025-06-02", "2025-06-19"])})
    p = plan_next_session(md, pd.Series({"SH600000": 0.9, "SH600004": 0.1}), Book(50_000.0, lots, "test"),
                          TopKConfig(k=1, max_replace=1, buffer=0, min_hold=2, hold_days=1,
                                     score_halflife=0.0, cost_aware=False), CostModel(), D, F)
    t = p.targets.set_index("symbol")
    assert t.loc["SZ000001", "action"] == "sell" and "left the CSI-300" in t.loc["SZ000001", "note"]
    # SH600004 was bought on 06-19, held 1 trading day by the decision: min_hold 2 keeps it
    assert t.loc["SH600004", "action"] == "keep" and "min_hold = 2" in t.loc["SH600004", "note"]
    assert list(p.orders["symbol"]) == ["SZ000001"]  # no buy: SH600004 keeps the one slot


def test_a_threshold_study_holds_its_one_symbol_only():
    md = make_market(DAYS, {"SH600000": [(10, 10)] * 4, "SH600004": [(10, 10)] * 4})
    lots = pd.DataFrame({"symbol": ["SH600004"], "shares": [100.0], "bought": pd.to_datetime(["2025-06-02"])})
    with pytest.raises(ConfigError, match="trades SH600000 alone, but the book holds"):
        plan_next_session(md, pd.Series({"SH600000": 0.9}), Book(50_000.0, lots, "test"),
                          ThresholdConfig(symbol="SH600000"), CostModel(), D, F)
    p = plan_next_session(md, pd.Series({"SH600000": 0.9}), Book(50_000.0), ThresholdConfig(symbol="SH600000"),
                          CostModel(), D, F)
    # above upper 0.52: all equity but the 2% buffer, 49,000 at 10.00 -> 4,800 shares (4,899 before lots)
    assert p.orders[["side", "shares", "status"]].values.tolist() == [["buy", 4_800, "place"]]


def test_an_ex_rights_day_at_the_fill_is_named_beside_the_holding():
    # a 10-for-100 bonus on the fill day: the factor goes from 1.0 to 1.1, the open from 20.00 to 18.20
    md = make_market(DAYS, {"SH600000": [(10, 10)] * 4,
                            "SZ000001": [(20, 20, 1e6, 1.0)] * 3 + [(18.2, 18.3, 1e6, 1.1)]})
    lots = pd.DataFrame({"symbol": ["SZ000001"], "shares": [1_000.0], "bought": pd.to_datetime(["2025-06-02"])})
    p = plan_next_session(md, pd.Series({"SH600000": 0.9, "SZ000001": 0.8}), Book(0.0, lots, "test"),
                          TopKConfig(k=2, max_replace=1, buffer=0, min_hold=0, hold_days=1,
                                     score_halflife=0.0, cost_aware=False), CostModel(), D, F)
    note = p.targets.set_index("symbol").loc["SZ000001", "note"]
    assert note == ("ex-rights on 2025-06-23: the position becomes floor(1000 x 1.1000) shares before the open; "
                    "the realised columns keep 1000")


def _paced_book(tranches=None, start="2025-06-18"):
    lots = pd.DataFrame({"symbol": ["SH600004", "SH600009"], "shares": [1_000.0, 1_000.0],
                         "bought": pd.to_datetime(["2025-06-19", "2025-06-20"])})
    if tranches is not None:
        lots["tranche"] = tranches
    return Book(0.0, lots, "test", cycle_start=None if start is None else pd.Timestamp(start))


PACED = TopKConfig(k=2, max_replace=2, buffer=0, min_hold=0, hold_days=2, score_halflife=0.0, cost_aware=False)
FLAT = {s: [(10, 10)] * 4 for s in ("SH600000", "SH600004", "SH600009", "SH600010")}
LOW = pd.Series({"SH600000": 0.9, "SH600010": 0.8, "SH600004": 0.2, "SH600009": 0.1})


def test_the_review_cycle_of_a_book_counts_from_its_day_0():
    """hold_days 2, k 2: one slot a tranche. Day 0 is 06-18, so the decision day 06-20 is day 2 and
    reviews tranche 0. Both holdings rank outside the top 2. SH600004 was bought on 06-19, decided on
    06-18 (day 0, tranche 0): it is replaced by the best name; SH600009, bought on 06-20 (decided on
    day 1, tranche 1), is kept though it ranks last."""
    p = plan_next_session(make_market(DAYS, FLAT), LOW, _paced_book(), PACED, CostModel(), D, F)
    assert (p.facts["cycle_start"], p.facts["cycle_day"], p.facts["tranche_reviewed"]) == ("2025-06-18", 2, 0)
    assert list(zip(p.orders["side"], p.orders["symbol"], strict=True)) == [("sell", "SH600004"), ("buy", "SH600000")]
    t = p.targets.set_index("symbol")
    assert t.loc["SH600009", "action"] == "keep"
    assert t.loc["SH600009", "note"] == "in tranche 1, not reviewed today (tranche 0 is reviewed today): kept"
    # the buy joins the reviewed tranche; the holdings file of the next day carries it
    assert t.loc["SH600000", "tranche"] == 0 and t.loc["SH600009", "tranche"] == 1
    assert pd.isna(t.loc["SH600004", "tranche"]) and pd.isna(t.loc["SH600010", "tranche"])
    # equity 20,000; the sale brings 10,000 - 5 commission - 5 duty = 9,990; budget 9,990 - 2% x 20,000
    # = 9,590, below one name's weight 9,800: 900 shares at 10.00 (9,005 with commission)
    buy = p.orders.set_index("symbol").loc["SH600000"]
    assert p.facts["budget"] == pytest.approx(9_590.0) and (buy.requested, buy.shares) == (900, 900)


def test_the_holdings_file_tranche_wins_over_the_buy_day():
    """A refill joins the tranche of the name it replaced, which its buy day cannot tell: the file's
    tranche column says so. Here it swaps the two: SH600009 is then in the reviewed tranche 0."""
    p = plan_next_session(make_market(DAYS, FLAT), LOW, _paced_book([1, 0]), PACED, CostModel(), D, F)
    assert list(zip(p.orders["side"], p.orders["symbol"], strict=True)) == [("sell", "SH600009"), ("buy", "SH600000")]
    # without a day 0, the book's earliest purchase (06-19) was decided on 06-18: the same cycle
    p = plan_next_session(make_market(DAYS, FLAT), LOW, _paced_book(start=None), PACED, CostModel(), D, F)
    assert (p.facts["cycle_start"], p.facts["tranche_reviewed"]) == ("2025-06-18", 0)
    assert list(p.orders["symbol"]) == ["SH600004", "SH600000"]
    # day 0 on 06-19 makes 06-20 day 1, reviewing tranche 1; SH600004 was decided on day -1, which is
    # tranche 1 too: with rebalance_every 1 the name reviewed is the one decided hold_days sessions ago,
    # whatever day 0 is (day 0 names the tranches, and so which of them has the larger share of k)
    p = plan_next_session(make_market(DAYS, FLAT), LOW, _paced_book(start="2025-06-19"), PACED, CostModel(), D, F)
    assert (p.facts["cycle_day"], p.facts["tranche_reviewed"]) == (1, 1)
    assert list(p.orders["symbol"]) == ["SH600004", "SH600000"]
    assert p.targets.set_index("symbol").loc["SH600009", "tranche"] == 0


def test_a_bad_cycle_is_refused_with_its_fix():
    with pytest.raises(ConfigError, match=r"SH600004 is in tranche 5, but strategy.topk.hold_days = 2 has tranches"):
        plan_next_session(make_market(DAYS, FLAT), LOW, _paced_book([5, 0]), PACED, CostModel(), D, F)
    with pytest.raises(ConfigError, match=r"--cycle-start 2025-06-23 is after the decision day 2025-06-20"):
        plan_next_session(make_market(DAYS, FLAT), LOW, _paced_book(start="2025-06-23"), PACED, CostModel(), D, F)
    with pytest.raises(ConfigError, match=r"--cycle-start 2025-06-02 is before the data's first day 2025-06-18"):
        plan_next_session(make_market(DAYS, FLAT), LOW, _paced_book(start="2025-06-02"), PACED, CostModel(), D, F)

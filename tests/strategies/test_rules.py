"""Each A-share rule class on hand-computed numbers, and the proof that the backtest's market
arrays are these very classes' output (one implementation per rule)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from core.settings import SettingError
from strategies import (
    Commission,
    CostModel,
    LotRule,
    PriceLimit,
    Slippage,
    StampDuty,
    Suspension,
    TPlusOne,
    build_arrays,
)
from strategies.rules import AShareRules, BuyValue, FillFacts, check_fill, round_fen, size_buy


# ----------------------------------------------------------------------------- commission
def test_commission_rate_per_side():
    # 100,000 CNY x 0.025% = 25 CNY (above the 5 CNY minimum)
    assert Commission().fee(100_000.0) == pytest.approx(25.0, abs=1e-12)
    assert Commission(rate=0.0003).fee(50_000.0) == pytest.approx(15.0, abs=1e-12)


def test_commission_minimum_five_cny():
    # 10,000 CNY x 0.025% = 2.5 CNY -> the 5 CNY minimum
    assert Commission().fee(10_000.0) == 5.0
    # break-even value: 5 / 0.00025 = 20,000 CNY
    assert Commission().fee(20_000.0) == pytest.approx(5.0)
    assert Commission().fee(20_400.0) == pytest.approx(5.1)
    assert Commission().fee(0.0) == 0.0


# ----------------------------------------------------------------------------- stamp duty
def test_stamp_duty_halved_from_2023_08_28():
    duty = StampDuty()
    # a 100,000 CNY sell: 100 CNY on Friday 2023-08-25, 50 CNY on Monday 2023-08-28
    assert duty.fee(100_000.0, "2023-08-25", is_sell=True) == pytest.approx(100.0, abs=1e-12)
    assert duty.fee(100_000.0, "2023-08-28", is_sell=True) == pytest.approx(50.0, abs=1e-12)
    assert duty.rate(pd.Timestamp("2023-08-27")) == 0.001
    assert duty.rate(pd.Timestamp("2023-08-28")) == 0.0005


def test_stamp_duty_not_on_buys():
    assert StampDuty().fee(100_000.0, "2020-01-02", is_sell=False) == 0.0
    c, d = AShareRules.from_costs().fees(100_000.0, pd.Timestamp("2023-08-25"), is_sell=False)
    assert (c, d) == (25.0, 0.0)


def test_a_gross_cost_model_charges_nothing():
    gross = AShareRules.from_costs(CostModel(commission_rate=0.0, min_commission=0.0, stamp_duty=False))
    assert gross.fees(100_000.0, pd.Timestamp("2023-08-25"), is_sell=True) == (0.0, 0.0)
    # the default still charges the dated duty: 0.1% of a 100,000 CNY sell before 2023-08-28
    assert AShareRules.from_costs().fees(100_000.0, pd.Timestamp("2023-08-25"), is_sell=True) == (25.0, 100.0)
    with pytest.raises(SettingError, match="CostModel.stamp_duty = 1"):
        CostModel(stamp_duty=1)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------- lots
def test_buys_round_down_to_whole_lots():
    lot = LotRule()
    assert lot.buy_shares(1_999) == 1_900
    assert lot.buy_shares(100) == 100
    assert lot.buy_shares(99) == 0
    assert lot.buy_shares(2_000) == 2_000


def test_full_position_sells_in_odd_lots_partial_in_whole_lots():
    lot = LotRule()
    assert lot.sell_shares(1_234, 1_234) == 1_234  # the whole position: odd lot allowed
    assert lot.sell_shares(5_000, 1_234) == 1_234  # never more than held
    assert lot.sell_shares(1_150, 1_234) == 1_100  # partial: whole lots
    assert lot.sell_shares(50, 1_234) == 0


def test_lots_for_value_includes_commission():
    lot, comm = LotRule(), Commission()
    # 19,600 CNY at 10.00: 1,900 shares cost 19,000 + 5 (minimum) = 19,005 <= 19,600
    assert lot.lots_for_value(19_600.0, 10.0, comm) == 1_900
    # 100,000 CNY at 10.00: 10,000 shares would cost 100,025 > 100,000 -> 9,900
    assert lot.lots_for_value(100_000.0, 10.0, comm) == 9_900
    # 1,000 CNY at 10.05 cannot buy one lot (1,005 + 5)
    assert lot.lots_for_value(1_000.0, 10.05, comm) == 0


def test_star_market_orders_are_200_shares_or_more_in_single_shares():
    lot, star = LotRule(), "SH688001"
    assert lot.sizes(star) == (200, 1) and lot.sizes("SZ300750") == (100, 100) and lot.sizes() == (100, 100)
    assert lot.buy_shares(199.9, star) == 0
    assert lot.buy_shares(200, star) == 200
    assert lot.buy_shares(1_234.7, star) == 1_234
    assert lot.buy_shares(1_234.7, "SZ300750") == 1_200  # ChiNext keeps lots of 100
    assert lot.sell_shares(150, 150, star) == 150  # emptying the position: any size
    assert lot.sell_shares(150, 1_000, star) == 0  # a partial sell below 200 shares
    assert lot.sell_shares(250.5, 1_000, star) == 250


def test_star_lots_for_value_include_commission():
    lot, comm = LotRule(), Commission()
    # 250,000 CNY at 1,200: 250,000 / (1,200 x 1.00025) = 208.28 -> 208 shares cost
    # 249,600 + 62.40 = 249,662.40; the main-board rule would buy 200
    assert lot.lots_for_value(250_000.0, 1_200.0, comm, "SH688256") == 208
    assert lot.lots_for_value(250_000.0, 1_200.0, comm) == 200
    # 240,059 CNY buys 199.99 shares before commission: below the 200-share minimum
    assert lot.lots_for_value(240_059.0, 1_200.0, comm, "SH688256") == 0
    # at 5.00 the 5 CNY minimum commission binds: 1,009 CNY -> 201 shares would cost 1,005 + 5 = 1,010,
    # so 200 (1,000 + 5); 1,010 CNY buys the 201
    assert lot.lots_for_value(1_009.0, 5.0, comm, "SH688001") == 200
    assert lot.lots_for_value(1_010.0, 5.0, comm, "SH688001") == 201


# ----------------------------------------------------------------------------- one order at its fill
def test_check_fill_sizes_a_buy_by_value_then_trims_it_to_the_cash_at_the_open():
    rules = AShareRules.from_costs()
    # 50,000 CNY at the decision close 10.00: 50,000 / 10.0025 = 4,998.75 -> 4,900 shares
    wish = BuyValue(value=50_000.0, target=60_000.0, price=10.0)
    facts = FillFacts(open=10.2, high=10.5, low=10.0, upper=11.0, lower=9.0)
    chk = check_fill(rules, True, wish.wanted, facts, symbol="SH600000", cash=30_000.0, wish=wish)
    # 30,000 CNY at the open 10.20: 30,000 / (10.2 x 1.00025) = 2,940.4 -> 2,900 (29,580 + 7.40 commission)
    assert (chk.size, chk.price, chk.reason, chk.requested) == (2_900, 10.2, None, 4_900)
    assert chk.trims == ((2_000, "cash"),) and chk.filled
    blocked = check_fill(rules, True, wish.wanted, FillFacts(11.0, 11.0, 11.0, 11.0, 9.0, buy_blocked=True),
                         wish=wish)
    assert (blocked.size, blocked.reason, blocked.requested) == (0.0, "limit_up", 4_900)
    # a share of the budget that buys no lot: cash when the full weight would buy one, else lot
    assert check_fill(rules, True, 500.0, facts, wish=BuyValue(500.0, 5_000.0, 10.0)).reason == "cash"
    assert check_fill(rules, True, 80.0, facts, wish=BuyValue(500.0, 800.0, 10.0)).reason == "lot"
    assert size_buy(BuyValue(0.0, 5_000.0, 10.0), rules) == (0, "cash")
    assert check_fill(rules, True, 100, FillFacts(10.0, 10.0, 10.0, suspended=True)).reason == "suspended"
    assert check_fill(rules, True, 100, FillFacts(10.0, 10.0, 10.0, member=False)).reason == "not_member"


def test_check_fill_sells_respect_t_plus_1_lots_and_the_lower_limit():
    rules = AShareRules.from_costs(CostModel(slippage=0.01))
    facts = FillFacts(open=10.0, high=10.2, low=9.95, upper=11.0, lower=9.0)
    # 400 of 1,000 shares were bought on the fill day: 600 may go; slippage 1% -> 9.90, inside [9.95, ...]: 9.95
    chk = check_fill(rules, False, 1_000, facts, symbol="SH600000", position=1_000, bought_today=400)
    assert (chk.size, chk.price, chk.trims) == (600, 9.95, ((400, "t_plus_1"),))
    # STAR: 150 sellable of 300 is a partial sell below 200 shares: refused for its lot
    star = check_fill(rules, False, 300, facts, symbol="SH688001", position=300, bought_today=150)
    assert (star.reason, star.trims) == ("lot", ((150, "t_plus_1"),))
    assert check_fill(rules, False, 300, facts, position=300, bought_today=300).reason == "t_plus_1"
    low = FillFacts(open=9.0, high=9.2, low=9.0, upper=11.0, lower=9.0, sell_blocked=True)
    assert check_fill(rules, False, 300, low, position=300).reason == "limit_down"
    # slippage on a buy never crosses the upper limit: 10.00 x 1.01 = 10.10, high 10.20, limit 10.05
    up = check_fill(rules, True, 100, FillFacts(10.0, 10.2, 9.9, upper=10.05, lower=9.0), cash=1e6)
    assert up.price == 10.05


def test_check_fill_caps_an_order_at_its_share_of_the_days_volume_in_the_boards_lots():
    rules = AShareRules.from_costs()  # participation 10%
    facts = FillFacts(open=10.0, high=10.0, low=10.0, volume=25_550.0)
    # 10% of 25,550 = 2,555 shares: 2,500 on the main board (lots of 100), 2,555 on STAR (single shares)
    main = check_fill(rules, True, 5_000, facts, symbol="SH600000", cash=1e9)
    assert (main.size, main.trims) == (2_500, ((2_500, "volume"),))
    star = check_fill(rules, True, 5_000, facts, symbol="SH688001", cash=1e9)
    assert (star.size, star.trims) == (2_555, ((2_445, "volume"),))
    # a sell: not one lot fits in 10% of 900 shares -> refused for volume
    thin = FillFacts(open=10.0, high=10.0, low=10.0, volume=900.0)
    assert check_fill(rules, False, 1_000, thin, symbol="SH600000", position=1_000).reason == "volume"
    # a position of 150 above the cap of 90 leaves no lot to sell; one of 80 fits: sold whole, an odd lot
    assert check_fill(rules, False, 150, thin, position=150, symbol="SH600000").reason == "volume"
    assert check_fill(rules, False, 80, thin, position=80, symbol="SH600000").size == 80


def test_check_fill_prices_the_square_root_impact_and_affords_the_moved_price():
    rules = AShareRules.from_costs(CostModel(impact=1.0))
    # 10,000 shares of a day of 1,000,000 at a daily volatility of 2%: 1 x 0.02 x sqrt(0.01) = 0.2%
    facts = FillFacts(open=10.0, high=10.0, low=10.0, volume=1_000_000.0, volatility=0.02)
    buy = check_fill(rules, True, 10_000, facts, symbol="SH600000", cash=1e9)
    assert buy.price == pytest.approx(10.02) and buy.impact == pytest.approx(200.0)
    sell = check_fill(rules, False, 10_000, facts, symbol="SH600000", position=10_000)
    assert sell.price == pytest.approx(9.98) and sell.impact == pytest.approx(200.0)
    # 50,000 CNY: at the moved 10.02 only 4,900 shares are affordable (49,098 + 12.27 commission);
    # the smaller fill moves the price less: 0.02 x sqrt(4,900 / 1,000,000) = 0.14%, 10.014
    short = check_fill(rules, True, 10_000, facts, symbol="SH600000", cash=50_000.0)
    assert (short.size, short.trims) == (4_900, ((5_100, "cash"),))
    assert short.price == pytest.approx(10.014) and short.impact == pytest.approx(0.014 * 4_900)
    # no volatility known, or no impact coefficient: the open
    assert check_fill(rules, True, 100, FillFacts(10.0, 10.0, 10.0, volume=1e6), cash=1e9).price == 10.0


def test_a_sell_reports_the_budgeted_proceeds_it_will_not_deliver():
    rules = AShareRules.from_costs()
    facts = FillFacts(open=10.0, high=10.0, low=10.0)
    # 400 of 1,000 bought on the fill day: 600 sold, 400/1,000 of the 9,985 CNY budgeted is missing
    part = check_fill(rules, False, 1_000, facts, position=1_000, bought_today=400, proceeds=9_985.0)
    assert part.size == 600 and part.undelivered == pytest.approx(3_994.0)
    low = FillFacts(open=9.0, high=9.0, low=9.0, lower=9.0, sell_blocked=True)
    assert check_fill(rules, False, 1_000, low, position=1_000, proceeds=9_985.0).undelivered == 9_985.0
    whole = check_fill(rules, False, 1_000, facts, position=1_000, proceeds=9_985.0)
    assert whole.undelivered == 0.0 and whole.size == 1_000


def test_a_buy_by_value_takes_its_share_of_what_the_day_plan_still_has():
    from strategies.rules import DayPlan

    rules = AShareRules.from_costs()
    # two buys share the budget equally (a toy spread); a refused sale took 20,000 out of 100,000
    plan = DayPlan(spread=lambda budget: np.array([budget / 2, budget / 2]), budget=100_000.0)
    first = BuyValue(value=50_000.0, target=60_000.0, price=10.0, plan=plan, slot=0)
    assert first.value_at_fill() == 50_000.0
    plan.missing += 20_000.0
    # 40,000 CNY at 10.00: 40,000 / 10.0025 = 3,999.0 -> 3,900 shares
    assert first.value_at_fill() == 40_000.0 and size_buy(first, rules) == (3_900, None)
    chk = check_fill(rules, True, first.wanted, FillFacts(10.0, 10.0, 10.0), cash=1e9, wish=first)
    assert (chk.requested, chk.size) == (3_900, 3_900)
    assert plan.fresh().values().tolist() == [50_000.0, 50_000.0]


# ----------------------------------------------------------------------------- T+1
def test_t_plus_1_sellable():
    t1 = TPlusOne()
    assert t1.sellable(1_000, 1_000) == 0  # all bought today
    assert t1.sellable(1_500, 1_000) == 500
    assert t1.sellable(800, 0) == 800


# ----------------------------------------------------------------------------- price limits
def test_round_fen_half_up():
    assert round_fen(10.005) == 10.01  # binary 10.00499.. still rounds up
    assert round_fen(10.004) == 10.0
    assert round_fen(11.0) == 11.0


@pytest.mark.parametrize(
    ("symbol", "date", "pct"),
    [
        ("SH600000", "2020-08-21", 0.10),  # main board
        ("SH600000", "2020-08-24", 0.10),
        ("SZ000001", "2024-01-02", 0.10),
        ("SZ300750", "2020-08-21", 0.10),  # ChiNext before the reform
        ("SZ300750", "2020-08-24", 0.20),  # ChiNext from 2020-08-24
        ("SH688981", "2020-07-16", 0.20),  # STAR
    ],
)
def test_limit_pct_by_board_and_date(symbol, date, pct):
    assert PriceLimit().pct(symbol, date) == pct


def test_no_limit_in_first_five_listed_days():
    pl = PriceLimit()
    for day in range(1, 6):
        assert math.isnan(pl.pct("SH601229", "2019-06-03", listed_days=day))
    assert pl.pct("SH601229", "2019-06-03", listed_days=6) == 0.10


def test_limit_prices_from_ex_rights_reference():
    pl = PriceLimit()
    # plain day: previous close 10.00 -> 11.00 / 9.00 on the main board
    assert pl.limit_prices(pl.reference_price(10.0), 0.10) == (11.0, 9.0)
    # ChiNext 20%: 12.00 / 8.00
    assert pl.limit_prices(pl.reference_price(10.0), 0.20) == (12.0, 8.0)
    # odd close: 10.37 x 1.1 = 11.407 -> 11.41; x 0.9 = 9.333 -> 9.33
    assert pl.limit_prices(10.37, 0.10) == (11.41, 9.33)
    # 10-for-10 bonus issue: factor 1 -> 2, previous close 20.00 -> reference 10.00
    assert pl.reference_price(20.0, 1.0, 2.0) == 10.0
    # cash dividend of 0.50 on a 25.00 close: factor ratio 25 / 24.5
    ref = pl.reference_price(25.0, 1.0, 25.0 / 24.5)
    assert ref == 24.5
    assert pl.limit_prices(ref, 0.10) == (26.95, 22.05)


def test_blocks_at_the_limit_only():
    pl = PriceLimit()
    assert pl.blocks_buy(11.0, 11.0)
    assert not pl.blocks_buy(10.99, 11.0)
    assert pl.blocks_sell(9.0, 9.0)
    assert not pl.blocks_sell(9.01, 9.0)
    assert not pl.blocks_buy(50.0, float("nan"))  # no limit (new listing)


def test_suspension():
    s = Suspension()
    assert s.is_suspended(0.0) is True
    assert s.is_suspended(float("nan"))
    assert s.is_suspended(None)
    assert s.is_suspended(100.0, has_bar=False)
    assert s.is_suspended(100.0) is False


# ----------------------------------------------------------------------------- arrays
def test_rules_take_arrays_like_scalars():
    pl = PriceLimit()
    # pct broadcasts symbols (columns) against dates (rows); nan listed_days = listed long ago
    syms = np.array(["SH600000", "SZ300750", "SH688981"], dtype=object)[None, :]
    dates = pd.DatetimeIndex(["2020-08-21", "2020-08-24"]).to_numpy()[:, None]
    pct = pl.pct(syms, dates, np.array([[np.nan, 3, np.nan], [np.nan, np.nan, 6]]))
    np.testing.assert_array_equal(pct, [[0.10, np.nan, 0.20], [0.10, 0.20, 0.20]])
    ref = pl.reference_price(np.array([10.0, 20.0, np.nan]), np.array([1.0, 1.0, 1.0]), np.array([1.0, 2.0, 1.0]))
    np.testing.assert_array_equal(ref, [10.0, 10.0, np.nan])
    upper, lower = pl.limit_prices(ref, np.array([0.10, 0.20, 0.10]))
    np.testing.assert_array_equal(upper, [11.0, 12.0, np.nan])
    np.testing.assert_array_equal(lower, [9.0, 8.0, np.nan])
    opens = np.array([11.0, 11.99, 50.0])
    np.testing.assert_array_equal(pl.blocks_buy(opens, upper), [True, False, False])
    np.testing.assert_array_equal(pl.blocks_sell(np.array([9.0, 8.01, np.nan]), lower), [True, False, False])
    np.testing.assert_array_equal(Suspension().is_suspended(np.array([0.0, np.nan, 5.0, 5.0]),
                                                            np.array([True, True, True, False])),
                                  [True, True, False, True])
    # scalars come back as Python scalars
    assert isinstance(pl.pct("SH600000", "2020-08-21"), float)
    assert isinstance(pl.blocks_buy(11.0, 11.0), bool)


@pytest.mark.parametrize(("start", "end"), [
    ("2020-08-17", "2020-09-30"),  # ChiNext's 20% reform on 2020-08-24
    ("2024-09-20", "2025-01-15"),  # limit-up opens of October 2024, a listing on 2024-12-30
])
def test_market_arrays_are_the_rule_classes_output(md, start, end):
    """What the backtest reads (build_arrays) equals the scalar rules applied cell by cell to the
    raw snapshot: the previous bar's close and factor, the listing age, the day's open and volume."""
    cal = md.calendar
    start, end = pd.Timestamp(start), pd.Timestamp(end)
    wide = build_arrays(md, list(md.symbols), start, end)
    picked = {"SH600000", "SH600519", "SZ300750", "SZ300014", "SH688981"} & set(md.symbols)
    for kind in (wide.buy_blocked, wide.sell_blocked, wide.suspended, np.isnan(wide.upper)):
        picked |= {wide.symbols[c] for c in np.flatnonzero(kind.any(axis=0))[:4]}  # a few of each
    syms = sorted(picked)
    A = build_arrays(md, syms, start, end)
    pl, su = PriceLimit(), Suspension()
    b = md.bars[md.bars.symbol.astype(str).isin(syms)]
    bars = {(d, str(s)): (o, v) for d, s, o, v in b[["date", "symbol", "open", "volume"]].itertuples(index=False)}
    close, factor = md.panel("close").ffill(), md.panel("factor").ffill().bfill()
    listing = md.listing_dates()
    seen = {"cells": 0, "blocked": 0, "suspended": 0, "no limit": 0}
    for c, s in enumerate(syms):
        first = listing.get(s)
        k = close.columns.get_loc(s)
        for r, d in enumerate(A.dates):
            i = cal.get_loc(d)
            bar = bars.get((d, s))
            suspended = su.is_suspended(None if bar is None else bar[1], bar is not None)
            age = None if pd.isna(first) else i - cal.get_loc(first) + 1
            ref = pl.reference_price(close.iat[i - 1, k], factor.iat[i - 1, k], factor.iat[i, k])
            upper, lower = pl.limit_prices(ref, pl.pct(s, d, age))
            o = float("nan") if bar is None else bar[0]
            assert A.suspended[r, c] == suspended, (d, s)
            np.testing.assert_equal((A.upper[r, c], A.lower[r, c]), (upper, lower), err_msg=f"{d} {s}")
            assert A.buy_blocked[r, c] == pl.blocks_buy(o, upper), (d, s)
            assert A.sell_blocked[r, c] == pl.blocks_sell(o, lower), (d, s)
            seen["cells"] += 1
            seen["blocked"] += int(A.buy_blocked[r, c] or A.sell_blocked[r, c])
            seen["suspended"] += int(suspended)
            seen["no limit"] += int(math.isnan(upper))
    assert seen["cells"] >= 300 and all(seen.values()), seen  # every kind of day was compared


def test_slippage_against_the_trader_inside_the_range():
    sl = Slippage(rate=0.001)
    assert sl.fill_price(True, 10.0, 10.5, 9.5) == pytest.approx(10.01)
    assert sl.fill_price(False, 10.0, 10.5, 9.5) == pytest.approx(9.99)
    assert sl.fill_price(True, 10.0, 10.0, 9.5) == 10.0  # capped at the high
    assert Slippage().fill_price(True, 10.0, 10.5, 9.5) == 10.0


@pytest.mark.parametrize(
    "kwargs", [{"commission_rate": -0.1}, {"commission_rate": 0.5}, {"min_commission": -1}, {"slippage": 0.2},
               {"slippage": float("nan")}, {"min_commission": True}]
)
def test_cost_model_rejects_out_of_range(kwargs):
    with pytest.raises(SettingError, match=f"CostModel.{next(iter(kwargs))} = "):
        CostModel(**kwargs)

"""The rules as Backtrader executes them, on tiny hand-made markets with hand-computed numbers.

Conventions of these markets: prices in CNY, volume 1e6 shares, factor 1 unless a test says
otherwise. A Threshold strategy with ``upper=0.55, lower=0.45, cash_buffer=0.02`` buys with
p_up 0.9 and sells with p_up 0.1; the order fills at the next day's open.
"""

from __future__ import annotations

import backtrader as bt
import numpy as np
import pandas as pd
import pytest

from core.settings import SettingError
from core.timing import FILL_LAG
from strategies import (
    AShareStrategy,
    CostModel,
    PredictionsError,
    StrategyConfigError,
    ThresholdConfig,
    TopKConfig,
    run_backtest,
    simulate,
)
from strategies.arrays import build_arrays
from strategies.rules import AShareRules

from .conftest import make_market, preds

FLAT = (10.0, 10.0)


def threshold(md, rows, symbol="SH600000", cash=1_000_000.0, costs=None):
    return run_backtest(md, preds(rows), strategy=ThresholdConfig(symbol=symbol, upper=0.55, lower=0.45,
                                                                  cash_buffer=0.02),
                        costs=costs, initial_cash=cash, progress=False)


def one(df: pd.DataFrame) -> dict:
    assert len(df) == 1, df
    return df.iloc[0].to_dict()


# ----------------------------------------------------------------------------- stamp duty
AUG23 = ["2023-08-22", "2023-08-23", "2023-08-24", "2023-08-25", "2023-08-28", "2023-08-29"]


@pytest.mark.parametrize(("sell_decision", "fill", "duty", "final_cash"), [
    ("2023-08-24", "2023-08-25", 979.00, 998_531.50),  # 0.1% before the cut
    ("2023-08-25", "2023-08-28", 489.50, 999_021.00),  # 0.05% from 2023-08-28
])
def test_stamp_duty_on_a_sell_before_and_after_2023_08_28(sell_decision, fill, duty, final_cash):
    md = make_market(AUG23, {"SH600000": [FLAT] * 6})
    res = threshold(md, [("2023-08-22", "SH600000", 0.9), (sell_decision, "SH600000", 0.1)])
    # buy: budget 980,000 at 10.00 incl. 0.025% -> 979 lots = 97,900 shares, 979,000 CNY
    buy = one(res.trades[res.trades.side == "buy"])
    assert buy["date"] == pd.Timestamp("2023-08-23")
    assert (buy["shares"], buy["price"], buy["value"]) == (97_900, 10.0, 979_000.0)
    assert buy["commission"] == pytest.approx(244.75, abs=1e-9)
    assert buy["stamp_duty"] == 0.0
    sell = one(res.trades[res.trades.side == "sell"])
    assert sell["date"] == pd.Timestamp(fill)
    assert sell["commission"] == pytest.approx(244.75, abs=1e-9)
    assert sell["stamp_duty"] == pytest.approx(duty, abs=1e-9)
    # 1,000,000 - 979,244.75 + 979,000 - 244.75 - duty
    assert res.cash.loc[fill] == pytest.approx(final_cash, abs=1e-6)
    assert res.equity.loc[fill] == pytest.approx(final_cash, abs=1e-6)


# ----------------------------------------------------------------------------- commission, lots
def test_small_order_pays_the_5_cny_minimum_and_whole_lots():
    days = ["2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04"]
    md = make_market(days, {"SH600000": [FLAT] * 4})
    res = threshold(md, [("2022-03-01", "SH600000", 0.9), ("2022-03-02", "SH600000", 0.1)], cash=20_000.0)
    buy, sell = (one(res.trades[res.trades.side == s]) for s in ("buy", "sell"))
    # budget 19,600: 1,959.5 shares -> 1,900 (whole lots); 19,000 x 0.025% = 4.75 -> 5.00
    assert buy["shares"] == 1_900
    assert buy["commission"] == 5.0
    assert res.cash.loc["2022-03-02"] == pytest.approx(20_000 - 19_000 - 5.0, abs=1e-9)
    # sell: commission 5.00 (minimum) + 0.1% duty 19.00
    assert (sell["commission"], sell["stamp_duty"]) == (5.0, pytest.approx(19.0, abs=1e-9))
    assert res.cash.loc["2022-03-03"] == pytest.approx(20_000 - 10.0 - 19.0, abs=1e-9)


def test_buy_below_one_lot_is_refused_with_reason_lot():
    days = ["2022-03-01", "2022-03-02", "2022-03-03"]
    md = make_market(days, {"SH600519": [(1800.0, 1800.0)] * 3})
    res = threshold(md, [("2022-03-01", "SH600519", 0.9)], symbol="SH600519", cash=100_000.0)
    assert res.trades.empty
    r = one(res.rejected)
    assert (r["reason"], r["side"], r["date"]) == ("lot", "buy", pd.Timestamp("2022-03-02"))


# ----------------------------------------------------------------------------- timing and cash
def test_decision_at_close_fills_at_next_open_and_gap_trims_for_cash():
    days = ["2022-03-01", "2022-03-02", "2022-03-03"]
    md = make_market(days, {"SH600000": [FLAT, (10.5, 11.0), (11.0, 11.0)]})
    res = threshold(md, [("2022-03-01", "SH600000", 0.9)])
    buy = one(res.trades)
    # sized at the 10.00 close (97,900 shares), filled at the 10.50 open of the next day:
    # cash affords floor(1,000,000 / (10.5 x 1.00025) / 100) = 952 lots
    assert (buy["date"], buy["price"], buy["shares"]) == (pd.Timestamp("2022-03-02"), 10.5, 95_200)
    r = one(res.rejected)
    assert (r["reason"], r["shares"], r["requested"]) == ("cash", 2_700, 97_900)
    # equity on the fill day is marked at its close (11.00)
    expected = 1_000_000 - 95_200 * 10.5 - 95_200 * 10.5 * 0.00025 + 95_200 * 11.0
    assert res.equity.loc["2022-03-02"] == pytest.approx(expected, abs=1e-6)
    assert res.returns.index[0] == pd.Timestamp("2022-03-02")


def test_slippage_moves_the_fill_against_the_trader():
    days = ["2022-03-01", "2022-03-02", "2022-03-03"]
    md = make_market(days, {"SH600000": [FLAT, (10.0, 10.5), FLAT]})
    res = threshold(md, [("2022-03-01", "SH600000", 0.9)], costs=CostModel(slippage=0.001))
    assert one(res.trades)["price"] == pytest.approx(10.01, abs=1e-12)


def test_slippage_never_crosses_the_price_limit():
    days = ["2022-03-01", "2022-03-02", "2022-03-03"]
    md = make_market(days, {"SH600000": [FLAT, (10.99, 11.0), FLAT]})
    res = threshold(md, [("2022-03-01", "SH600000", 0.9)], costs=CostModel(slippage=0.01))
    # 10.99 x 1.01 = 11.0999, but nothing trades above the 11.00 limit
    assert one(res.trades)["price"] == 11.0


# ----------------------------------------------------------------------------- price limits
BUY_DAYS = ["2020-08-18", "2020-08-19", "2020-08-20", "2020-08-21", "2020-08-24", "2020-08-25"]


@pytest.mark.parametrize(("symbol", "fill", "open_", "refused"), [
    ("SH600000", "2020-08-21", 11.00, True),   # main board: 10.00 x 1.1 = 11.00
    ("SH600000", "2020-08-21", 10.99, False),
    ("SH600000", "2020-08-24", 11.00, True),
    ("SZ300001", "2020-08-21", 11.00, True),   # ChiNext before the reform: 10%
    ("SZ300001", "2020-08-24", 11.00, False),  # ChiNext from 2020-08-24: 20%
    ("SZ300001", "2020-08-24", 12.00, True),
    ("SH688001", "2020-08-21", 11.00, False),  # STAR: 20% since it opened
])
def test_no_buy_at_an_open_on_the_upper_limit(symbol, fill, open_, refused):
    k = BUY_DAYS.index(fill)
    bars = [FLAT] * len(BUY_DAYS)
    bars[k] = (open_, open_)
    md = make_market(BUY_DAYS, {symbol: bars})
    res = threshold(md, [(BUY_DAYS[k - 1], symbol, 0.9)], symbol=symbol)
    if refused:
        assert res.trades.empty
        r = one(res.rejected)
        assert (r["reason"], r["date"], r["side"]) == ("limit_up", pd.Timestamp(fill), "buy")
    else:
        t = one(res.trades)
        assert (t["date"], t["price"]) == (pd.Timestamp(fill), open_)
        assert set(res.rejected["reason"]) <= {"cash"}  # a gap up may trim the size, never refuse


SELL_DAYS = ["2020-08-17", "2020-08-18", "2020-08-19", "2020-08-20", "2020-08-21", "2020-08-24", "2020-08-25"]


@pytest.mark.parametrize(("symbol", "fill", "open_", "refused"), [
    ("SH600000", "2020-08-21", 9.00, True),    # main board: 10.00 x 0.9 = 9.00
    ("SH600000", "2020-08-21", 9.01, False),
    ("SH600000", "2020-08-24", 9.00, True),
    ("SZ300001", "2020-08-21", 9.00, True),    # ChiNext before: 10%
    ("SZ300001", "2020-08-24", 9.00, False),   # ChiNext after: 20% -> 8.00
    ("SZ300001", "2020-08-24", 8.00, True),
])
def test_no_sell_at_an_open_on_the_lower_limit(symbol, fill, open_, refused):
    k = SELL_DAYS.index(fill)
    bars = [FLAT] * len(SELL_DAYS)
    bars[k] = (open_, open_)
    md = make_market(SELL_DAYS, {symbol: bars})
    res = threshold(md, [("2020-08-17", symbol, 0.9), (SELL_DAYS[k - 1], symbol, 0.1)], symbol=symbol)
    sells = res.trades[res.trades.side == "sell"]
    if refused:
        assert sells.empty
        r = one(res.rejected)
        assert (r["reason"], r["date"], r["side"], r["shares"]) == ("limit_down", pd.Timestamp(fill), "sell", 97_900)
    else:
        assert one(sells)["price"] == open_
        assert res.rejected.empty


def test_limit_reference_is_adjusted_for_ex_rights():
    # 10-for-10 bonus issue on 2022-06-02: factor 1 -> 2, so the reference is 20.00 x 1 / 2 = 10.00
    # and the upper limit 11.00 (not 22.00): an open at 11.00 is a limit-up open
    days = ["2022-06-01", "2022-06-02", "2022-06-06"]
    md = make_market(days, {"SH600000": [(20.0, 20.0, 1e6, 1.0), (11.0, 11.0, 1e6, 2.0), (11.0, 11.0, 1e6, 2.0)]})
    res = threshold(md, [("2022-06-01", "SH600000", 0.9)])
    assert one(res.rejected)["reason"] == "limit_up"


def test_no_limit_in_the_first_five_listed_days():
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2021-03-01", periods=10)]
    # listed on day 2; +30% opens on its 3rd listed day (day 4) and +10% on its 6th (day 7)
    bars = [None, None, (10.0, 10.0), (10.0, 10.0), (13.0, 13.0), (13.0, 13.0), (13.0, 13.0),
            (14.3, 14.3), (14.3, 14.3), (14.3, 14.3)]
    md = make_market(days, {"SH601999": bars})
    young = threshold(md, [(days[3], "SH601999", 0.9)], symbol="SH601999")
    assert one(young.trades)["price"] == 13.0
    old = threshold(md, [(days[6], "SH601999", 0.9)], symbol="SH601999")
    assert one(old.rejected)["reason"] == "limit_up"


# ----------------------------------------------------------------------------- suspension
@pytest.mark.parametrize("suspended_bar", [(10.0, 10.0, 0.0), (10.0, 10.0, float("nan")), None])
def test_no_trade_on_a_suspended_day(suspended_bar):
    days = ["2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04"]
    md = make_market(days, {"SH600000": [FLAT, suspended_bar, FLAT, FLAT]})
    res = threshold(md, [("2022-03-01", "SH600000", 0.9), ("2022-03-02", "SH600000", 0.9)])
    r = one(res.rejected)
    assert (r["reason"], r["date"]) == ("suspended", pd.Timestamp("2022-03-02"))
    # decided again after the suspended day's close, filled the day after
    assert one(res.trades)["date"] == pd.Timestamp("2022-03-03")


# ----------------------------------------------------------------------------- T+1
class _SameDayRoundTrip(AShareStrategy):
    """Day 0: buy 1,000 and sell 1,000; day 1: buy 1,000 more and sell 1,500 (each filling at
    the next open, the buy first)."""

    def decide(self, i):
        data = self.feeds[0]
        if i == 0:
            self.buy(data=data, size=1_000)
            self.sell(data=data, size=1_000)
        elif i == 1:
            self.buy(data=data, size=1_000)
            self.sell(data=data, size=1_500)


def test_t_plus_1_refuses_and_trims_sells_of_shares_bought_the_same_day():
    days = ["2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04"]
    md = make_market(days, {"SH600000": [FLAT] * 4})
    arrays = build_arrays(md, ["SH600000"], pd.Timestamp(days[0]), pd.Timestamp(days[-1]))
    j = simulate(arrays, np.full(arrays.shape, np.nan), AShareRules.from_costs(), _SameDayRoundTrip,
                 None, 1_000_000.0)
    # day 1: the 1,000 bought at the open cannot be sold the same day
    assert j.rejected[0][:5] == (1, 0, "sell", 1_000.0, "t_plus_1")
    # day 2: 2,000 held, 1,000 of them bought today -> the 1,500 sell is trimmed to 1,000
    assert j.rejected[1][:5] == (2, 0, "sell", 500.0, "t_plus_1")
    sides = [(t[0], t[2], t[3]) for t in j.trades]
    assert sides == [(1, "buy", 1_000.0), (2, "buy", 1_000.0), (2, "sell", 1_000.0)]
    assert j.shares[0] == 1_000


# ----------------------------------------------------------------------------- membership
def test_buy_of_a_non_member_is_refused_by_the_broker():
    days = ["2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04"]
    md = make_market(days, {"SH600000": [FLAT] * 4, "SH600004": [FLAT] * 4},
                     members={"SH600000": ("2022-03-01", "2022-03-02"), "SH600004": ("2022-03-01", None)})
    # a member on the decision day, not on the fill day (it left the index that day)
    res = run_backtest(md, preds([("2022-03-01", "SH600000", 0.9), ("2022-03-01", "SH600004", 0.1)]),
                       strategy=TopKConfig(k=1, max_replace=1), initial_cash=1e6, progress=False)
    r = one(res.rejected)
    assert (r["reason"], r["symbol"], r["date"]) == ("not_member", "SH600000", pd.Timestamp("2022-03-02"))
    assert res.trades.empty
    # Threshold: the same order, refused at the fill in the same way
    res = threshold(md, [("2022-03-01", "SH600000", 0.9)])
    r = one(res.rejected)
    assert (r["reason"], r["date"], r["requested"]) == ("not_member", pd.Timestamp("2022-03-02"), 97_900)


def test_a_non_member_is_never_a_candidate():
    """A non-member with the best score takes no slot: with k=1 the member is bought at the next
    open and nothing is refused (the broker's membership check would otherwise hide a missing
    decision-time filter behind a not_member refusal and an empty slot)."""
    days = ["2022-03-01", "2022-03-02", "2022-03-03"]
    md = make_market(days, {"SH600000": [FLAT] * 3, "SH600004": [FLAT] * 3},
                     members={"SH600000": ("2022-03-01", None), "SH600004": ("2022-03-04", None)})
    res = run_backtest(md, preds([("2022-03-01", "SH600004", 0.99), ("2022-03-01", "SH600000", 0.6)]),
                       strategy=TopKConfig(k=1, max_replace=1), initial_cash=1e6, progress=False)
    t = one(res.trades)
    cal = md.calendar
    assert (t["symbol"], t["side"], t["date"], t["price"]) == ("SH600000", "buy", cal[FILL_LAG], 10.0)
    assert res.rejected.empty
    # Threshold: a prediction on a day the stock is not a member buys nothing and refuses nothing
    res = threshold(md, [("2022-03-01", "SH600004", 0.99)], symbol="SH600004")
    assert res.trades.empty and res.rejected.empty


def test_topk_sells_a_stock_that_left_the_index():
    days = ["2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04", "2022-03-07"]
    md = make_market(days, {"SH600000": [FLAT] * 5, "SH600004": [FLAT] * 5},
                     members={"SH600000": ("2022-03-01", "2022-03-03"), "SH600004": ("2022-03-01", None)})
    rows = [(d, "SH600000", 0.9) for d in days[:2]] + [(d, "SH600004", 0.5) for d in days[:4]]
    res = run_backtest(md, preds(rows), strategy=TopKConfig(k=1, max_replace=1), initial_cash=1e6, progress=False)
    t = res.trades[["date", "symbol", "side"]].astype(str).values.tolist()
    # bought 03-02; no longer a member on 03-03 -> sold at the 03-04 open, replaced the same day
    assert t == [["2022-03-02", "SH600000", "buy"], ["2022-03-04", "SH600000", "sell"],
                 ["2022-03-04", "SH600004", "buy"]]


def test_threshold_sells_a_stock_that_left_the_index():
    days = ["2022-03-01", "2022-03-02", "2022-03-03", "2022-03-04", "2022-03-07"]
    md = make_market(days, {"SH600000": [FLAT] * 5},
                     members={"SH600000": ("2022-03-01", "2022-03-03")})
    # a p_up in the hold zone after its exit: the threshold rule alone would keep the stock
    res = threshold(md, [("2022-03-01", "SH600000", 0.9), ("2022-03-02", "SH600000", 0.9),
                         ("2022-03-04", "SH600000", 0.5)])
    t = res.trades[["date", "symbol", "side"]].astype(str).values.tolist()
    # bought at the 03-02 open; not a member on 03-03 -> sold at the 03-04 open
    assert t == [["2022-03-02", "SH600000", "buy"], ["2022-03-04", "SH600000", "sell"]]
    assert res.positions["date"].max() == pd.Timestamp("2022-03-03")
    assert res.rejected.empty


# ----------------------------------------------------------------------------- ex-rights holdings
def test_bonus_shares_keep_the_holding_value():
    days = ["2022-06-01", "2022-06-02", "2022-06-06", "2022-06-07"]
    md = make_market(days, {"SH600000": [(20.0, 20.0, 1e6, 1.0), (20.0, 20.0, 1e6, 1.0),
                                         (10.0, 10.0, 1e6, 2.0), (10.0, 10.0, 1e6, 2.0)]})
    res = threshold(md, [("2022-06-01", "SH600000", 0.9), ("2022-06-02", "SH600000", 0.5),
                         ("2022-06-06", "SH600000", 0.5)])
    shares = res.positions.set_index("date")["shares"]
    assert shares.loc["2022-06-02"] == 48_900  # 980,000 / (20 x 1.00025) -> 489 lots
    assert shares.loc["2022-06-06"] == 97_800  # 10-for-10: doubled on the ex-date
    a = one(res.corporate_actions)
    assert (a["shares_before"], a["shares_after"], a["cash"]) == (48_900, 97_800, 0.0)
    assert res.returns.loc["2022-06-06"] == pytest.approx(0.0, abs=1e-15)


# ----------------------------------------------------------------------------- contract errors
def _md2():
    days = ["2022-03-01", "2022-03-02", "2022-03-03"]
    return make_market(days, {"SH600000": [FLAT] * 3, "SH600004": [FLAT] * 3})


def test_duplicate_rows_are_named_with_the_fix():
    p = pd.DataFrame({"date": pd.to_datetime(["2022-03-01"] * 3), "symbol": ["SH600000", "SH600000", "SH600004"],
                      "p_up": [0.6, 0.4, 0.5], "model": ["lstm", "lstm", "lstm"]})
    with pytest.raises(PredictionsError, match=r"2 rows with a repeated \(date, symbol\)") as e:
        run_backtest(_md2(), p, progress=False)
    assert "SH600000" in str(e.value) and "model" in str(e.value)


def test_several_models_are_refused():
    p = pd.DataFrame({"date": pd.to_datetime(["2022-03-01"] * 2), "symbol": ["SH600000"] * 2,
                      "p_up": [0.6, 0.4], "model": ["lstm", "logistic"]})
    with pytest.raises(PredictionsError, match=r"2 models .*filter by the model column"):
        run_backtest(_md2(), p, progress=False)


@pytest.mark.parametrize(("frame", "match"), [
    (pd.DataFrame({"date": ["2022-03-05"], "symbol": ["SH600000"], "p_up": [0.5]}), "off the trading calendar"),
    (pd.DataFrame({"date": ["2022-03-01"], "symbol": ["SH999999"], "p_up": [0.5]}), "no bars"),
    (pd.DataFrame({"date": ["2022-03-01"], "symbol": ["SH600000"], "p_up": [1.5]}), r"outside \[0, 1\]"),
    (pd.DataFrame({"date": ["2022-03-01"], "symbol": ["SH600000"]}), "lack column"),
    (pd.DataFrame({"date": [], "symbol": [], "p_up": []}), "empty"),
])
def test_bad_predictions_tables(frame, match):
    with pytest.raises(PredictionsError, match=match):
        run_backtest(_md2(), frame, progress=False)


def test_bad_arguments():
    p = preds([("2022-03-01", "SH600000", 0.9)])
    for cash in (0, 5_000.0, float("nan"), float("inf"), True, "1e6"):
        with pytest.raises(SettingError, match="run_backtest.initial_cash"):
            run_backtest(_md2(), p, initial_cash=cash, progress=False)
    with pytest.raises(StrategyConfigError, match="strategy="):
        run_backtest(_md2(), p, strategy="topk", progress=False)
    with pytest.raises(PredictionsError, match="no prediction rows"):
        run_backtest(_md2(), p, strategy=ThresholdConfig(symbol="SH600004"), progress=False)
    with pytest.raises(StrategyConfigError, match="no bars"):
        run_backtest(_md2(), p, strategy=ThresholdConfig(symbol="SH600009"), progress=False)


def test_threshold_without_a_symbol_trades_the_one_symbol_of_the_table():
    two = preds([("2022-03-01", "SH600000", 0.9), ("2022-03-01", "SH600004", 0.9)])
    res = run_backtest(_md2(), two[two.symbol == "SH600004"], strategy=ThresholdConfig(), progress=False)
    assert one(res.trades)["symbol"] == "SH600004"
    with pytest.raises(PredictionsError, match=r"has 2 symbols.*ThresholdConfig\(symbol="):
        run_backtest(_md2(), two, strategy=ThresholdConfig(), progress=False)


class _LimitOrder(AShareStrategy):
    """Day 0: a limit buy, which Backtrader alone would fill by its own rules."""

    def decide(self, i):
        if i == 0:
            self.buy(data=self.feeds[0], size=1_000, exectype=bt.Order.Limit, price=FLAT[0] * 1.5)


def test_an_order_other_than_market_is_refused_with_the_reason_not_filled_past_the_rules():
    days = ["2022-03-01", "2022-03-02", "2022-03-03"]
    md = make_market(days, {"SH600000": [FLAT] * 3})
    arrays = build_arrays(md, ["SH600000"], pd.Timestamp(days[0]), pd.Timestamp(days[-1]))
    with pytest.raises(StrategyConfigError, match=r"Limit orders are not modelled.*place market orders"):
        simulate(arrays, np.full(arrays.shape, np.nan), AShareRules.from_costs(), _LimitOrder, None, 1_000_000.0)

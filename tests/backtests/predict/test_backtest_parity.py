"""The next session's orders are the backtest's: on the real snapshot, a TopK backtest with every
pace setting (tranches, rebalancing every other day, smoothed scores, the cost-aware rule, impact,
a STAR name) records the orders it places each day; the book it holds at a day's close, the scores
before it and the cycle's day 0 give ``plan_next_session`` the same orders, and its realised
columns are the backtest's fills of the next session."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.predict.holdings import Book
from backtests.predict.plan import plan_next_session
from strategies import CostModel, TopKConfig, engine, run_backtest
from strategies.rules import AShareRules
from strategies.scores import momentum_predictions

SYMBOLS = ["SH600519", "SH600036", "SH601318", "SZ000858", "SZ000333", "SH600276", "SZ300750", "SH601166",
           "SZ000001", "SH600030", "SH688981", "SH688111", "SH600000", "SH600016", "SH601888", "SZ002594"]
CFG = TopKConfig(k=5, max_replace=2, buffer=0, min_hold=0, hold_days=3, rebalance_every=2, score_halflife=3.0,
                 cost_aware=True, gain_horizon=5)
COSTS = CostModel(impact=0.5)
RULES = AShareRules.from_costs(COSTS)


@pytest.fixture(scope="module")
def backtest():
    import data_store

    md = data_store.load(use_cache=False)
    preds = momentum_predictions(md, 20, start="2024-09-02", end="2025-01-27")
    preds = preds.loc[preds["symbol"].isin(SYMBOLS), ["date", "symbol", "p_up"]].reset_index(drop=True)
    placed: dict[pd.Timestamp, tuple] = {}
    one_path = engine.topk_orders

    def record(*args, **kw):  # the orders TopKStrategy submits, with the book they came from
        out = one_path(*args, **kw)
        placed[pd.Timestamp(args[10])] = (out, kw["tranche"].copy())
        return out

    mp = pytest.MonkeyPatch()
    mp.setattr(engine, "topk_orders", record)
    try:
        res = run_backtest(md, preds, strategy=CFG, costs=COSTS, progress=False)
    finally:
        mp.undo()
    return md, preds, res, placed


def _book(res, day: pd.Timestamp, start: pd.Timestamp) -> Book:
    """The backtest's book at the close of ``day``: each position with the day its shares were bought."""
    pos = res.positions[res.positions["date"] == day]
    buys = res.trades[(res.trades["side"] == "buy") & (res.trades["date"] <= day)]
    bought = buys.groupby("symbol", observed=True)["date"].max()
    syms = pos["symbol"].astype(str).to_numpy()
    lots = pd.DataFrame({"symbol": syms, "shares": pos["shares"].to_numpy(dtype=float),
                         "bought": pd.DatetimeIndex(bought.reindex(syms).to_numpy())})
    return Book(cash=float(res.cash[day]), lots=lots, source="backtest", cycle_start=start)


@pytest.mark.parametrize("day", ["2024-11-12", "2024-11-13", "2024-11-18", "2025-01-16"])
def test_predict_places_the_backtests_orders(backtest, day):
    """Review days with swaps (2024-11-12 and -18, 2025-01-16; the cost-aware slope fitted) and a day
    between rebalances (2024-11-13: nothing), each from the backtest's own book of that close."""
    md, preds, res, placed = backtest
    day = pd.Timestamp(day)
    start = preds["date"].min()  # the backtest's first decision day: day 0 of its review cycle
    cal = md.calendar
    fill = cal[cal.get_loc(day) + 1]
    book = _book(res, day, start)
    plan = plan_next_session(md, preds[preds["date"] == day].set_index("symbol")["p_up"], book, CFG, COSTS, day,
                             fill, history=preds[preds["date"] < day])
    orders, tranche = placed[day]
    names = sorted(preds["symbol"].unique())
    want = [("sell", names[c]) for c in orders.sells] + [("buy", names[c]) for c in orders.buys]
    assert list(zip(plan.orders["side"], plan.orders["symbol"], strict=True)) == want
    assert plan.facts["budget"] == pytest.approx(orders.budget, rel=1e-12, abs=1e-6)
    assert plan.facts["one_name_value"] == pytest.approx(orders.target, rel=1e-12, abs=1e-6)
    # each buy asks for the lots its share of the day plan buys at the decision close
    buys = plan.orders[plan.orders["side"] == "buy"]
    for c, value, requested in zip(orders.buys, orders.values, buys["requested"], strict=True):
        price = md.panel("close").loc[day, names[c]]
        assert requested == RULES.lot.lots_for_value(value, price, RULES.commission, names[c])
    # each holding's tranche, derived from the day it was bought, is the one the backtest kept
    t = plan.targets.set_index("symbol")
    kept = [s for s in book.symbols if t.loc[s, "action"] == "keep"]
    assert {s: int(t.loc[s, "tranche"]) for s in kept} == {s: int(tranche[names.index(s)]) for s in kept}
    # and today's buys join the tranche the backtest gave them
    assert [int(t.loc[names[c], "tranche"]) for c in orders.buys] == orders.joins.tolist()
    assert plan.facts["cycle_day"] == cal.get_loc(day) - cal.get_loc(start)
    # the realised columns meet the next open as the backtest's broker did: the same fills
    fills = res.trades[res.trades["date"] == fill]
    done = plan.orders[plan.orders["filled_shares"] > 0]
    assert list(zip(done["symbol"], done["side"], done["filled_shares"], strict=True)) == \
        list(zip(fills["symbol"].astype(str), fills["side"], fills["shares"], strict=True))
    assert done["fill_price"].to_numpy() == pytest.approx(fills["price"].to_numpy(), rel=1e-12)


def test_the_case_is_not_empty(backtest):
    """The swaps of the parity test are real: sells and buys, a STAR name bought in single shares,
    impact in the prices, the cost-aware slope known."""
    md, preds, res, placed = backtest
    orders, _ = placed[pd.Timestamp("2024-11-18")]
    assert len(orders.sells) == 2 and len(orders.buys) == 2
    star = res.trades[res.trades["symbol"].astype(str).str.startswith("SH688") & (res.trades["side"] == "buy")]
    assert (star["shares"] % 100 != 0).any()
    assert res.trades["impact"].gt(0).all()

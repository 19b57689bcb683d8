"""A real multi-stock run on the embedded snapshot, re-checked from first principles.

The run: TopK (k=30, at most 5 replaced a day) over every point-in-time member, ~4 years, on a
20-day momentum score. The checks rebuild cash, holdings, equity and returns from the trade list,
the corporate actions and the raw closes of ``md`` alone, and recompute fees and limit prices
without the strategies code.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.timing import FILL_LAG
from strategies import TopKConfig, run_backtest
from strategies.scores import momentum_predictions

START, END = "2021-06-01", "2025-06-27"
K, N = 30, 5


@pytest.fixture(scope="module")
def preds(md):
    return momentum_predictions(md, 20, start=START, end=END)


@pytest.fixture(scope="module")
def res(md, preds):
    cfg = TopKConfig(k=K, max_replace=N, score_halflife=0.0, cost_aware=False)
    return run_backtest(md, preds[["date", "symbol", "p_up"]], strategy=cfg,
                        initial_cash=10_000_000.0, progress=False)


def test_covers_the_whole_universe_over_at_least_three_years(res, preds):
    assert len(res.returns) >= 3 * 242
    assert preds["symbol"].nunique() > 400
    assert res.summary()["trades"] > 1_000
    held = res.positions.groupby("date").size()
    assert held.max() <= K + 3  # k names, plus leavers that could not be sold yet
    # refused buys (limit-up opens, leavers) leave a slot or two empty on a few days, once the
    # default 20 tranches are built (a tranche a day)
    assert held.loc[held.index[20]:].min() >= K - 5
    assert held.mean() >= K - 0.5


def test_equity_is_cash_plus_marked_positions_every_day(res):
    pv = res.positions.groupby("date")["value"].sum().reindex(res.equity.index, fill_value=0.0)
    assert np.abs(res.equity - res.cash - pv).max() < 1e-6  # CNY, on ~10 million
    assert res.equity.iloc[0] == 10_000_000.0
    assert res.equity.notna().all() and res.cash.notna().all() and res.returns.notna().all()


def test_returns_recomputed_from_trades_match(md, res):
    dates = res.equity.index
    close = md.panel("close").ffill().loc[dates]
    trades = res.trades.assign(signed=lambda t: np.where(t.side == "buy", 1.0, -1.0) * t.shares)
    flow = -np.where(trades.side == "buy", 1.0, -1.0) * trades.value - trades.commission - trades.stamp_duty
    cash_flow = pd.Series(flow.to_numpy(), index=trades.date).groupby(level=0).sum()
    ca = res.corporate_actions
    cash_flow = cash_flow.add(ca.groupby("date")["cash"].sum(), fill_value=0.0)
    cash = 10_000_000.0 + cash_flow.reindex(dates, fill_value=0.0).cumsum()

    dq = pd.concat([
        trades[["date", "symbol", "signed"]].rename(columns={"signed": "dq"}),
        ca.assign(dq=ca.shares_after - ca.shares_before)[["date", "symbol", "dq"]],
    ])
    shares = dq.pivot_table(index="date", columns="symbol", values="dq", aggfunc="sum")
    shares = shares.reindex(dates).fillna(0.0).cumsum()
    value = (shares * close[shares.columns]).sum(axis=1)
    equity = cash + value
    returns = equity.pct_change().iloc[1:]

    assert np.abs(cash - res.cash).max() < 1e-6
    assert np.abs(equity - res.equity).max() < 1e-6
    assert np.abs(returns - res.returns).max() < 1e-9
    # the holdings too
    pos = res.positions.pivot_table(index="date", columns="symbol", values="shares").reindex(dates).fillna(0.0)
    assert np.abs(shares.reindex(columns=pos.columns, fill_value=0.0) - pos).to_numpy().max() == 0.0
    assert shares.drop(columns=pos.columns, errors="ignore").abs().to_numpy().max(initial=0) == 0.0


def test_fees_follow_the_rules(res):
    t = res.trades
    commission = np.maximum(t.value * 0.00025, 5.0)
    assert np.abs(t.commission - commission).max() < 1e-9
    rate = np.where(t.date >= pd.Timestamp("2023-08-28"), 0.0005, 0.001)
    duty = np.where(t.side == "sell", t.value * rate, 0.0)
    assert np.abs(t.stamp_duty - duty).max() < 1e-9
    buys, star = t.side == "buy", t.symbol.str.startswith("SH688")
    assert (t.loc[buys & ~star, "shares"] % 100 == 0).all()  # main board and ChiNext: lots of 100
    assert (t.loc[buys & star, "shares"] >= 200).all() and (t.loc[buys & star, "shares"] % 1 == 0).all()
    assert (t.loc[buys & star, "shares"] % 100 != 0).any()  # the STAR rule was met: sizes in single shares
    assert (t.commission == 5.0).any() or (t.value * 0.00025 >= 5).all()


def test_fills_at_the_open_after_the_decision_and_within_the_rules(md, res, preds):
    t = res.trades
    bars = md.bars.assign(symbol=md.bars.symbol.astype(str)).set_index(["date", "symbol"])
    at = bars.loc[list(zip(t.date, t.symbol, strict=True))]
    assert np.array_equal(t.price.to_numpy(), at["open"].to_numpy())  # the raw open, no slippage
    assert (at["volume"].to_numpy() > 0).all()  # never on a suspended day
    # limit prices recomputed here: previous raw close x factor ratio, to the fen, x 1.1 / 1.2
    cal = md.calendar
    close, factor = md.panel("close").ffill(), md.panel("factor").ffill()
    prev = {
        "close": close.shift(1).stack(), "pf": factor.shift(1).stack(), "f": factor.stack(),
    }
    keys = list(zip(t.date, t.symbol, strict=True))
    ref = np.floor(prev["close"].reindex(keys).to_numpy() * prev["pf"].reindex(keys).to_numpy()
                   / prev["f"].reindex(keys).to_numpy() * 100 + 0.5 + 1e-7) / 100
    wide = t.symbol.str.startswith(("SZ30", "SH688")) & (t.date >= pd.Timestamp("2020-08-24"))
    pct = np.where(wide, 0.2, 0.1)
    up = np.floor(ref * (1 + pct) * 100 + 0.5 + 1e-7) / 100
    down = np.floor(ref * (1 - pct) * 100 + 0.5 + 1e-7) / 100
    buys, sells = (t.side == "buy").to_numpy(), (t.side == "sell").to_numpy()
    assert not (buys & (t.price.to_numpy() >= up - 1e-6)).any()
    assert not (sells & (t.price.to_numpy() <= down + 1e-6)).any()
    # every buy was decided FILL_LAG trading days before its fill, from that day's prediction
    decision = cal[cal.get_indexer(t.date) - FILL_LAG]
    p = preds.set_index(["date", "symbol"])["p_up"]
    assert p.reindex(list(zip(decision[buys], t.symbol[buys], strict=True))).notna().all()
    # and bought names were members on the fill day
    mem = md.membership_mask()
    assert all(mem.at[d, s] for d, s in zip(t.date[buys], t.symbol[buys], strict=True))


def test_refusals_are_recorded_with_known_reasons(res):
    s = res.summary()
    assert set(res.rejected["reason"]) <= set(s["rejected_by_reason"])
    assert sum(s["rejected_by_reason"].values()) == len(res.rejected)
    assert s["rejected_by_reason"]["limit_up"] > 0  # momentum buys run into limit-up opens


def test_benchmark_and_turnover(md, res):
    b = md.benchmark_returns().reindex(res.returns.index)
    pd.testing.assert_series_equal(res.benchmark_returns, b.rename("CSI300"), check_names=False)
    traded = res.trades.groupby("date")["value"].sum().reindex(res.equity.index, fill_value=0.0)
    np.testing.assert_allclose(res.turnover, (traded / res.equity.shift(1)).iloc[1:], rtol=1e-12)


def test_array_feed_and_pandas_feed_agree(md, preds):
    p = preds[(preds.date >= "2023-06-01") & (preds.date <= "2023-10-31")]
    syms = sorted(p.symbol.unique())[:60]
    p = p[p.symbol.isin(syms)][["date", "symbol", "p_up"]]
    cfg = TopKConfig(k=8, max_replace=2, score_halflife=0.0, cost_aware=False)
    a = run_backtest(md, p, strategy=cfg, progress=False)
    b = run_backtest(md, p, strategy=cfg, progress=False, feed="pandas")
    pd.testing.assert_series_equal(a.equity, b.equity, rtol=0, atol=0)
    pd.testing.assert_frame_equal(a.trades, b.trades)
    pd.testing.assert_frame_equal(a.rejected, b.rejected)


def test_threshold_on_one_real_stock(md):
    p = momentum_predictions(md, 20, start="2019-01-02", end="2021-12-31")
    p = p[p.symbol == "SH600519"][["date", "symbol", "p_up"]]
    from strategies import ThresholdConfig

    res = run_backtest(md, p, strategy=ThresholdConfig(symbol="SH600519", upper=0.7, lower=0.3),
                       initial_cash=5_000_000.0, progress=True)
    sides = res.trades.side.tolist()
    assert len(sides) >= 4
    assert all(a != b for a, b in zip(sides, sides[1:], strict=False))  # buy, sell, buy, ...
    assert sides[0] == "buy"
    pv = res.positions.groupby("date")["value"].sum().reindex(res.equity.index, fill_value=0.0)
    assert np.abs(res.equity - res.cash - pv).max() < 1e-6
    # when long, at most the cash buffer (2%) plus one lot and fees sit in cash
    long_days = pv > 0
    assert ((res.cash[long_days] / res.equity[long_days]) < 0.02 + 0.05).all()


def test_no_look_ahead_the_future_does_not_change_the_past(md, preds):
    """Cutting the market data after day T changes nothing in a run whose decisions end at T-1."""
    cal = md.calendar
    t_end = cal[cal.searchsorted(pd.Timestamp("2022-12-30"))]
    p = preds[(preds.date >= "2022-01-04") & (preds.date < t_end)][["date", "symbol", "p_up"]]
    cfg = TopKConfig(k=15, max_replace=3, score_halflife=0.0, cost_aware=False)
    full = run_backtest(md, p, strategy=cfg, progress=False)
    cut = run_backtest(md.slice(end=t_end), p, strategy=cfg, progress=False)
    assert full.equity.index[-1] == t_end
    pd.testing.assert_series_equal(full.equity, cut.equity, rtol=0, atol=0)
    pd.testing.assert_frame_equal(full.trades, cut.trades)
    pd.testing.assert_frame_equal(full.rejected, cut.rejected)

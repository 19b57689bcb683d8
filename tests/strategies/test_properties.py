"""Invariants of whole runs on random small markets (suspensions, limit opens, index changes,
ex-rights days), checked against the market itself rather than the strategies code."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from strategies import CostModel, TopKConfig, run_backtest

from .conftest import make_market

SYMBOLS = ["SH600000", "SH600004", "SZ000001", "SZ300001", "SZ300002", "SH688001"]


def random_market(seed: int, n_days: int = 30):
    rng = np.random.default_rng(seed)
    days = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2020-08-10", periods=n_days)]
    bars, members = {}, {}
    for s in SYMBOLS:
        close, factor, rows = 10.0 + 20 * rng.random(), 1.0, []
        for _ in days:
            ex = rng.random() < 0.05
            if ex:  # dividend / bonus day: the factor jumps, the price drops by the same ratio
                ratio = float(rng.choice([1.02, 1.5, 2.0]))
                factor *= ratio
                close = round(close / ratio, 2)
            u = rng.random()
            if u < 0.08:
                o = round(close * 1.1, 2)  # limit-up open (main board; ChiNext 20% after 08-24)
            elif u < 0.16:
                o = round(close * 0.9, 2)  # limit-down open
            else:
                o = round(close * (1 + 0.03 * rng.standard_normal()), 2)
            c = round(max(o * (1 + 0.03 * rng.standard_normal()), 0.5), 2)
            if rng.random() < 0.08:
                rows.append(None if rng.random() < 0.5 else (close, close, 0.0, factor))
            else:
                rows.append((o, c, 1e6, factor))
                close = c
        bars[s] = rows
        a = int(rng.integers(0, 5))
        b = int(rng.integers(a + 5, n_days + 5))
        members[s] = (days[a], days[b] if b < n_days else None)
    preds = [(d, s, float(rng.random())) for d in days[:-1] for s in SYMBOLS if rng.random() < 0.9]
    p = pd.DataFrame(preds, columns=["date", "symbol", "p_up"]).assign(date=lambda x: pd.to_datetime(x["date"]))
    return make_market(days, bars, members), p


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, 10_000), st.integers(1, 4), st.integers(1, 3), st.sampled_from([30_000.0, 200_000.0, 2e6]),
       st.integers(0, 2), st.sampled_from([0, 1, 3]), st.sampled_from([1, 2, 5]))
def test_runs_respect_the_rules(seed, k, n, cash, buffer, min_hold, hold_days):
    md, p = random_market(seed)
    cfg = TopKConfig(k=k, max_replace=n, buffer=buffer, min_hold=min_hold, hold_days=hold_days)
    cfg_costs = CostModel()
    res = run_backtest(md, p, strategy=cfg, costs=cfg_costs, initial_cash=cash, progress=False)
    t = res.trades
    assert (res.cash >= -1e-6).all()
    pv = res.positions.groupby("date")["value"].sum().reindex(res.equity.index, fill_value=0.0)
    assert np.abs(res.equity - res.cash - pv).max() < 1e-6
    assert (res.positions["shares"] > 0).all()
    if t.empty:
        return
    bars = md.bars.assign(symbol=md.bars.symbol.astype(str)).set_index(["date", "symbol"])
    keys = list(zip(t.date, t.symbol, strict=True))
    at = bars.reindex(keys)
    assert at["open"].notna().all() and (at["volume"] > 0).all()  # never on a suspended day
    # the participation cap (default 10%): no fill above its share of the day's volume
    assert (t["shares"].to_numpy() <= cfg_costs.participation * at["volume"].to_numpy() + 1e-9).all()
    assert np.array_equal(t.price.to_numpy(), at["open"].to_numpy())
    buys = t.side == "buy"
    star = t.symbol.str.startswith("SH688")
    assert (t.loc[buys & ~star, "shares"] % 100 == 0).all()  # main board and ChiNext: lots of 100
    bought_star = t.loc[buys & star, "shares"]
    assert (bought_star >= 200).all() and (bought_star % 1 == 0).all()  # STAR: 200 or more, any whole number
    mem = md.membership_mask()
    assert all(mem.at[d, s] for d, s in zip(t.date[buys], t.symbol[buys], strict=True))
    # T+1: never a buy and a sell of one symbol on one day
    both = t.groupby(["date", "symbol"])["side"].nunique()
    assert (both <= 1).all()
    # limit opens: recompute the upper/lower limits from the previous bar
    close, factor = md.panel("close").ffill(), md.panel("factor").ffill()
    cal = md.calendar
    listing = md.listing_dates()
    for row in t.itertuples():
        i = cal.get_loc(row.date)
        first = listing.get(row.symbol)
        if pd.notna(first) and i - cal.get_loc(first) + 1 <= 5:
            continue  # no limit in the first five listed days
        ref = round(close.iat[i - 1, close.columns.get_loc(row.symbol)]
                    * factor.iat[i - 1, factor.columns.get_loc(row.symbol)]
                    / factor.iat[i, factor.columns.get_loc(row.symbol)] + 1e-9, 2)
        chinext_wide = row.symbol.startswith("SZ30") and row.date >= pd.Timestamp("2020-08-24")
        wide = row.symbol.startswith("SH688") or chinext_wide
        pct = 0.2 if wide else 0.1
        if row.side == "buy":
            assert row.price < round(ref * (1 + pct) + 1e-9, 2) - 1e-6
        else:
            assert row.price > round(ref * (1 - pct) + 1e-9, 2) + 1e-6
    # every refusal has a known reason
    assert set(res.rejected["reason"]) <= {"limit_up", "limit_down", "suspended", "lot", "cash", "t_plus_1",
                                           "not_member", "volume"}

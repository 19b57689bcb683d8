"""The frontier and the capacity (issue 20): the fast path's gross returns by hand and against the
gross twin on the real data, the settings' errors, the table of a sweep's runs, and a real run's
tearsheet and metrics."""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import data_store
from backtests.evidence import stats
from backtests.evidence import tradeoff as T
from core.errors import ConfigError
from core.settings import SettingError
from strategies import CostModel, TopKConfig, run_backtest, trading_days_per_year
from strategies.performance import annual_return
from strategies.scores import momentum_predictions

from ..strategies.conftest import make_market, preds

DAYS = [d.strftime("%Y-%m-%d") for d in pd.bdate_range("2022-03-01", periods=4)]


def test_gross_by_accounting_adds_each_days_costs_back_by_hand():
    up = [(10.0, 10.0), (10.0, 10.5), (10.5, 10.5), (10.5, 10.5)]  # the fill day's range allows the slippage
    md = make_market(DAYS, {"SH600000": up, "SH600004": [(10.0, 10.0)] * 4})
    rows = [(DAYS[0], "SH600000", 0.9), (DAYS[0], "SH600004", 0.1)]
    res = run_backtest(md, preds(rows), strategy=TopKConfig(k=1, buffer=0, min_hold=0),
                       costs=CostModel(slippage=0.001), initial_cash=1e6, progress=False)
    # day 1: 97,900 shares at 10.01 (the open plus 0.1% slippage), commission 244.99475; at the
    # close (10.50) equity is 1e6 - 979,979 - 244.99475 + 1,027,950 = 1,047,726.00525
    assert res.returns.iloc[0] == pytest.approx(1_047_726.00525 / 1e6 - 1, abs=1e-12)
    # before costs: + (244.99475 + 0.01 x 97,900) / 1e6 = 97,900 x 0.50 / 1e6, the shares' gain from the open
    g = T.gross_by_accounting(res, md)
    assert g.iloc[0] == pytest.approx(97_900 * 0.5 / 1e6, abs=1e-12)
    assert g.iloc[1:].tolist() == pytest.approx(res.returns.iloc[1:].tolist())


def test_alpha_figures_are_the_capm_of_the_returns():
    rng = np.random.default_rng(0)
    days = pd.bdate_range("2022-01-03", periods=300)
    m = pd.Series(rng.normal(0, 0.01, 300), index=days)
    r = 0.0002 + 1.2 * m + pd.Series(rng.normal(0, 0.005, 300), index=days)
    a, c = T.alpha_figures(r, m, 243), stats.capm(r, m, 243)
    assert a == {k: c[k] for k in ("alpha", "alpha_lo", "alpha_hi", "alpha_t", "beta")}


def test_frontier_points_are_checked_when_the_settings_are_built():
    with pytest.raises(SettingError, match=r"frontier = .* point 'hold_days=x': hold_days = 'x' is not a valid int"):
        T.TradeoffConfig(frontier=("hold_days=x",))
    with pytest.raises(SettingError, match=r"point 'hold_days=2;buffer=-1': TopKConfig.buffer = -1 is out of range"):
        T.TradeoffConfig(frontier=("hold_days=2;buffer=-1",))
    with pytest.raises(SettingError, match="no_such"):
        T.TradeoffConfig(frontier=("no_such=1",))
    with pytest.raises(SettingError, match="is not allowed"):
        T.TradeoffConfig(frontier=("hold_days 5",))
    # each point over the run's own settings
    ok = T.frontier_settings(TopKConfig(k=4, buffer=3), ("hold_days=2", "hold_days=5;buffer=0"))
    assert ok == [("hold_days=2", TopKConfig(k=4, buffer=3, hold_days=2)),
                  ("hold_days=5;buffer=0", TopKConfig(k=4, buffer=0, hold_days=5))]
    from backtests import config as C

    with pytest.raises(ConfigError, match=r"tradeoff.frontier = .* has point 'cost_aware=maybe'"):
        C.load_config(overrides=[C.parse_override("tradeoff.frontier=cost_aware=maybe")])


@pytest.fixture(scope="module")
def md():
    return data_store.load(use_cache=False)


@pytest.fixture(scope="module")
def half_year(md):
    """Momentum scores of the whole point-in-time CSI-300, 2023-01..06."""
    p = momentum_predictions(md, 20, start="2023-01-03", end="2023-06-30")
    return p[["date", "symbol", "p_up"]]


def test_the_fast_path_agrees_with_the_gross_twin_on_real_data(md, half_year):
    """The frontier and capacity rows add each day's costs back instead of running a gross twin;
    on the real data the two annual returns before costs differ by less than 0.3 percentage
    points (the twin reinvests the fees it saves)."""
    ppy = trading_days_per_year(md.calendar)
    busy = TopKConfig(score_halflife=0.0, cost_aware=False)  # trades enough for the costs to show
    net = run_backtest(md, half_year, strategy=busy, costs=CostModel(), progress=False, periods_per_year=ppy)
    twin = run_backtest(md, half_year, strategy=busy, costs=CostModel().gross(), decision_costs=CostModel(),
                        progress=False, periods_per_year=ppy)
    fast = annual_return(T.gross_by_accounting(net, md), ppy)
    slow = annual_return(twin.returns, ppy)
    assert abs(fast - slow) < 0.003
    assert annual_return(net.returns, ppy) < fast - 0.005  # the costs are real: more than 0.5% a year


def test_capacity_on_real_data_fills_less_and_costs_more_with_capital(md, half_year):
    ppy = trading_days_per_year(md.calendar)
    bench = md.benchmark_returns()
    c = T.capacity(md, half_year, TopKConfig(), CostModel(), ppy, bench, (1e7, 1e9, 1e10), impact=0.5)
    assert c["capital"].tolist() == [1e7, 1e9, 1e10]
    assert c["fill_rate"].iloc[0] == 1.0 and c["fill_rate"].is_monotonic_decreasing and c["fill_rate"].iloc[-1] < 0.8
    # the impact grows with the orders (at 1e10 fewer of them fill)
    assert 0 < 3 * c["impact_a_year"].iloc[0] < c["impact_a_year"].iloc[1]
    # cost drag = before minus after costs, a year
    assert np.allclose(c["cost_drag"], c["gross_annual_return"] - c["net_annual_return"])
    assert c.notna().all().all()


def test_a_sweep_of_runs_is_a_frontier(tmp_path):
    for name, turnover in (("b", 0.4), ("a", 0.1)):
        d = tmp_path / name
        d.mkdir()
        row = {"model": "lstm", "daily_turnover": turnover, "annual_excess_return": 0.02, "gross_annual_excess_return":
               0.05, "cost_drag": 0.03, "alpha": 0.01, "alpha_t": 1.5, "gross_alpha": 0.04, "gross_alpha_t": 2.5}
        (d / "metrics.json").write_text(json.dumps({"model": "lstm", "models": [row, {"model": "index"}]}))
    f = T.runs_frontier([tmp_path / "b", tmp_path / "a"])
    assert f["run"].tolist() == ["a", "b"] and f["daily_turnover"].tolist() == [0.1, 0.4]
    assert f.loc[0, ["net_excess", "gross_excess", "alpha_t"]].tolist() == [0.02, 0.05, 1.5]


@pytest.mark.slow
def test_a_runs_tearsheet_and_metrics_show_the_frontier_and_capacity(small_run):
    run_dir, _ = small_run
    m = json.loads((run_dir / "metrics.json").read_text())
    t = m["tradeoff"]
    assert [r["capital"] for r in t["capacity"]] == [1e7, 1e8, 1e9, 1e10]
    assert len(t["frontier"]) >= 3 and sum(r["own"] for r in t["frontier"]) == 1
    for row in t["capacity"] + t["frontier"]:
        assert all(v is not None for v in row.values()), row
    page = (run_dir / "tearsheet.html").read_text()
    for table in ("frontier", "capacity"):
        body = re.search(rf'<table id="{table}".*?</table>', page, re.S)
        assert body is not None, table
        cells = re.findall(r"<td>(.*?)</td>", body.group(0))
        assert cells and all(c.strip() and "n/a" not in c for c in cells), table
    assert page.count('alt="frontier"') == 1 and page.count('alt="capacity"') == 1

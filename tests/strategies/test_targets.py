"""The pure target functions, without Cerebro."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from data_store.settings import SettingError, build, spec_of
from strategies import (
    CostModel,
    StrategyConfigError,
    ThresholdConfig,
    TopKConfig,
    threshold_action,
    topk_select,
    topk_targets,
)
from strategies.targets import StrategyConfig, buy_budget, equal_weight_value

NAN = float("nan")


def test_first_day_fills_all_k_slots_best_first():
    d = topk_targets({"A": 0.9, "B": 0.2, "C": 0.7, "D": 0.8}, [], TopKConfig(k=3, max_replace=1))
    assert d.buys == ("A", "D", "C")
    assert d.sells == ()


def test_max_replace_limits_swaps_worst_first():
    p = {"A": 0.1, "B": 0.2, "C": 0.3, "D": 0.9, "E": 0.8, "F": 0.7}
    d = topk_targets(p, ["A", "B", "C"], TopKConfig(k=3, max_replace=2))
    assert d.sells == ("A", "B")  # the two worst held
    assert d.buys == ("D", "E")  # the two best not held
    assert d.targets(["A", "B", "C"]) == {"C", "D", "E"}


def test_held_names_in_the_top_are_kept():
    p = {"A": 0.9, "B": 0.2, "C": 0.8, "D": 0.75}
    d = topk_targets(p, ["A", "C"], TopKConfig(k=2, max_replace=5))
    assert d.sells == () and d.buys == ()


def test_leaver_is_sold_and_does_not_count_against_max_replace():
    p = {"A": 0.9, "B": 0.1, "C": 0.2, "D": 0.8, "E": 0.7}
    d = topk_targets(p, ["A", "B", "C"], TopKConfig(k=3, max_replace=1), members=["A", "B", "C", "D", "E"][1:])
    # A left the index: sold whatever its score; B (worst) is the one voluntary swap
    assert d.sells == ("A", "B")
    assert d.buys == ("D", "E")


def test_unscored_holding_is_kept_and_keeps_its_slot():
    # B is held but has no prediction today (suspended): kept, so only 1 slot competes
    d = topk_targets({"A": 0.5, "C": 0.9}, ["A", "B"], TopKConfig(k=2, max_replace=3))
    assert d.sells == ("A",)
    assert d.buys == ("C",)


def test_ineligible_names_are_not_bought():
    d = topk_targets({"A": 0.9, "B": 0.8, "C": 0.7}, [], TopKConfig(k=2, max_replace=1), eligible=["B", "C"])
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
        assert min(s[b] for b in buys_set) >= max(s[v] for v in voluntary)


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
    from data_store.errors import ConfigError

    with pytest.raises(ConfigError):
        TopKConfig(k=0)
    assert issubclass(StrategyConfigError, ConfigError) and issubclass(SettingError, ValueError)

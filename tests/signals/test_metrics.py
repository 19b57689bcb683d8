"""Metrics against values computed by hand."""

import math

import numpy as np
import pytest

from signals import best_constant_accuracy, classification_metrics, daily_ic
from signals.metrics import pooled


def test_metrics_on_a_hand_computed_example():
    label = np.array([1, 0, 1, 1, 0, 0, np.nan])
    p = np.array([0.8, 0.6, 0.4, 0.9, 0.2, 0.3, 0.7])
    ret = np.array([0.02, -0.01, 0.01, 0.03, -0.02, 0.00, 0.05])
    m = classification_metrics(label, p, ret)
    assert m["n"] == 6  # the unknown label is left out
    assert m["base_rate"] == pytest.approx(0.5)  # also the accuracy of always-up
    assert m["best_constant_accuracy"] == pytest.approx(0.5)
    # predicted up: 1,1,0,1,0,0 vs 1,0,1,1,0,0 -> 4 of 6 right
    assert m["accuracy"] == pytest.approx(4 / 6)
    # recall of up 2/3, recall of down 2/3
    assert m["balanced_accuracy"] == pytest.approx(2 / 3)
    # AUC: pairs (up, down) with p_up > p_down: up 0.8 beats 0.6,0.2,0.3 (3); 0.4 beats 0.2,0.3 (2); 0.9 beats 3 -> 8/9
    assert m["roc_auc"] == pytest.approx(8 / 9)
    ll = -(math.log(0.8) + math.log(0.4) + math.log(0.4) + math.log(0.9) + math.log(0.8) + math.log(0.7)) / 6
    assert m["log_loss"] == pytest.approx(ll)
    brier = ((0.2 ** 2) + 0.6 ** 2 + 0.6 ** 2 + 0.1 ** 2 + 0.2 ** 2 + 0.3 ** 2) / 6
    assert m["brier"] == pytest.approx(brier)
    pr, rr = p[:6], ret[:6]
    assert m["ic"] == pytest.approx(np.corrcoef(pr, rr)[0, 1])
    # ranks: p -> [5,4,3,6,1,2], ret -> [5,2,4,6,1,3]; Spearman = 1 - 6*sum(d^2)/(n(n^2-1)), d^2 = 0,4,1,0,0,1
    assert m["rank_ic"] == pytest.approx(1 - 6 * 6 / (6 * 35))


def test_ic_is_the_mean_of_daily_cross_sectional_correlations():
    dates = np.array([1, 1, 1, 2, 2, 2, 3, 3])  # day 3 has two stocks only: skipped
    p = np.array([0.1, 0.2, 0.3, 0.3, 0.2, 0.1, 0.5, 0.6])
    r = np.array([1.0, 2.0, 3.0, 1.0, 2.0, 4.0, 1.0, 2.0])
    day2 = np.corrcoef([0.3, 0.2, 0.1], [1.0, 2.0, 4.0])[0, 1]
    assert daily_ic(dates, p, r) == pytest.approx((1.0 + day2) / 2)
    assert daily_ic(dates, p, r, "spearman") == pytest.approx((1.0 - 1.0) / 2)
    # a constant forecast has no correlation on any day
    assert math.isnan(daily_ic(dates, np.full(8, 0.5), r))


def test_single_class_and_empty_edge_cases():
    m = classification_metrics(np.array([1.0, 1.0, 1.0]), np.array([0.6, 0.4, 0.7]))
    assert m["accuracy"] == pytest.approx(2 / 3) and math.isnan(m["roc_auc"]) and math.isnan(m["balanced_accuracy"])
    e = classification_metrics(np.array([np.nan]), np.array([0.5]))
    assert e["n"] == 0 and math.isnan(e["accuracy"])


def test_best_constant_guess_is_the_majority_class():
    assert best_constant_accuracy(0.458) == pytest.approx(0.542)  # always-down
    assert best_constant_accuracy(0.61) == pytest.approx(0.61)  # always-up
    assert math.isnan(best_constant_accuracy(float("nan")))
    m = classification_metrics(np.array([1, 0, 0, 0]), np.array([0.9, 0.1, 0.2, 0.3]))
    assert m["base_rate"] == 0.25 and m["best_constant_accuracy"] == 0.75


def test_pooled_is_the_sample_weighted_mean_of_defined_windows():
    import pandas as pd

    wm = pd.DataFrame({"n": [100, 300, 50], "ic": [0.1, 0.02, np.nan]})
    assert pooled(wm, "ic") == pytest.approx((100 * 0.1 + 300 * 0.02) / 400)
    assert math.isnan(pooled(wm, "missing_column"))

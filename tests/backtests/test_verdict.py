"""The verdict's wording, from pooled metrics and a per-window table built by hand."""

import numpy as np
import pandas as pd

from backtests.verdict import verdict
from signals import best_constant_accuracy


def _case(acc, up, n, auc, ic, excess, won, beat, windows=7):
    """Pooled metrics and a window table in which ``won`` windows beat the index and ``beat``
    windows beat the best constant guess."""
    pooled = {"accuracy": acc, "base_rate": up, "best_constant_accuracy": best_constant_accuracy(up), "n": n,
              "roc_auc": auc, "ic": ic, "annual_excess_return": excess}
    best = best_constant_accuracy(up)
    wins = pd.DataFrame({
        "accuracy": [best + 0.01 if i < beat else best - 0.01 for i in range(windows)],
        "best_constant_accuracy": best,
        "excess_return": [0.02 if i < won else -0.02 for i in range(windows)],
    })
    return pooled, wins


def test_wording_names_every_figure():
    text = verdict("LSTM", *_case(0.521, 0.514, 10_000, 0.51, 0.01, -0.018, 2, 4))
    assert "accuracy 52.1% vs 51.4% always-up (+0.7 pp)" in text
    assert "best constant guess (always-up) scores 51.4%, an edge of +0.7 pp (naive s.e. 0.5 pp)" in text
    assert "annual excess return after costs -1.8%" in text
    assert "beat the best constant guess in 4 of 7" in text and "beat the index in 2 of 7" in text
    assert text.endswith("did not beat the index after costs.")


def test_compares_with_always_down_when_most_labels_are_down():
    # 45.8% of labels are up: predicting "down" every day scores 54.2%, so 53.8% is no skill
    text = verdict("LSTM", *_case(0.538, 0.458, 200_000, 0.513, -0.005, -0.089, 1, 0))
    assert "(+8.0 pp)" in text
    assert "best constant guess (always-down) scores 54.2%, an edge of -0.4 pp" in text
    assert "No evidence of skill" in text
    # a real edge over the majority class with AUC > 0.5 and a positive excess
    good = verdict("LSTM", *_case(0.56, 0.458, 200_000, 0.53, 0.02, 0.03, 5, 6))
    assert "earned an excess return after costs" in good


def test_says_n_a_for_undefined_figures():
    # one stock: no cross-section, so no IC
    text = verdict("LSTM", *_case(0.548, 0.453, 1_700, 0.506, float("nan"), 0.062, 4, 2))
    assert "IC n/a" in text and "nan" not in text


def test_an_untraded_model_beats_the_index_in_no_window():
    pooled, wins = _case(0.55, 0.5, 1000, 0.52, 0.01, np.nan, 0, 3)
    text = verdict("Logistic", pooled, wins.drop(columns="excess_return"))
    assert "beat the index in 0 of 7" in text

"""The numbers of a run's report: what each model produced, pooled and by window.

:func:`summarise` computes every figure the tearsheet and ``metrics.json`` show from the run's
tables (window metrics, returns, the backtest summaries), so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from signals.metrics import best_constant_accuracy, pooled
from strategies.result import BacktestResult

from . import analysis as an

__all__ = ["MODEL_LABELS", "ModelOutcome", "label", "margin_over_lightgbm", "summarise"]

MODEL_LABELS = {
    "lstm": "LSTM", "gru": "GRU", "attention": "Attention-LSTM", "logistic": "Logistic",
    "always_up": "Always-up", "yesterday": "Yesterday's direction", "lightgbm": "LightGBM",
    "index": "Buy-and-hold CSI-300",
}

#: per-window prediction metrics pooled over windows (sample-weighted)
POOLED = ("accuracy", "balanced_accuracy", "roc_auc", "ic", "rank_ic", "base_rate", "log_loss", "brier")
WINDOW_COLUMNS = ["window", "test_start", "test_end", "n", "accuracy", "balanced_accuracy", "roc_auc", "ic",
                  "base_rate", "best_constant_accuracy"]
#: backtest figures carried into a model's row
BACKTEST_KEYS = ("fees", "commission", "stamp_duty", "turnover", "annual_turnover", "trades", "rejected")


def label(model: str) -> str:
    """The display name of a model (``lstm`` -> ``LSTM``)."""
    return MODEL_LABELS.get(model, model)


@dataclass
class ModelOutcome:
    """What one model produced: its window metrics and, when traded, its backtest."""

    model: str
    window_metrics: pd.DataFrame
    backtest: BacktestResult | None = None
    summary: dict[str, Any] = field(default_factory=dict)

    def attach(self, res: BacktestResult, periods_per_year: int) -> None:
        """Take a backtest (its summary annualised on ``periods_per_year``)."""
        self.backtest, self.summary = res, res.summary(periods_per_year)

    @property
    def returns(self) -> pd.Series | None:
        return None if self.backtest is None else self.backtest.returns


def margin_over_lightgbm(outcomes: dict[str, ModelOutcome], main: str) -> str | None:
    """One sentence: did the main model's IC and rank IC beat the LightGBM baseline's (same windows
    and samples)? None when LightGBM was not fitted."""
    if "lightgbm" not in outcomes or main not in outcomes or main == "lightgbm":
        return None
    a, b = outcomes[main].window_metrics, outcomes["lightgbm"].window_metrics
    ic, ric = pooled(a, "ic") - pooled(b, "ic"), pooled(a, "rank_ic") - pooled(b, "rank_ic")
    won = "beat" if ic > 0 and ric > 0 else "did not beat" if ic <= 0 and ric <= 0 else "split with"
    return (f"{label(main)} {won} the LightGBM baseline on the same samples: IC {pooled(a, 'ic'):.4f} vs "
            f"{pooled(b, 'ic'):.4f} ({ic:+.4f}), rank IC {pooled(a, 'rank_ic'):.4f} vs {pooled(b, 'rank_ic'):.4f} "
            f"({ric:+.4f}).")


def summarise(outcomes: dict[str, ModelOutcome], benchmark: pd.Series, calendar: pd.DatetimeIndex,
              periods_per_year: int, passive: dict[str, pd.Series] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-model summary, per-window table) for every model, the buy-and-hold index and any
    other ``passive`` return series (e.g. holding the one stock of a single-stock study)."""
    model_rows, window_rows = [], []
    bench_days = None
    for name, oc in outcomes.items():
        wm = oc.window_metrics.sort_values("window")
        row: dict[str, Any] = {"model": name, **{c: pooled(wm, c) for c in POOLED}, "n": int(wm["n"].sum())}
        # the best constant guess over the whole sample is one constant: always-up or always-down
        row["best_constant_accuracy"] = best_constant_accuracy(row["base_rate"])
        per_win = wm[WINDOW_COLUMNS].copy()
        per_win.insert(0, "model", name)
        if oc.returns is not None and len(oc.returns):
            row.update(an.performance(oc.returns, benchmark, periods_per_year))
            wr = an.window_returns(oc.returns, benchmark, wm[["window", "test_start", "test_end"]], calendar)
            per_win = per_win.merge(wr, on="window", how="left")
            row.update({k: oc.summary[k] for k in BACKTEST_KEYS if k in oc.summary})
            bench_days = oc.returns.index if bench_days is None else bench_days
        model_rows.append(row)
        window_rows.append(per_win)
    if bench_days is not None:
        b = benchmark.reindex(bench_days).fillna(0.0)
        model_rows.append({"model": "index", **an.performance(b, benchmark, periods_per_year),
                           "annual_excess_return": 0.0})
        for name, ret in (passive or {}).items():
            model_rows.append({"model": name,
                               **an.performance(ret.reindex(bench_days).fillna(0.0), benchmark, periods_per_year)})
    return pd.DataFrame(model_rows), pd.concat(window_rows, ignore_index=True)

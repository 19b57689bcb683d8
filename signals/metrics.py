"""Classification and ranking metrics of one window's predictions (pure functions)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    balanced_accuracy_score,
    brier_score_loss,
    log_loss,
    roc_auc_score,
)

__all__ = ["classification_metrics", "daily_ic", "METRIC_COLUMNS"]

METRIC_COLUMNS = ("n", "base_rate", "accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier", "ic", "rank_ic",
                  "always_up_accuracy")


def daily_ic(dates: np.ndarray, p_up: np.ndarray, ret: np.ndarray, method: str = "pearson") -> float:
    """Mean over days of the cross-sectional correlation between p_up and the realised return.

    Days with fewer than 3 stocks or a constant p_up or return are skipped (correlation undefined);
    NaN when no day is left. ``method``: ``'pearson'`` (IC) or ``'spearman'`` (rank IC, average ranks
    for ties). Unitless, in [-1, 1]. Measured per day so that the market's common move of the day
    (which decides plain accuracy on a single date) does not count."""
    df = pd.DataFrame({"d": dates, "p": p_up, "r": ret}).dropna()
    if df.empty:
        return float("nan")
    if method == "spearman":
        df["p"] = df.groupby("d")["p"].rank()
        df["r"] = df.groupby("d")["r"].rank()
    g = df.groupby("d")
    n = g["p"].transform("size")
    df = df[n >= 3]
    if df.empty:
        return float("nan")
    g = df.groupby("d")
    dp = df["p"] - g["p"].transform("mean")
    dr = df["r"] - g["r"].transform("mean")
    tmp = pd.DataFrame({"d": df["d"], "pr": dp * dr, "pp": dp * dp, "rr": dr * dr}).groupby("d").sum()
    denom = np.sqrt(tmp["pp"] * tmp["rr"])
    ok = denom > 1e-12 * np.maximum(1.0, tmp["pp"].abs().max())
    if not ok.any():
        return float("nan")
    return float((tmp.loc[ok, "pr"] / denom[ok]).mean())


def classification_metrics(label: np.ndarray, p_up: np.ndarray, ret: np.ndarray | None = None,
                           dates: np.ndarray | None = None) -> dict[str, float]:
    """Metrics on the samples whose label is known.

    A sample is predicted "up" when ``p_up > 0.5``. Returns ``n`` (samples with a known label),
    ``base_rate`` (share up), ``accuracy``, ``balanced_accuracy``, ``roc_auc`` (NaN with one class
    only), ``log_loss`` (nats; probabilities clipped by scikit-learn), ``brier`` (mean squared error
    of p_up), ``ic``/``rank_ic`` (see :func:`daily_ic`; pooled over all samples when ``dates`` is
    None) and ``always_up_accuracy`` (accuracy of predicting up for every one of the same samples,
    equal to the base rate)."""
    label = np.asarray(label, dtype=np.float64)
    p = np.asarray(p_up, dtype=np.float64)
    known = np.isfinite(label)
    y, p_k = label[known].astype(int), p[known]
    out: dict[str, float] = {"n": int(known.sum())}
    nan = float("nan")
    if out["n"] == 0:
        return {**out, **{k: nan for k in METRIC_COLUMNS if k != "n"}}
    pred = (p_k > 0.5).astype(int)
    out["base_rate"] = float(y.mean())
    out["accuracy"] = float(accuracy_score(y, pred))
    two = len(np.unique(y)) == 2
    out["balanced_accuracy"] = float(balanced_accuracy_score(y, pred)) if two else nan
    out["roc_auc"] = float(roc_auc_score(y, p_k)) if two else nan
    out["log_loss"] = float(log_loss(y, np.clip(p_k, 1e-15, 1 - 1e-15), labels=[0, 1]))
    out["brier"] = float(brier_score_loss(y, p_k, pos_label=1))
    if ret is not None:
        r = np.asarray(ret, dtype=np.float64)[known]
        d = np.zeros(len(r)) if dates is None else np.asarray(dates)[known]
        out["ic"] = daily_ic(d, p_k, r, "pearson")
        out["rank_ic"] = daily_ic(d, p_k, r, "spearman")
    else:
        out["ic"] = out["rank_ic"] = nan
    out["always_up_accuracy"] = float(accuracy_score(y, np.ones_like(y)))
    return out

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

__all__ = ["METRIC_COLUMNS", "best_constant_accuracy", "classification_metrics", "daily_ic", "daily_ic_series",
           "decile_spread", "icir", "pooled", "target_metrics"]

METRIC_COLUMNS = ("n", "base_rate", "best_constant_accuracy", "accuracy", "balanced_accuracy", "roc_auc", "log_loss",
                  "brier", "ic", "rank_ic")


def best_constant_accuracy(base_rate: float) -> float:
    """Accuracy of the best constant guess for a share ``base_rate`` of up labels: always-up scores
    ``base_rate`` (so the base rate IS always-up's accuracy), always-down ``1 - base_rate``; the
    better of the two is the number a classifier must beat. NaN stays NaN."""
    return float(max(base_rate, 1.0 - base_rate)) if np.isfinite(base_rate) else float("nan")


def pooled(frame: pd.DataFrame, column: str, weight: str = "n") -> float:
    """Sample-weighted mean of a per-window metric column (windows with a NaN metric or no sample
    left out); NaN when nothing is left or the column is missing."""
    if column not in frame:
        return float("nan")
    w = frame[weight].to_numpy(dtype=float)
    v = frame[column].to_numpy(dtype=float)
    ok = np.isfinite(v) & (w > 0)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() else float("nan")


def daily_ic_series(dates: np.ndarray, p_up: np.ndarray, ret: np.ndarray, method: str = "pearson") -> pd.Series:
    """The daily cross-sectional correlation between p_up and the realised return, by day.

    Days with fewer than 3 stocks or a constant p_up or return are left out (correlation
    undefined). ``method``: ``'pearson'`` (IC) or ``'spearman'`` (rank IC, average ranks for ties).
    Unitless, in [-1, 1]. Measured per day so that the market's common move of the day (which
    decides plain accuracy on a single date) does not count."""
    df = pd.DataFrame({"d": dates, "p": p_up, "r": ret}).dropna()
    if df.empty:
        return pd.Series(dtype=float)
    if method == "spearman":
        df["p"] = df.groupby("d")["p"].rank()
        df["r"] = df.groupby("d")["r"].rank()
    n = df.groupby("d")["p"].transform("size")
    df = df[n >= 3]
    if df.empty:
        return pd.Series(dtype=float)
    g = df.groupby("d")
    dp = df["p"] - g["p"].transform("mean")
    dr = df["r"] - g["r"].transform("mean")
    tmp = pd.DataFrame({"d": df["d"], "pr": dp * dr, "pp": dp * dp, "rr": dr * dr}).groupby("d").sum()
    denom = np.sqrt(tmp["pp"] * tmp["rr"])
    ok = denom > 1e-12 * np.maximum(1.0, tmp["pp"].abs().max())
    return (tmp.loc[ok, "pr"] / denom[ok]).astype(float)


def daily_ic(dates: np.ndarray, p_up: np.ndarray, ret: np.ndarray, method: str = "pearson") -> float:
    """Mean over days of :func:`daily_ic_series` (the IC, or the rank IC); NaN when no day is left."""
    s = daily_ic_series(dates, p_up, ret, method)
    return float(s.mean()) if len(s) else float("nan")


def icir(daily: pd.Series) -> float:
    """Mean / standard deviation (ddof 1) of a daily IC series (not annualised); NaN with < 2 days."""
    d = pd.Series(daily, dtype=float).dropna()
    sd = float(d.std()) if len(d) > 1 else float("nan")
    return float(d.mean() / sd) if np.isfinite(sd) and sd > 0 else float("nan")


def decile_spread(dates: np.ndarray, p_up: np.ndarray, ret: np.ndarray, q: int = 10) -> float:
    """Mean over days of (mean return of the top ``1/q`` by p_up) - (that of the bottom ``1/q``):
    a simple return per day (e.g. 0.002 = 0.2%), before costs; days with fewer than ``q`` stocks
    are left out."""
    df = pd.DataFrame({"d": dates, "p": p_up, "r": ret}).dropna()
    if df.empty:
        return float("nan")
    pct = df.groupby("d")["p"].rank(pct=True, method="first")
    n = df.groupby("d")["p"].transform("size")
    df = df.assign(top=pct > 1 - 1 / q, bottom=pct <= 1 / q)[n >= q]
    if df.empty:
        return float("nan")
    top = df[df["top"]].groupby("d")["r"].mean()
    bottom = df[df["bottom"]].groupby("d")["r"].mean()
    return float((top - bottom).dropna().mean())


def target_metrics(event: np.ndarray, p_up: np.ndarray) -> dict[str, float]:
    """Accuracy and ROC AUC of ``p_up`` against the target's own binary event (e.g. "beats the
    day's median"), where it is known: ``target_n``, ``target_base_rate``, ``target_accuracy``,
    ``target_roc_auc``. The raw up/down figures are :func:`classification_metrics`'."""
    e = np.asarray(event, dtype=np.float64)
    p = np.asarray(p_up, dtype=np.float64)
    known = np.isfinite(e)
    y, pk = e[known].astype(int), p[known]
    nan = float("nan")
    if not known.any():
        return {"target_n": 0, "target_base_rate": nan, "target_accuracy": nan, "target_roc_auc": nan}
    return {"target_n": int(known.sum()), "target_base_rate": float(y.mean()),
            "target_accuracy": float(accuracy_score(y, (pk > 0.5).astype(int))),
            "target_roc_auc": float(roc_auc_score(y, pk)) if len(np.unique(y)) == 2 else nan}


def classification_metrics(label: np.ndarray, p_up: np.ndarray, ret: np.ndarray | None = None,
                           dates: np.ndarray | None = None) -> dict[str, float]:
    """Metrics on the samples whose label is known.

    A sample is predicted "up" when ``p_up > 0.5``. Returns ``n`` (samples with a known label),
    ``base_rate`` (share up, which is also the accuracy of always predicting up),
    ``best_constant_accuracy`` (see :func:`best_constant_accuracy`), ``accuracy``,
    ``balanced_accuracy``, ``roc_auc`` (NaN with one class only), ``log_loss`` (nats; probabilities
    clipped by scikit-learn), ``brier`` (mean squared error of p_up), ``ic``/``rank_ic`` (see
    :func:`daily_ic`; pooled over all samples when ``dates`` is None)."""
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
    out["best_constant_accuracy"] = best_constant_accuracy(out["base_rate"])
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
    return out

"""What the list is worth: the model's walk-forward record just before the predicted day.

The record is a small walk-forward run of its own, fitted in the same call as the prediction:
``--record N`` windows of the configuration's layout (``test_days`` each, ``step_days`` apart),
laid out so that the last of them ends the day before the decision day; every window fitted only
on data before its test span, exactly as a run fits it. It is measured one way, as a run measures
signal strength: the IC and rank IC of each test day (:func:`signals.metrics.daily_ic_series`:
score against the return the strategy captures, over the day's tradable members), their means
with a stationary-bootstrap 95% interval and the ICIR (:func:`backtests.evidence.stats.mean_interval`),
and the accuracy. Days whose label is not known yet (the last ``1 + horizon`` before the decision
day) are left out. It is honest and affordable: out-of-sample, recent, and as many fits as windows.

:func:`style_exposures` gives the style exposures of the new scores (their rank correlation with
each style of :mod:`signals.styles`), so the user sees how much of the list is a free style.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from data_store import MarketData

from ..evidence.stats import mean_interval

__all__ = ["RECORD_WINDOW_COLUMNS", "record_summary", "record_windows", "style_exposures"]

RECORD_WINDOW_COLUMNS = ["window", "model", "test_start", "test_end", "n", "accuracy", "roc_auc", "ic", "rank_ic",
                         "train_start", "train_end", "val_start", "val_end", "fit_label_end"]


def record_windows(window_metrics: pd.DataFrame, last: int) -> pd.DataFrame:
    """The per-window metrics of the record windows (those before window ``last``, the prediction's)."""
    wm = window_metrics[window_metrics["window"] < last]
    return wm[[c for c in RECORD_WINDOW_COLUMNS if c in wm.columns]].reset_index(drop=True)


def record_summary(predictions: pd.DataFrame, window_metrics: pd.DataFrame, last: int, *, reps: int = 1000,
                   seed: int = 0) -> pd.DataFrame:
    """One row per model over the record windows: ``days``, ``first``/``last`` test day with a known
    label, ``ic`` and ``rank_ic`` (means of the daily series) with ``*_lo``/``*_hi`` (95%
    stationary-bootstrap interval) and ``*_ir`` (ICIR), and the sample-weighted ``accuracy``."""
    from signals.metrics import daily_ic_series, pooled  # scikit-learn: only once the fit has run

    rec = predictions[(predictions["window"] < last) & np.isfinite(predictions["ret"].to_numpy(dtype=float))]
    rows: list[dict[str, Any]] = []
    for model, g in rec.groupby("model", sort=False):
        row: dict[str, Any] = {"model": model, "days": int(g["date"].nunique()),
                               "first": g["date"].min(), "last": g["date"].max()}
        for name, method in (("ic", "pearson"), ("rank_ic", "spearman")):
            daily = daily_ic_series(g["date"].to_numpy(), g["p_up"].to_numpy(), g["ret"].to_numpy(), method)
            res = mean_interval(daily, reps=reps, seed=seed)
            row.update({name: res["estimate"], f"{name}_lo": res["lo"], f"{name}_hi": res["hi"],
                        f"{name}_ir": res["ir"]})
        wm = window_metrics[(window_metrics["window"] < last) & (window_metrics["model"] == model)]
        row["accuracy"] = pooled(wm, "accuracy")
        rows.append(row)
    return pd.DataFrame(rows)


def style_exposures(md: MarketData, scores: pd.Series, day: pd.Timestamp) -> pd.DataFrame | None:
    """The style exposures of the day's scores: for each continuous style of the library that the
    data hold (:func:`signals.styles.library.compute_styles`, point in time: the values of ``day``
    read data up to its close only), the rank correlation across the scored names between the score
    and the style's premium side (low volatility, low beta, recent losers, winners of the past year,
    illiquid, small, cheap names), with its title and the number of names it was measured on.

    A list that leans +0.5 on low volatility mostly holds defensive names, which anyone can hold
    without a model. None when fewer than 30 names have a score (too few to measure an exposure)."""
    from signals.styles.library import compute_styles

    s = pd.to_numeric(scores, errors="coerce").dropna()
    if len(s) < 30 or day not in md.calendar:
        return None
    sub = md.slice(end=day, symbols=[str(x) for x in s.index if str(x) in set(md.symbols)])
    panel = compute_styles(sub)
    row = sub.calendar.get_loc(day)
    out = []
    for name in panel.continuous:
        side = pd.Series(panel.premium(name)[row], index=panel.symbols)
        both = pd.concat([s.rename("score"), side.rename("style")], axis=1, join="inner").dropna()
        if len(both) < 30:
            continue
        out.append({"style": name, "title": panel.style(name).title,
                    "exposure": float(both["score"].rank().corr(both["style"].rank())), "names": len(both)})
    return pd.DataFrame(out, columns=["style", "title", "exposure", "names"]) if out else None

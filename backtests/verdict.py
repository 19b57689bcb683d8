"""The verdict: what the numbers of a run say about skill, in plain words."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from .analysis import accuracy_edge
from .formatting import fmt, pct

__all__ = ["verdict"]


def verdict(model: str, pooled: Mapping[str, Any], windows: pd.DataFrame) -> str:
    """A plain-words verdict computed from a model's pooled metrics and its per-window table.

    ``pooled``: ``accuracy``, ``base_rate`` (share of up labels = always-up's accuracy),
    ``best_constant_accuracy``, ``n``, ``roc_auc``, ``ic``, ``annual_excess_return``;
    ``windows``: one row per window with ``accuracy``, ``best_constant_accuracy`` and (when traded)
    ``excess_return``. Skill is judged against the best constant guess, the majority class
    (always-up or always-down, whichever scores more): beating a 46% always-up by predicting "down"
    every day is no skill. An edge counts only when it exceeds twice its naive standard error.
    """
    acc, up, best = (float(pooled.get(k, np.nan)) for k in ("accuracy", "base_rate", "best_constant_accuracy"))
    n, auc, ic = int(pooled.get("n", 0)), float(pooled.get("roc_auc", np.nan)), float(pooled.get("ic", np.nan))
    excess = float(pooled.get("annual_excess_return", np.nan))
    traded = "excess_return" in windows and windows["excess_return"].notna().any()
    won = int((windows["excess_return"] > 0).sum()) if traded else 0
    beat = int((windows["accuracy"] > windows["best_constant_accuracy"]).sum())
    edge, se = accuracy_edge(acc, up, n)
    which = "always-up" if up >= 0.5 else "always-down"
    medge, _ = accuracy_edge(acc, best, n)
    parts = [
        f"{model}: accuracy {pct(acc)} vs {pct(up)} always-up ({edge:+.1f} pp); "
        f"the best constant guess ({which}) scores {pct(best)}, an edge of {medge:+.1f} pp "
        f"(naive s.e. {se:.1f} pp); AUC {fmt(auc, 'f3')}; IC {fmt(ic, 'sf3')}; "
        f"annual excess return after costs {pct(excess, sign=True)} vs CSI-300.",
        f"Accuracy beat the best constant guess in {beat} of {len(windows)} windows; "
        f"the strategy beat the index in {won} of {len(windows)}.",
    ]
    skill = bool(np.isfinite(medge) and medge > 2 * se and np.isfinite(auc) and auc > 0.5)
    money = bool(np.isfinite(excess) and excess > 0)
    if skill and money:
        parts.append("The prediction edge is larger than its naive error and the strategy earned an excess return "
                     "after costs.")
    elif skill:
        parts.append("The prediction edge is real on paper but did not survive trading: after costs the strategy "
                     "trailed the index.")
    elif money:
        parts.append("The strategy beat the index, but its accuracy does not beat the best constant guess beyond "
                     "noise: treat the excess as luck or exposure, not skill.")
    else:
        parts.append("No evidence of skill: accuracy does not beat the best constant guess beyond noise, "
                     "and the strategy did not beat the index after costs.")
    return " ".join(parts)

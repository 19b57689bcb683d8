"""Leakage audit: the future must not move any prediction of the past.

For each cut date T the whole walk-forward (features, labels, scaler, training, prediction) is rerun
twice: once with every bar after T CHANGED (prices and volumes of the stocks and of the index
scrambled by random factors, some days made untradable) and once with every bar after T REMOVED.
Every prediction for a date <= T must come out the same as in the untouched run. A structural
check goes with it: no sample used in fitting (training or early stopping) of a model that
predicts a date <= T may have a label that ends after T. The rerun catches leaks through features
and preprocessing; the structural check makes the catch of a too-short embargo certain (a changed
label only sometimes changes a fitted weight by enough to see)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from data_store.market import MarketData

from .errors import ConfigError
from .features import FeatureConfig
from .labels import LabelConfig
from .models import LSTMClassifier
from .runtime import pin_threads
from .split import WalkForwardSplit, Window
from .walk_forward import run_walk_forward

__all__ = ["AuditReport", "leakage_audit", "perturb_after"]

log = logging.getLogger(__name__)


@dataclass
class AuditReport:
    """Verdict of :func:`leakage_audit`: ``passed``, one row of ``details`` per (cut, check), and a
    one-paragraph ``message`` naming what failed and where."""

    passed: bool
    details: pd.DataFrame = field(default_factory=pd.DataFrame)
    message: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return self.message


def perturb_after(md: MarketData, cut: pd.Timestamp, seed: int = 0) -> MarketData:
    """A copy of ``md`` whose bars (and index bars) after ``cut`` are scrambled: prices x a random
    factor in [0.7, 1.3] per (day, symbol) (OHLC together, so bars stay valid), volume x [0.3, 3],
    and 5% of those bars get volume 0 (suspended). Bars on or before ``cut`` are untouched."""
    rng = np.random.default_rng(seed)
    bars = md.bars.copy()
    after = (bars["date"] > cut).to_numpy()
    n = int(after.sum())
    f = rng.uniform(0.7, 1.3, n)
    for c in ("open", "high", "low", "close"):
        bars.loc[after, c] = bars.loc[after, c].to_numpy() * f
    vol = bars.loc[after, "volume"].to_numpy() * rng.uniform(0.3, 3.0, n)
    vol[rng.random(n) < 0.05] = 0.0
    bars.loc[after, "volume"] = vol
    idx = md.index.copy()
    ia = (idx["date"] > cut).to_numpy()
    g = rng.uniform(0.9, 1.1, int(ia.sum()))
    for c in ("open", "high", "low", "close"):
        idx.loc[ia, c] = idx.loc[ia, c].to_numpy() * g
    return replace(md, bars=bars, index=idx, _memo={})


def _default_cuts(windows: list[Window], n_windows: int) -> list[pd.Timestamp]:
    ws = windows[:n_windows]
    cuts = [ws[0].test_start]  # a window boundary: the first test day
    span = ws[0]
    mid = span.test_start + (span.test_end - span.test_start) / 2
    cuts.append(pd.Timestamp(mid).normalize())  # inside a test span
    if len(ws) > 1:
        cuts.append(ws[-1].test_start)  # the boundary between two windows
    return sorted(set(cuts))


def _compare(ref: pd.DataFrame, new: pd.DataFrame, cut: pd.Timestamp, atol: float) -> dict[str, Any]:
    a = ref.loc[ref["date"] <= cut, ["date", "symbol", "model", "p_up"]]
    b = new.loc[new["date"] <= cut, ["date", "symbol", "model", "p_up"]]
    m = a.merge(b, on=["date", "symbol", "model"], how="outer", suffixes=("_ref", "_new"), indicator=True)
    missing = int((m["_merge"] != "both").sum())
    both = m[m["_merge"] == "both"]
    diff = (both["p_up_ref"] - both["p_up_new"]).abs().to_numpy()
    changed = both.loc[diff > atol]
    return {"compared": len(both), "rows_missing_or_extra": missing,
            "changed": len(changed), "max_abs_diff": float(diff.max()) if len(diff) else 0.0,
            "example": "" if changed.empty else
            f"{changed.iloc[0]['model']} {changed.iloc[0]['symbol']} {changed.iloc[0]['date'].date()}: "
            f"p_up {changed.iloc[0]['p_up_ref']:.6f} -> {changed.iloc[0]['p_up_new']:.6f}"}


def leakage_audit(md: MarketData, features: FeatureConfig | None = None, labels: LabelConfig | None = None,
                  splitter: WalkForwardSplit | None = None, estimator: Any = None,
                  baselines: Sequence[str] = ("logistic",), cut_dates: Sequence[Any] | None = None,
                  max_windows: int = 2, symbols: Sequence[str] | None = None, atol: float = 1e-6,
                  seed: int = 0, progress: bool = False) -> AuditReport:
    """Prove (or disprove) that predictions for dates <= T depend on data up to T only.

    Run it on a small universe (it retrains several times): e.g. ``md.slice(symbols=[...20 names])``.

    Args:
        md, features, labels, splitter, estimator, baselines: the configuration under audit, exactly
            as given to :func:`run_walk_forward`.
        cut_dates: the dates T; default: the first window's first test day (a boundary), a day in the
            middle of its test span, and the first test day of window ``max_windows - 1``.
        max_windows: windows audited when ``cut_dates`` is None (each cut reruns only the windows whose
            test span starts on or before it).
        symbols: restrict ``md`` to these symbols first.
        atol: largest |p_up difference| still counted as unchanged. Training is deterministic, but
            a shorter test set changes the batch shapes of prediction and with them the last float32
            bit (differences ~6e-8 are seen); leaks move p_up by orders of magnitude more.
        seed: seed of the scrambled data.

    Returns:
        :class:`AuditReport` with ``passed``, a ``details`` table (cut, check, rows compared, rows
        changed, max |difference|, an example) and a ``message``.
    """
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    splitter = splitter or WalkForwardSplit()
    if symbols is not None:
        md = md.slice(symbols=list(symbols))
    windows = list(splitter.split(md.calendar, labels))
    cuts = ([pd.Timestamp(c) for c in cut_dates] if cut_dates is not None
            else _default_cuts(windows, max(1, int(max_windows))))
    early = [c for c in cuts if c < windows[0].test_start]
    if early:
        raise ConfigError(f"cut date(s) {[str(c.date()) for c in early]} lie before the first test day "
                          f"{windows[0].test_start.date()}: no prediction to check; choose later cut dates")
    late = [c for c in cuts if c >= md.calendar[-1]]
    if late:
        raise ConfigError(f"cut date(s) {[str(c.date()) for c in late]} are not before the last data day "
                          f"{md.calendar[-1].date()}: nothing after them to change")

    def upto(cut: pd.Timestamp) -> list[int]:
        return [w.index for w in windows if w.test_start <= cut]

    estimator = pin_threads(estimator if estimator is not None else LSTMClassifier())
    common = dict(features=features, labels=labels, splitter=splitter, estimator=estimator, baselines=baselines,
                  progress=progress)
    ref = run_walk_forward(md, **common, only_windows=upto(max(cuts)))
    rows: list[dict[str, Any]] = []
    for k, cut in enumerate(cuts):
        wins = upto(cut)
        # structural: labels of every fitted sample of a model predicting dates <= cut end by the cut
        wm = ref.window_metrics[ref.window_metrics["window"].isin(wins)]
        late_fit = wm[pd.to_datetime(wm["fit_label_end"]) > cut]
        rows.append({"cut": cut, "check": "fitted labels end by the cut", "windows": len(wins),
                     "compared": len(wm), "changed": len(late_fit), "max_abs_diff": np.nan,
                     "rows_missing_or_extra": 0,
                     "example": "" if late_fit.empty else
                     f"window {int(late_fit.iloc[0]['window'])} ({late_fit.iloc[0]['model']}) fits a label ending "
                     f"{pd.Timestamp(late_fit.iloc[0]['fit_label_end']).date()}",
                     "passed": late_fit.empty})
        for variant, data in (("bars after cut changed", perturb_after(md, cut, seed + k)),
                              ("bars after cut removed", md.slice(end=cut))):
            new = run_walk_forward(data, **common, only_windows=wins)
            cmp = _compare(ref.predictions, new.predictions, cut, atol)
            ok = cmp["changed"] == 0 and cmp["rows_missing_or_extra"] == 0 and cmp["compared"] > 0
            rows.append({"cut": cut, "check": variant, "windows": len(wins), **cmp, "passed": ok})
            log.info("audit cut %s, %s: %d compared, %d changed", cut.date(), variant, cmp["compared"], cmp["changed"])
    details = pd.DataFrame(rows)
    passed = bool(details["passed"].all())
    cut_txt = ", ".join(str(c.date()) for c in cuts)
    n_cmp = int(details.loc[details["check"] != "fitted labels end by the cut", "compared"].sum())
    if passed:
        msg = (f"no look-ahead found: at cut dates {cut_txt}, changing or removing every bar after the cut left all "
               f"{n_cmp} compared predictions for dates <= the cut unchanged (max |diff| "
               f"{np.nanmax(details['max_abs_diff'].to_numpy(float)):.2g}), and every fitted label ended by its cut")
    else:
        bad = details[~details["passed"]]
        parts = []
        for _, r in bad.iterrows():
            what = (f"{r['changed']} of {r['compared']} predictions changed"
                    if r["check"] != "fitted labels end by the cut"
                    else f"{r['changed']} fitted model(s) used labels ending after the cut")
            if r.get("rows_missing_or_extra"):
                what += f", {r['rows_missing_or_extra']} rows missing or extra"
            parts.append(f"cut {pd.Timestamp(r['cut']).date()} [{r['check']}]: {what}"
                         + (f" (e.g. {r['example']})" if r["example"] else ""))
        msg = ("LOOK-AHEAD: predictions depend on data after their date; " + "; ".join(parts)
               + ". Check custom features for centred/forward windows, and the embargo (>= horizon + 1).")
    return AuditReport(passed=passed, details=details, message=msg)

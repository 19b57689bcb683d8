"""One walk-forward window, the unit of work: fit on its training rows, predict its test rows.

:func:`fit_predict_window` is the only code that fits and predicts a window. ``run_walk_forward``
calls it through an executor (in this process or as Ray tasks), and the leakage audit through
``run_walk_forward``; so every path trains and scores a window the same way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from .errors import ConfigError
from .inputs.features import FeatureConfig
from .inputs.labels import LabelConfig
from .inputs.prepared import Prepared
from .inputs.scaling import SequenceScaler
from .metrics import classification_metrics, target_metrics
from .models.checkpoints import checkpoint_bytes, checkpoint_name
from .models.registry import make_baseline
from .models.sequence import SequenceEstimator
from .models.tags import get_tags
from .split import WalkForwardSplit, Window

__all__ = ["WindowJob", "WindowOutput", "fit_predict_window", "window_memory_mb"]

#: a worker process's memory besides a window's arrays: the interpreter, torch, scikit-learn, LightGBM
_BASE_MB = 600.0
#: a window's working memory per byte of one copy of its sample tensors (raw, the scaled test copy,
#: the fit's batches and the baselines' channel slices), on the generous side of what was measured
_SAMPLE_COPIES = 1.5


@dataclass(frozen=True)
class WindowJob:
    """What every window of one run shares besides the prepared arrays: the settings and models.

    ``estimator`` is a template (each window fits a ``sklearn.base.clone``) whose thread count the
    driver has already pinned; ``scaler`` is the per-window scaler template."""

    features: FeatureConfig
    labels: LabelConfig
    splitter: WalkForwardSplit
    estimator: Any
    model_name: str
    baselines: tuple[str, ...] = ()
    scaler: SequenceScaler | None = None
    progress: bool = False
    checkpoints: bool = False


@dataclass
class WindowOutput:
    """A fitted and scored window: its prediction rows (None when its test span has no tradable
    member day), one metrics row per model, checkpoint files as bytes, and a log line."""

    window: int
    predictions: pd.DataFrame | None
    metrics: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: dict[str, bytes] = field(default_factory=dict)
    message: str = ""


def window_memory_mb(prepared: Prepared, window: Window, splitter: WalkForwardSplit) -> float:
    """About how much memory fitting ``window`` needs in a worker process, in MB, on the generous
    side: its sample tensors (:data:`_SAMPLE_COPIES` copies; the training set capped at
    ``max_train_samples``) and its table of the day's channels, the padded copy of the feature panel
    that cutting samples makes, and the libraries. Counted from the eligible days, without
    building any rows. (The quick preset's windows, about 195,000 samples of 10 days x 168
    channels, needed about 1.5 GB besides the padded panel's 0.8 GB in one process.)"""
    r0, r1, v0, v1, t0, t1 = window.pos
    el = prepared.eligible
    n_train = int(el[r0:r1 + 1].sum())
    if splitter.max_train_samples is not None:
        n_train = min(n_train, splitter.max_train_samples)
    n = n_train + int(el[v0:v1 + 1].sum()) + int(el[t0:t1 + 1].sum())
    day = prepared.panel.day
    channels, lookback = day.shape[-1], prepared.panel.config.lookback
    sample_bytes = n * channels * day.itemsize * (_SAMPLE_COPIES * lookback + 1)
    padded_bytes = day.nbytes * (1 + (lookback - 1) / max(1, day.shape[0]))
    return (sample_bytes + padded_bytes) / 1e6 + _BASE_MB


def fit_predict_window(prepared: Prepared, window: Window, job: WindowJob) -> WindowOutput:
    """Fit ``job``'s estimator and baselines on ``window``'s training rows (early stopping on its
    validation rows) and predict every test row (point-in-time member and tradable on the day).

    The scaler is fitted on the window's training rows only. Raises :class:`ConfigError` when the
    window has no training or validation sample."""
    w = window
    rows = job.splitter.rows(w, prepared.eligible, prepared.fit_known())
    n_tr, n_va, n_te = len(rows.train[0]), len(rows.val[0]), len(rows.test[0])
    if n_te == 0:
        return WindowOutput(window=w.index, predictions=None,
                            message=f"{w}: no tradable member day in the test span; skipped")
    if n_tr == 0 or n_va == 0:
        raise ConfigError(f"{w}: {n_tr} training and {n_va} validation samples; the window cannot be fitted "
                          "(too few symbols or days; a cross-sectional target (labels.relative = 'median', target "
                          "rank or zscore) needs 2 or more stocks a day): widen train_days/val_days or add symbols")
    t0 = time.perf_counter()
    panel, labels, cal = prepared.panel, prepared.labels, prepared.calendar
    uses = {get_tags(m).input for m in [job.estimator, *[make_baseline(b) for b in job.baselines]]}
    Xtr_raw = panel.samples(*rows.train)
    Xva_raw = panel.samples(*rows.val)
    Xte_raw = panel.samples(*rows.test)
    ytr, yva = labels.target[rows.train], labels.target[rows.val]
    etr, eva = labels.event[rows.train], labels.event[rows.val]
    fit_kw = {"groups": rows.train[0], "eval_groups": rows.val[0], "eval_returns": labels.target_ret[rows.val]}
    tab = {k: panel.tabular(*r) for k, r in (("train", rows.train), ("val", rows.val), ("test", rows.test))} \
        if "tabular" in uses else {}
    sc = SequenceScaler(job.scaler.method, job.scaler.clip) if job.scaler is not None else SequenceScaler()
    sc.fit(Xtr_raw)
    # training and validation tensors are scaled in place (they are the big ones); the raw test
    # tensor is kept for the baselines that read raw values (yesterday's direction)
    Xtr, Xva, Xte = sc.transform(Xtr_raw, copy=False), sc.transform(Xva_raw, copy=False), sc.transform(Xte_raw)
    t_feat = time.perf_counter() - t0
    # the last label end (calendar position) of any sample used in fitting: the audit checks it
    fit_end = int(max(rows.train[0].max(), rows.val[0].max())) + labels.end_offset
    fit_label_end = cal[fit_end] if fit_end < len(cal) else cal[-1] + pd.offsets.BDay(fit_end - len(cal) + 1)
    te_d, te_s = rows.test
    syms = np.asarray(prepared.symbols, dtype=object)
    base = pd.DataFrame({"date": cal[te_d], "symbol": syms[te_s],
                         "label": labels.label[te_d, te_s], "ret": labels.ret[te_d, te_s],
                         "target": labels.target[te_d, te_s]})
    event_te = labels.event[te_d, te_s]
    seed = getattr(job.estimator, "seed", 0)
    threads = getattr(job.estimator, "num_threads", None)
    models: list[tuple[str, Any]] = [(job.model_name, clone(job.estimator))]
    models += [(b, make_baseline(b, seed, threads)) for b in job.baselines]
    lin = job.features.linear_channels
    out = WindowOutput(window=w.index, predictions=None)
    preds = []
    for mname, model in models:
        t1 = time.perf_counter()
        tags = get_tags(model)
        y_fit, y_val = (etr, eva) if tags.event_target else (ytr, yva)
        if tags.input == "tabular":
            fit_X, val_X, test_X = tab["train"], tab["val"], tab["test"]
        elif tags.linear_channels_only:  # the logistic: every channel but the factors
            fit_X, val_X, test_X = Xtr[:, :, lin], Xva[:, :, lin], Xte[:, :, lin]
        else:  # the raw-reading baselines are fitted without looking at X (always-up, yesterday)
            fit_X, val_X = Xtr, Xva
            test_X = Xte if tags.scaled_input else Xte_raw
        if isinstance(model, SequenceEstimator):
            model.set_params(progress=job.progress)
        model.fit(fit_X, y_fit, eval_set=(val_X, y_val), **fit_kw)
        p = model.predict_proba(test_X)[:, 1].astype(np.float64)
        fit_s = time.perf_counter() - t1
        preds.append(base.assign(p_up=p, window=w.index, model=mname))
        met = classification_metrics(base["label"].to_numpy(), p, base["ret"].to_numpy(), te_d)
        met.update(target_metrics(event_te, p))
        info = {"train_samples": n_tr, "val_samples": n_va, "test_samples": n_te,
                "epochs": getattr(model, "n_epochs_", np.nan), "best_epoch": getattr(model, "best_epoch_", np.nan),
                "best_val_loss": getattr(model, "best_val_loss_", np.nan), "fit_seconds": round(fit_s, 3),
                "feature_seconds": round(t_feat, 3), "fit_label_end": fit_label_end}
        out.metrics.append({**w.as_dict(), "model": mname, **met, **info})
        if job.checkpoints and isinstance(model, SequenceEstimator):
            out.checkpoints[checkpoint_name(w.index, mname)] = checkpoint_bytes(model, sc, w, job.features,
                                                                                 job.labels)
    out.predictions = pd.concat(preds, ignore_index=True)
    out.message = f"{w}: {n_tr} train / {n_va} val / {n_te} test samples in {time.perf_counter() - t0:.1f} s"
    return out

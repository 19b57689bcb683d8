"""Causal up/down signals: features, labels, walk-forward splits, models, predictions, leakage audit.

Time convention: a prediction dated t uses data up to the close of t; its trade fills at the open of
t+1; the traded return is adjusted open(t+2) / open(t+1) - 1, and every target (its sign, relative to
the day's median or the index, its daily rank or z-score; or the close-to-close span) is defined from
it in :func:`make_labels`. ``p_up`` is always the probability of the target's event.

    import data_store, signals
    md = data_store.load(use_cache=False).slice("2019-01-01", "2025-06-30")
    res = signals.run_walk_forward(
        md, features=signals.FeatureConfig(lookback=20), labels=signals.LabelConfig(horizon=1),
        splitter=signals.WalkForwardSplit(train_days=484, val_days=60, test_days=121,
                                          test_start="2022-01-01", max_train_samples=60_000),
        estimator=signals.LSTMClassifier(hidden_size=32, max_epochs=6, patience=2))
    res.summary(); res.save("out/")
    rep = signals.leakage_audit(md.slice(symbols=[...20 symbols...]), features=..., labels=...,
                                splitter=..., estimator=...)
    assert rep.passed, rep.message

Where each concept lives: configuration of the inputs :mod:`signals.features` (FeatureConfig),
of the target :mod:`signals.labels`, of the windows :mod:`signals.split`, of the model
:mod:`signals.model_config` (ModelConfig), the estimators :mod:`signals.models`; networks :mod:`signals.networks`, the
training loop :mod:`signals.training` and its objectives :mod:`signals.objectives`, the factor library
:mod:`signals.factors`, calibration and seed ensembles :mod:`signals.calibration`, LightGBM
:mod:`signals.gbdt`, threads and devices :mod:`signals.runtime`; one window's
fit and prediction :mod:`signals.window`; the run over all windows :mod:`signals.walk_forward`,
on an executor of :mod:`signals.executors` (local or Ray).

The names below are imported when first used (PEP 562), so ``import signals`` and the
configuration classes (features, labels, split, model settings, executor) cost no torch or
scikit-learn import: a command line answers ``--help`` and configuration errors at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

#: public name -> the submodule that defines it
_EXPORTS = {
    "AuditReport": "audit", "leakage_audit": "audit",
    "AlwaysUpBaseline": "baselines", "LogisticBaseline": "baselines", "YesterdayBaseline": "baselines",
    "load_checkpoint": "checkpoints",
    "LookaheadError": "errors", "NotFittedError": "errors",
    "ExecutorConfig": "executors", "LocalExecutor": "executors", "RayExecutor": "executors",
    "make_executor": "executors",
    "FeatureConfig": "features", "FeaturePanel": "features", "build_feature_panel": "features",
    "LabelConfig": "labels", "Labels": "labels", "make_labels": "labels",
    "best_constant_accuracy": "metrics", "classification_metrics": "metrics", "daily_ic": "metrics",
    "daily_ic_series": "metrics", "decile_spread": "metrics", "icir": "metrics",
    "FACTOR_NAMES": "factors", "compute_factors": "factors",
    "LightGBMBaseline": "gbdt",
    "ModelConfig": "model_config",
    "AttentionLSTMClassifier": "models", "GRUClassifier": "models", "LSTMClassifier": "models",
    "SequenceClassifier": "models", "SequenceEstimator": "models",
    "check_causal": "networks",
    "Prepared": "prepared", "prepare": "prepared",
    "resolve_device": "runtime",
    "SequenceScaler": "scaling",
    "WalkForwardSplit": "split", "Window": "split",
    "IncompleteRunError": "walk_forward", "WalkForwardResult": "walk_forward", "run_walk_forward": "walk_forward",
    "WindowJob": "window", "WindowOutput": "window", "fit_predict_window": "window",
}

__all__ = [
    "FACTOR_NAMES", "LightGBMBaseline", "compute_factors", "daily_ic_series", "decile_spread", "icir",
    "AlwaysUpBaseline", "AttentionLSTMClassifier", "AuditReport", "ExecutorConfig", "FeatureConfig", "FeaturePanel",
    "GRUClassifier", "IncompleteRunError", "LSTMClassifier", "LabelConfig", "Labels", "LocalExecutor",
    "LogisticBaseline", "LookaheadError", "ModelConfig", "NotFittedError", "Prepared", "RayExecutor",
    "SequenceClassifier", "SequenceEstimator", "SequenceScaler", "WalkForwardResult", "WalkForwardSplit", "Window",
    "WindowJob", "WindowOutput", "YesterdayBaseline", "best_constant_accuracy", "build_feature_panel",
    "check_causal", "classification_metrics", "daily_ic", "fit_predict_window", "leakage_audit", "load_checkpoint",
    "make_executor", "make_labels", "prepare", "resolve_device", "run_walk_forward",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from .audit import AuditReport, leakage_audit
    from .baselines import AlwaysUpBaseline, LogisticBaseline, YesterdayBaseline
    from .checkpoints import load_checkpoint
    from .errors import LookaheadError, NotFittedError
    from .executors import ExecutorConfig, LocalExecutor, RayExecutor, make_executor
    from .factors import FACTOR_NAMES, compute_factors
    from .features import FeatureConfig, FeaturePanel, build_feature_panel
    from .gbdt import LightGBMBaseline
    from .labels import LabelConfig, Labels, make_labels
    from .metrics import best_constant_accuracy, classification_metrics, daily_ic, daily_ic_series, decile_spread, icir
    from .model_config import ModelConfig
    from .models import AttentionLSTMClassifier, GRUClassifier, LSTMClassifier, SequenceClassifier, SequenceEstimator
    from .networks import check_causal
    from .prepared import Prepared, prepare
    from .runtime import resolve_device
    from .scaling import SequenceScaler
    from .split import WalkForwardSplit, Window
    from .walk_forward import IncompleteRunError, WalkForwardResult, run_walk_forward
    from .window import WindowJob, WindowOutput, fit_predict_window

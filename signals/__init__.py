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

Where each concept lives:

- :mod:`signals.inputs`: what a model reads and learns: features, the factor library, the one
  labelling function, scaling, and the prepared arrays every window shares;
- :mod:`signals.models`: the estimators (sequence networks, baselines, LightGBM), their settings,
  declared capabilities and registry, the training loop, objectives, calibration and checkpoints;
- :mod:`signals.execution`: where windows run (local or Ray executors) and how (threads, devices);
- :mod:`signals.audit`: the leakage audit;
- at the top: the walk-forward windows (:mod:`signals.split`), one window's fit and prediction
  (:mod:`signals.window`), the run over all windows (:mod:`signals.walk_forward`) and the metrics
  of a window's predictions (:mod:`signals.metrics`).

The names below are imported when first used (PEP 562), so ``import signals`` and the
configuration classes (features, labels, split, model settings, executor) cost no torch or
scikit-learn import: a command line answers ``--help`` and configuration errors at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

#: public name -> the submodule that defines it
_EXPORTS = {
    "AuditReport": "audit.leakage", "leakage_audit": "audit.leakage",
    "AlwaysUpBaseline": "models.baselines", "LogisticBaseline": "models.baselines",
    "YesterdayBaseline": "models.baselines",
    "load_checkpoint": "models.checkpoints",
    "LookaheadError": "errors", "NotFittedError": "errors",
    "ExecutorConfig": "execution.factory", "make_executor": "execution.factory",
    "LocalExecutor": "execution.local", "RayExecutor": "execution.ray_executor",
    "FeatureConfig": "inputs.features", "FeaturePanel": "inputs.features", "build_feature_panel": "inputs.features",
    "LabelConfig": "inputs.labels", "Labels": "inputs.labels", "make_labels": "inputs.labels",
    "best_constant_accuracy": "metrics", "classification_metrics": "metrics", "daily_ic": "metrics",
    "daily_ic_series": "metrics", "decile_spread": "metrics", "icir": "metrics",
    "FACTOR_NAMES": "inputs.factors", "compute_factors": "inputs.factors",
    "LightGBMBaseline": "models.gbdt",
    "ModelConfig": "models.config",
    "AttentionLSTMClassifier": "models.sequence", "GRUClassifier": "models.sequence",
    "LSTMClassifier": "models.sequence", "SequenceClassifier": "models.sequence",
    "SequenceEstimator": "models.sequence",
    "check_causal": "models.networks",
    "BASELINE_FACTORIES": "models.registry", "build_model": "models.registry", "make_baseline": "models.registry",
    "ModelTags": "models.tags", "get_tags": "models.tags",
    "Prepared": "inputs.prepared", "prepare": "inputs.prepared",
    "resolve_device": "execution.runtime",
    "SequenceScaler": "inputs.scaling",
    "WalkForwardSplit": "split", "Window": "split",
    "IncompleteRunError": "walk_forward", "WalkForwardResult": "walk_forward", "run_walk_forward": "walk_forward",
    "WindowJob": "window", "WindowOutput": "window", "fit_predict_window": "window",
}

__all__ = [
    "BASELINE_FACTORIES", "ModelTags", "build_model", "get_tags", "make_baseline",
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
    from .audit.leakage import AuditReport, leakage_audit
    from .errors import LookaheadError, NotFittedError
    from .execution.factory import ExecutorConfig, make_executor
    from .execution.local import LocalExecutor
    from .execution.ray_executor import RayExecutor
    from .execution.runtime import resolve_device
    from .inputs.factors import FACTOR_NAMES, compute_factors
    from .inputs.features import FeatureConfig, FeaturePanel, build_feature_panel
    from .inputs.labels import LabelConfig, Labels, make_labels
    from .inputs.prepared import Prepared, prepare
    from .inputs.scaling import SequenceScaler
    from .metrics import best_constant_accuracy, classification_metrics, daily_ic, daily_ic_series, decile_spread, icir
    from .models.baselines import AlwaysUpBaseline, LogisticBaseline, YesterdayBaseline
    from .models.checkpoints import load_checkpoint
    from .models.config import ModelConfig
    from .models.gbdt import LightGBMBaseline
    from .models.networks import check_causal
    from .models.registry import BASELINE_FACTORIES, build_model, make_baseline
    from .models.sequence import (
        AttentionLSTMClassifier,
        GRUClassifier,
        LSTMClassifier,
        SequenceClassifier,
        SequenceEstimator,
    )
    from .models.tags import ModelTags, get_tags
    from .split import WalkForwardSplit, Window
    from .walk_forward import IncompleteRunError, WalkForwardResult, run_walk_forward
    from .window import WindowJob, WindowOutput, fit_predict_window

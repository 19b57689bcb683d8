"""The estimators and everything that trains them.

- :mod:`~signals.models.config`: :class:`ModelConfig`, the one definition of each model setting (torch-free);
- :mod:`~signals.models.sequence`: the causal sequence classifiers (LSTM, GRU, attention, a user's module);
- :mod:`~signals.models.networks`: their networks, and the check that refuses a bidirectional one;
- :mod:`~signals.models.training` and :mod:`~signals.models.objectives`: the training loop and its losses;
- :mod:`~signals.models.baselines` and :mod:`~signals.models.gbdt`: the baselines (logistic, always-up,
  yesterday's direction, LightGBM);
- :mod:`~signals.models.calibration`: seed ensembles and calibration on the validation span;
- :mod:`~signals.models.checkpoints`: a fitted window saved and loaded;
- :mod:`~signals.models.tags`: the capabilities each model declares (:class:`ModelTags`);
- :mod:`~signals.models.registry`: every model and baseline by the name a config uses (:func:`build_model`).

The estimators are imported when first used, so ``import signals.models.config`` costs no torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

_EXPORTS = {
    "AttentionLSTMClassifier": "sequence", "GRUClassifier": "sequence", "LSTMClassifier": "sequence",
    "SequenceClassifier": "sequence", "SequenceEstimator": "sequence",
    "AlwaysUpBaseline": "baselines", "LogisticBaseline": "baselines", "YesterdayBaseline": "baselines",
    "LightGBMBaseline": "gbdt", "ModelConfig": "config",
}
__all__ = ["AlwaysUpBaseline", "AttentionLSTMClassifier", "GRUClassifier", "LSTMClassifier", "LightGBMBaseline",
           "LogisticBaseline", "ModelConfig", "SequenceClassifier", "SequenceEstimator", "YesterdayBaseline"]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from .baselines import AlwaysUpBaseline, LogisticBaseline, YesterdayBaseline
    from .config import ModelConfig
    from .gbdt import LightGBMBaseline
    from .sequence import (
        AttentionLSTMClassifier,
        GRUClassifier,
        LSTMClassifier,
        SequenceClassifier,
        SequenceEstimator,
    )

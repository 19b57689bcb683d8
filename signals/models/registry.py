"""The registry of models: every model and baseline the toolkit can build, by the name a config uses.

``[model] kind`` names the model traded and ``[model] baselines`` the models fitted beside it; this
module is the one place that maps those names to classes (qlib's ``init_instance_by_config`` is
the pattern, with typed settings in place of class paths). :class:`~signals.models.config.ModelConfig`
stays free of torch; the estimators import their defaults from it, and this module imports both.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..errors import ConfigError
from .baselines import AlwaysUpBaseline, LogisticBaseline, YesterdayBaseline
from .config import BASELINES, ModelConfig
from .gbdt import LightGBMBaseline
from .sequence import AttentionLSTMClassifier, GRUClassifier, LSTMClassifier, SequenceEstimator
from .tags import get_tags

__all__ = ["BASELINE_FACTORIES", "SEQUENCE_MODELS", "build_model", "make_baseline", "model_name"]

#: ``[model] kind`` -> the sequence estimator it builds (``logistic`` is a baseline traded as the model)
SEQUENCE_MODELS: dict[str, type[SequenceEstimator]] = {
    "lstm": LSTMClassifier, "gru": GRUClassifier, "attention": AttentionLSTMClassifier,
}

#: baseline name -> a factory ``(seed, threads) -> unfitted baseline``
BASELINE_FACTORIES: dict[str, Callable[[int, int | None], Any]] = {
    "logistic": lambda seed, threads: LogisticBaseline(seed=seed),
    "always_up": lambda seed, threads: AlwaysUpBaseline(),
    "yesterday": lambda seed, threads: YesterdayBaseline(),
    "lightgbm": lambda seed, threads: LightGBMBaseline(seed=seed, num_threads=threads),
}


def build_model(config: ModelConfig) -> Any:
    """The unfitted estimator of ``config.kind`` with ``config``'s hyperparameters."""
    if config.kind in BASELINE_FACTORIES:
        return make_baseline(config.kind, config.seed)
    cls = SEQUENCE_MODELS[config.kind]
    return cls(hidden_size=config.hidden_size, num_layers=config.num_layers, dropout=config.dropout, lr=config.lr,
               batch_size=config.batch_size, max_epochs=config.max_epochs, patience=config.patience,
               weight_decay=config.weight_decay, grad_clip=config.grad_clip, device=config.device, seed=config.seed,
               objective=config.objective, early_stop=config.early_stop, n_seeds=config.n_seeds)


def make_baseline(name: str, seed: int = 0, threads: int | None = None) -> Any:
    """A fresh baseline by name; ``threads``: LightGBM's thread count (the run's pinned count)."""
    try:
        factory = BASELINE_FACTORIES[name]
    except KeyError:
        raise ConfigError(f"unknown baseline {name!r}: choose from {list(BASELINES)}") from None
    return factory(seed, threads)


def model_name(estimator: Any) -> str:
    """The ``model`` value of an estimator's prediction rows (its declared tag)."""
    return get_tags(estimator).name

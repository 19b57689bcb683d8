"""The model settings (``[model]`` of a run config): one definition of each hyperparameter.

:class:`ModelConfig` declares every model setting once (range, meaning, default); the estimators of
:mod:`signals.models.sequence` take their defaults from it and check their parameters against it, and
the command line builds it from ``[model]``. This module imports neither torch nor scikit-learn, so a
configuration can be built, printed and refused without them; the estimator of a configuration is
built by :func:`signals.models.registry.build_model`.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.settings import check_settings, setting

__all__ = ["BASELINES", "DEFAULT_BASELINES", "DEVICE_PATTERN", "EARLY_STOP", "OBJECTIVES", "ModelConfig"]

#: the baselines fitted beside a model (implemented in :mod:`signals.models.baselines` and :mod:`signals.models.gbdt`)
BASELINES = ("logistic", "always_up", "yesterday", "lightgbm")
#: the baselines fitted when none are named (LightGBM is asked for by name: it needs factors)
DEFAULT_BASELINES = BASELINES[:3]
#: training losses and early-stopping numbers (implemented in :mod:`signals.models.objectives`)
OBJECTIVES = ("bce", "mse", "ic")
EARLY_STOP = ("loss", "ic", "rank_ic")

#: a torch device: auto (CUDA when available), cpu, cuda or cuda:N
DEVICE_PATTERN = r"auto|cpu|cuda(:\d+)?"


@dataclass(frozen=True)
class ModelConfig:
    """The model traded and its hyperparameters (``[model]`` of a run config).

    :func:`signals.build_model` gives the estimator; the baselines are fitted on the same windows and
    samples."""

    kind: str = setting("lstm", choices=("lstm", "gru", "attention", "logistic"), doc="the model traded")
    hidden_size: int = setting(32, lo=1, hi=4096, doc="units of each recurrent layer")
    num_layers: int = setting(1, lo=1, hi=8, doc="stacked recurrent layers")
    dropout: float = setting(0.0, lo=0.0, hi=0.9, doc="dropout between layers and before the head")
    lr: float = setting(1e-3, lo=1e-6, hi=1.0, doc="Adam learning rate")
    batch_size: int = setting(1024, lo=1, hi=1_000_000, doc="samples per mini-batch")
    max_epochs: int = setting(20, lo=1, hi=1000, doc="most passes over the training samples")
    patience: int = setting(3, lo=0, hi=1000,
                            doc="epochs without a better early_stop number (validation loss, ic or rank_ic) before "
                                "stopping")
    weight_decay: float = setting(0.0, lo=0.0, hi=1.0, doc="Adam weight decay (0 = off)")
    grad_clip: float = setting(1.0, lo=0.0, hi=1e6, doc="largest gradient norm (0 = off)")
    seed: int = setting(0, lo=0, hi=2**31 - 1, doc="seed of the initial weights and batch order")
    device: str = setting("auto", pattern=DEVICE_PATTERN, doc="auto (CUDA when available), cpu, cuda or cuda:N")
    objective: str = setting("bce", choices=OBJECTIVES,
                             doc="training loss: bce (binary target), mse (standardised continuous target), ic "
                                 "(minus the daily cross-sectional correlation, batches of whole days)")
    early_stop: str = setting("loss", choices=EARLY_STOP,
                              doc="validation number early stopping watches: the loss, or the daily ic / rank_ic "
                                  "against the target's return")
    n_seeds: int = setting(1, lo=1, hi=64, doc="networks trained with seeds seed..seed+n-1 and averaged as one model")
    baselines: tuple[str, ...] = setting(DEFAULT_BASELINES, choices=BASELINES, doc="models fitted beside it")

    def __post_init__(self) -> None:
        check_settings(self)

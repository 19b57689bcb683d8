"""What a model declares about itself: its capability tags (scikit-learn's estimator tags are the pattern).

Every estimator of the toolkit defines ``__model_tags__()`` returning a :class:`ModelTags`, and the
code that feeds a model (:func:`signals.window.fit_predict_window`) reads only these tags to decide
which inputs, which target and which scaling it gets; nothing asks a model for loose attributes. A
user's estimator declares its tags the same way (subclasses of
:class:`~signals.models.sequence.SequenceEstimator` inherit the sequence models' tags).

This module imports neither torch nor scikit-learn.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError

__all__ = ["INPUTS", "ModelTags", "get_tags"]

#: what a model reads: ``sequence`` = (samples, lookback, channels); ``tabular`` = (samples, channels)
#: of the decision day only
INPUTS = ("sequence", "tabular")


@dataclass(frozen=True)
class ModelTags:
    """A model's capabilities, declared once on its class.

    - ``name``: the ``model`` value of its prediction rows (``lstm``, ``logistic``, ...);
    - ``input``: ``sequence`` (lookback windows) or ``tabular`` (the decision day's channels, unscaled);
    - ``linear_channels_only``: it reads the raw and engineered channels of the lookback window but
      not the factor library (the tutorials' linear model);
    - ``scaled_input``: it reads the scaled tensor (False: the raw, unscaled values, e.g. yesterday's
      sign);
    - ``event_target``: it is fitted on the binary event of any target (1 = the target's return rose
      or beat its reference) rather than the target itself;
    - ``trains``: it learns from the training rows (False: a fixed rule, nothing to fit);
    - ``seeded``: its fit depends on a ``seed`` parameter (the same seed gives the same predictions);
    - ``network``: a torch network (checkpoints, devices, the refusal of a bidirectional layer).
    """

    name: str
    input: str = "sequence"
    linear_channels_only: bool = False
    scaled_input: bool = True
    event_target: bool = False
    trains: bool = True
    seeded: bool = True
    network: bool = False

    def __post_init__(self) -> None:
        if self.input not in INPUTS:
            raise ConfigError(f"ModelTags.input = {self.input!r} must be one of {list(INPUTS)}")
        if not self.name:
            raise ConfigError("ModelTags.name is empty: name the model (the 'model' value of its prediction rows)")


def get_tags(model: Any) -> ModelTags:
    """The tags ``model`` declares (its ``__model_tags__()``); a model without them is refused with the fix."""
    declare = getattr(type(model), "__model_tags__", None)
    if declare is None:
        raise ConfigError(
            f"{type(model).__name__} declares no model tags: define __model_tags__(self) returning "
            "signals.ModelTags(name=..., input='sequence' or 'tabular', ...), or subclass "
            "signals.SequenceEstimator, so the toolkit knows which inputs and target to give it")
    tags = declare(model)
    if not isinstance(tags, ModelTags):
        raise ConfigError(f"{type(model).__name__}.__model_tags__() returned {type(tags).__name__}, not ModelTags")
    return tags

"""Window checkpoints: a fitted sequence model, its window's scaler and the settings it was fitted on.

Only tensors and plain values are stored, so ``torch.load(path, weights_only=True)`` reads a file
without running any pickled code. A checkpoint is made as bytes (a worker on another node has no
shared disk) and written atomically by whoever owns the folder.
"""

from __future__ import annotations

import io
import os
from typing import Any

import pandas as pd
import torch

from ..errors import ConfigError
from ..inputs.features import FeatureConfig
from ..inputs.labels import LabelConfig
from ..inputs.scaling import SequenceScaler
from ..split import Window
from .registry import SEQUENCE_MODELS
from .sequence import SequenceEstimator

__all__ = ["checkpoint_bytes", "checkpoint_name", "load_checkpoint"]


def checkpoint_name(window: int, model: str) -> str:
    """File name of the checkpoint of ``model`` in window ``window``."""
    return f"window_{window:03d}_{model}.pt"


def checkpoint_bytes(model: SequenceEstimator, scaler: SequenceScaler, window: Window, features: FeatureConfig,
                     labels: LabelConfig) -> bytes:
    """State dict + hyperparameters + the window's scaler + the settings, as the bytes of a file."""
    st = {**model.checkpoint_state(), "scaler": scaler.state(),
          "window": {k: str(v.date()) if isinstance(v, pd.Timestamp) else v for k, v in window.as_dict().items()},
          "channels": list(features.channels), "lookback": features.lookback,
          "label_horizon": labels.horizon, "label_span": labels.span,
          "label_relative": labels.relative, "label_target": labels.target}
    buf = io.BytesIO()
    torch.save(st, buf)
    return buf.getvalue()


#: class name -> class of the models a checkpoint may hold (the registry's sequence models)
_CLASSES: dict[str, type[SequenceEstimator]] = {c.__name__: c for c in SEQUENCE_MODELS.values()}


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[SequenceEstimator, SequenceScaler, dict[str, Any]]:
    """Load a window checkpoint with ``torch.load(weights_only=True)``: (fitted estimator, fitted
    scaler, the rest: window dates, channels, label settings). Built-in classes only."""
    st = torch.load(path, map_location="cpu", weights_only=True)
    cls = _CLASSES.get(st["class"])
    if cls is None:
        raise ConfigError(f"checkpoint {path} holds a {st['class']}; rebuild that model yourself and call "
                          "load_checkpoint_state(torch.load(path, weights_only=True))")
    est = cls(**st["hyperparameters"]).load_checkpoint_state(st)
    rest = {k: v for k, v in st.items() if k not in ("state_dict", "scaler", "hyperparameters")}
    return est, SequenceScaler.from_state(st["scaler"]), rest

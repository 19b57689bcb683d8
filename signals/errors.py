"""Errors of the signals layer."""

from __future__ import annotations

# scikit-learn's own not-fitted error, so ``except NotFittedError`` works for every model
from sklearn.exceptions import NotFittedError

from data_store.errors import ConfigError, ToolkitError

__all__ = ["ConfigError", "LookaheadError", "NotFittedError"]


class LookaheadError(ToolkitError, ValueError):
    """A configuration or model would let information from after the decision day reach a
    prediction (a bidirectional RNN, an embargo shorter than the label horizon, ...).

    The message says what leaks and how to fix it."""

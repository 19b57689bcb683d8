"""Errors of the signals layer."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import ConfigError, ToolkitError

if TYPE_CHECKING:
    from sklearn.exceptions import NotFittedError

__all__ = ["ConfigError", "LookaheadError", "NotFittedError"]


def __getattr__(name: str) -> Any:
    # scikit-learn's own not-fitted error, so ``except NotFittedError`` works for every model;
    # imported on first use, so that the configuration classes load without scikit-learn
    if name == "NotFittedError":
        from sklearn.exceptions import NotFittedError

        return NotFittedError
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class LookaheadError(ToolkitError, ValueError):
    """A configuration or model would let information from after the decision day reach a
    prediction (a bidirectional RNN, an embargo shorter than the label horizon, ...).

    The message says what leaks and how to fix it."""

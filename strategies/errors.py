"""Errors of the strategies layer; each also inherits the built-in a caller would catch.

Messages name the offending value and say how to fix it.
"""

from __future__ import annotations

from core.errors import ConfigError, ToolkitError


class PredictionsError(ToolkitError, ValueError):
    """The predictions table handed to :func:`strategies.run_backtest` breaks its contract
    (columns, one model, unique ``(date, symbol)``, dates on the calendar, known symbols)."""


class StrategyConfigError(ConfigError):
    """A strategy or cost parameter is out of its allowed range."""


__all__ = ["ConfigError", "PredictionsError", "StrategyConfigError", "ToolkitError"]

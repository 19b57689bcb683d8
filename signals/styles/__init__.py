"""Styles: the free characteristics a model's skill is measured beyond.

A style (low volatility, low beta, short-term reversal, 12-1 month momentum, illiquidity, size,
share price, value, industry) is known to every investor and can be held without a model. So a
model's scores are judged on what is left after them:

- :mod:`~signals.styles.config`: the settings (``[styles]``) and the library's style names;
- :mod:`~signals.styles.library`: each style's point-in-time definition, window and units, computed
  from the market data (:func:`compute_styles`);
- :mod:`~signals.styles.table`: your own characteristics from a table (date, symbol, columns);
- :mod:`~signals.styles.neutral`: each day's cross-sectional regression on the styles (exposures,
  residuals, style-neutral scores).

    import data_store
    from signals.styles import compute_styles, neutral_scores
    md = data_store.load(use_cache=False).slice("2019-01-01", "2025-06-30")
    panel = compute_styles(md)                      # the seven bar styles of the snapshot
    left = neutral_scores(preds, panel, panel.names)  # a model's scores after the styles
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

_EXPORTS = {
    "AUTO": "config", "BAR_STYLES": "config", "STYLE_NAMES": "config", "StyleConfig": "config",
    "VENDOR_STYLES": "config",
    "STYLES": "library", "Style": "library", "StylePanel": "library", "available": "library",
    "compute_styles": "library", "resolve_names": "library",
    "read_table": "table",
    "centred_ranks": "neutral", "exposures": "neutral", "neutral_scores": "neutral", "residualise": "neutral",
}

__all__ = [
    "AUTO", "BAR_STYLES", "STYLES", "STYLE_NAMES", "Style", "StyleConfig", "StylePanel", "VENDOR_STYLES", "available",
    "centred_ranks", "compute_styles", "exposures", "neutral_scores", "read_table", "residualise", "resolve_names",
]

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())

if TYPE_CHECKING:
    from .config import AUTO, BAR_STYLES, STYLE_NAMES, VENDOR_STYLES, StyleConfig
    from .library import STYLES, Style, StylePanel, available, compute_styles, resolve_names
    from .neutral import centred_ranks, exposures, neutral_scores, residualise
    from .table import read_table

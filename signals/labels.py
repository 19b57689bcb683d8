"""The ONE labelling function of the toolkit.

Time convention (DESIGN.md, "Time"): a prediction dated ``t`` is made after the close of ``t`` from
data up to and including ``t``; the order goes in after that close and fills at the OPEN of
``t+1``. The label is therefore the direction of a return the strategy can actually capture.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from data_store.settings import check_settings, setting
from data_store.timing import FILL_LAG, label_end_offset

from .errors import ConfigError

__all__ = ["LabelConfig", "Labels", "make_labels"]


@dataclass(frozen=True)
class LabelConfig:
    """What is predicted (``[labels]`` of a run config).

    Attributes:
        horizon: H >= 1 trading days held: the return is adjusted ``open(t+1+H) / open(t+1) - 1``.
        excess: label the return in excess of the CSI-300 index over the same open-to-open span.
    """

    horizon: int = setting(1, lo=1, hi=60, doc="trading days held: the label is adjusted open(t+1+H)/open(t+1) - 1")
    excess: bool = setting(False, doc="label the return in excess of the CSI-300 index over the same span")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class Labels:
    """Labels on the calendar x symbols grid.

    ``ret[d, s]`` is the realised return of a decision at the close of calendar day ``d`` (NaN when
    unknown), ``label`` is ``1.0`` where ``ret > 0``, ``0.0`` where ``ret <= 0`` and NaN where
    unknown; ``end_offset`` is how many trading days after ``d`` the last price the label reads
    (``1 + H``): the label of day ``d`` is known only at the open of ``d + end_offset``.
    """

    ret: np.ndarray
    label: np.ndarray
    end_offset: int


def make_labels(open_adj: pd.DataFrame, volume: pd.DataFrame, config: LabelConfig | None = None,
                index_open: pd.Series | None = None) -> Labels:
    """Label every (decision day t, symbol) with the direction of the return the strategy captures.

    When things are known:
        * the SIGNAL for day ``t`` is known after the close of ``t`` (features read bars <= t);
        * the TRADE fills at the adjusted open of ``t+1`` and is closed at the open of ``t+1+H``;
        * the LABEL is therefore known only at the open of ``t+1+H``, i.e. ``1 + H`` trading days
          after the decision; every sample whose label reaches into a later span must be purged
          from the earlier one (the walk-forward embargo, default ``H + 1`` days, does that).

    Definition:
        ``ret(t) = open_adj(t+1+H) / open_adj(t+1) - 1`` (back-adjusted, so dividends and splits do
        not look like moves); with ``excess=True`` the CSI-300 index's own
        ``open(t+1+H) / open(t+1) - 1`` is subtracted. ``label = 1`` if ``ret > 0`` else ``0``
        (a flat return is "not up").

    Edge cases: the open of a day on which the stock has no bar or trades no volume (suspended) is
    not a price anyone could trade at, so the label is NaN (unknown) when either end falls on such a
    day, and NaN for the last ``1 + H`` days of the data. Nothing is forward-filled.

    Args:
        open_adj: calendar x symbols adjusted opens (``MarketData.panel("open", adjusted=True)``).
        volume: calendar x symbols volume (same shape); ``volume <= 0`` or NaN marks no trading.
        config: horizon and excess option.
        index_open: CSI-300 open by calendar day; required when ``config.excess``.
    """
    config = config or LabelConfig()
    h = int(config.horizon)
    px = open_adj.to_numpy(dtype=np.float64, copy=True)
    vol = volume.to_numpy(dtype=np.float64)
    if px.shape != vol.shape:
        raise ConfigError(f"open panel shape {px.shape} differs from volume panel shape {vol.shape}")
    with np.errstate(invalid="ignore"):
        px[~(vol > 0)] = np.nan
    n = px.shape[0]
    ret = np.full(px.shape, np.nan)
    lag, end = FILL_LAG, label_end_offset(h)  # the trade fills at the open of t+lag, ends at t+end
    if n > end:
        with np.errstate(invalid="ignore", divide="ignore"):
            ret[: n - end] = px[end:] / px[lag: n - h] - 1.0
    if config.excess:
        if index_open is None:
            raise ConfigError("LabelConfig.excess = True needs the CSI-300 index opens (index_open)")
        io = np.asarray(index_open, dtype=np.float64)
        if io.shape[0] != n:
            raise ConfigError(f"index_open has {io.shape[0]} days but the panel has {n}")
        bench = np.full(n, np.nan)
        if n > end:
            bench[: n - end] = io[end:] / io[lag: n - h] - 1.0
        ret = ret - bench[:, None]
    label = np.where(np.isnan(ret), np.nan, (ret > 0).astype(np.float64))
    return Labels(ret=ret, label=label, end_offset=end)

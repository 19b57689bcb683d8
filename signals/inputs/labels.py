"""The ONE labelling function of the toolkit.

Time convention (:mod:`core.timing`): a prediction dated ``t`` is made after the close of ``t`` from
data up to and including ``t``; the order goes in after that close and fills at the OPEN of
``t+1``. The return a decision captures is therefore adjusted ``open(t+1+H) / open(t+1) - 1``;
every training target is a function of that return (or, for comparison with platforms that trade
at the close, of ``close(t+1+H) / close(t+1) - 1``), and its end offset (the last day whose price
it reads) is stated once, in :attr:`LabelConfig.end_offset`, for the walk-forward embargo.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from core.settings import check_settings, setting
from core.timing import FILL_LAG, label_end_offset

from ..errors import ConfigError
from ..styles.config import STYLE_NAMES

if TYPE_CHECKING:
    from ..styles.library import StylePanel

__all__ = ["LabelConfig", "Labels", "TARGETS", "make_labels"]

#: what a model is trained on: ``updown`` (the binary event), or a continuous value for
#: regression / ranking objectives: the relative ``return``, its daily ``rank`` or robust ``zscore``
TARGETS = ("updown", "return", "rank", "zscore")
#: a robust z-score is clipped to this many (MAD-based) standard deviations
ZSCORE_CLIP = 3.0
#: MAD x this = the standard deviation of a normal distribution
MAD_TO_STD = 1.4826


@dataclass(frozen=True)
class LabelConfig:
    """What is predicted (``[labels]`` of a run config).

    Attributes:
        horizon: H >= 1 trading days held: the traded return is adjusted
            ``open(t+1+H) / open(t+1) - 1``.
        span: ``open`` = that open-to-open return (what the strategy captures); ``close`` =
            ``close(t+1+H) / close(t+1) - 1`` (qlib's convention), for comparisons only.
        relative: the reference the span's return is measured against: ``none`` (the raw
            direction, the tutorials' question), ``median`` (the day's cross-sectional median of
            the tradable members) or ``index`` (the CSI-300 over the same span).
        target: what the model is trained on: ``updown`` = 1 when the relative return is > 0,
            else 0; ``return`` = the relative return; ``rank`` = its daily cross-sectional
            percentile rank among the tradable members, centred and scaled to unit variance;
            ``zscore`` = its daily robust z-score (median, MAD), clipped at +-3.
        keep_jumps: a suspect jump (:meth:`data_store.MarketData.suspect_jumps`: a price beyond
            the board's limit while the adjustment factor stays unchanged, as after a missed
            ex-rights adjustment) makes the adjusted return across it false. By default every
            label whose span crosses one is unknown (left out of training and of every metric, and
            of the day's cross-section) and no training sample whose inputs cross one is fitted
            (:func:`signals.prepare`); ``True`` keeps them.
        neutral: styles (:mod:`signals.styles`) the relative return is regressed on each day, across
            the day's eligible stocks, before the target is made: the model learns what the styles
            do not explain (a style-neutral target; its rank for ``target = rank``). Empty = off.
    """

    horizon: int = setting(1, lo=1, hi=60, doc="trading days held: the traded return is adjusted "
                                               "open(t+1+H)/open(t+1) - 1")
    span: str = setting("open", choices=("open", "close"),
                        doc="target span: open = open(t+1)..open(t+1+H), the traded return; close = "
                            "close(t+1)..close(t+1+H), qlib's convention")
    relative: str = setting("none", choices=("none", "median", "index"),
                            doc="the target's return relative to: none (raw direction), median (the day's "
                                "cross-sectional median of tradable members), index (the CSI-300)")
    target: str = setting("updown", choices=TARGETS,
                          doc="trained on: updown (relative return > 0), or continuous: return, daily rank, "
                              "daily robust zscore")

    keep_jumps: bool = setting(False, doc="keep the labels and training samples that span a suspect jump (a move "
                                          "beyond the board's limit with the adjustment factor unchanged); "
                                          "false = left out")
    neutral: tuple[str, ...] = setting(
        (), choices=STYLE_NAMES,
        doc="styles the target's return is regressed on each day (across eligible stocks) before the target is "
            "made: a style-neutral target; empty = off")

    def __post_init__(self) -> None:
        check_settings(self)
        if len(set(self.neutral)) != len(self.neutral):
            raise ConfigError(f"labels.neutral = {list(self.neutral)} names a style twice: give each once")

    @property
    def end_offset(self) -> int:
        """Trading days after the decision day t of the last price the target reads: the open (or
        close) of ``t + 1 + H``, so ``1 + H`` for both spans; the cross-sectional references read
        other stocks on the same days. The walk-forward embargo is derived from this number."""
        return label_end_offset(self.horizon)

    @property
    def binary(self) -> bool:
        """True when the target is the binary event (a classification objective)."""
        return self.target == "updown"


@dataclass(frozen=True)
class Labels:
    """Labels on the calendar x symbols grid (all float64, NaN where unknown).

    * ``ret``: the return the strategy captures, adjusted ``open(t+1+H) / open(t+1) - 1``, raw
      (whatever the target): the IC and the predictions' ``ret`` column use it;
    * ``label``: its direction, 1.0 where ``ret > 0`` else 0.0 (the tutorials' up/down question,
      scored against always-up in every report);
    * ``target_ret``: the return of the target's span relative to its reference;
    * ``event``: 1.0 where ``target_ret > 0`` else 0.0: what ``p_up`` is the probability of;
    * ``target``: the value a model is trained on (``event`` for ``updown``);
    * ``end_offset``: trading days after ``d`` of the last price any of them reads: the label of
      day ``d`` is known only then.
    """

    ret: np.ndarray
    label: np.ndarray
    end_offset: int
    target_ret: np.ndarray
    event: np.ndarray
    target: np.ndarray
    binary: bool = True


def _span_return(px: np.ndarray, tradable: np.ndarray, h: int) -> np.ndarray:
    """``px(t+1+H) / px(t+1) - 1`` on the grid; NaN when either end is no tradable day."""
    px = px.copy()
    px[~tradable] = np.nan
    n = px.shape[0]
    out = np.full(px.shape, np.nan)
    lag, end = FILL_LAG, label_end_offset(h)
    if n > end:
        with np.errstate(invalid="ignore", divide="ignore"):
            out[: n - end] = px[end:] / px[lag: n - h] - 1.0
    return out


def _index_return(series: np.ndarray | pd.Series | None, n: int, h: int, what: str) -> np.ndarray:
    if series is None:
        raise ConfigError(f"LabelConfig.relative = 'index' needs the CSI-300 index {what} (index_{what})")
    io = np.asarray(series, dtype=np.float64)
    if io.shape[0] != n:
        raise ConfigError(f"index_{what} has {io.shape[0]} days but the panel has {n}")
    return _span_return(io[:, None], np.ones((n, 1), dtype=bool), h)[:, 0]


def _masked(values: np.ndarray, members: np.ndarray) -> np.ndarray:
    out = values.copy()
    out[~members] = np.nan
    return out


def _row_median(values: np.ndarray) -> np.ndarray:
    med = np.full(values.shape[0], np.nan)
    ok = np.isfinite(values).any(axis=1)
    med[ok] = np.nanmedian(values[ok], axis=1)
    return med


def make_labels(open_adj: pd.DataFrame, volume: pd.DataFrame, config: LabelConfig | None = None,
                index_open: np.ndarray | pd.Series | None = None, *, close_adj: pd.DataFrame | None = None,
                index_close: np.ndarray | pd.Series | None = None, eligible: np.ndarray | None = None,
                styles: StylePanel | None = None) -> Labels:
    """Label every (decision day t, symbol): the return the strategy captures and the training target.

    When things are known:
        * the SIGNAL for day ``t`` is known after the close of ``t`` (features read bars <= t);
        * the TRADE fills at the adjusted open of ``t+1`` and is closed at the open of ``t+1+H``;
        * the LABEL is therefore known only at the open of ``t+1+H`` (the close of ``t+1+H`` for
          ``span='close'``): ``end_offset = 1 + H`` trading days after the decision either way;
          every sample whose label reaches into a later span is purged from the earlier one (the
          walk-forward embargo, derived from :attr:`LabelConfig.end_offset`).

    Definition:
        ``ret(t) = open_adj(t+1+H) / open_adj(t+1) - 1`` (back-adjusted, so dividends and splits do
        not look like moves), ``label = 1`` if ``ret > 0`` else ``0`` (a flat return is "not up").
        The target's span return is ``ret`` (``span='open'``) or the same ratio of adjusted closes;
        ``relative='median'`` subtracts the median of that return over the day's ELIGIBLE stocks
        (point-in-time members tradable on ``t``; all stocks with a known return when ``eligible``
        is None), ``relative='index'`` the CSI-300's own return over the span. ``rank`` and
        ``zscore`` are taken over the same eligible stocks of the day (the reference cancels).

    Edge cases: a day on which the stock has no bar or trades no volume (suspended) has no price
    anyone could trade at, so every value is NaN when either end of the span falls on such a day,
    and NaN for the last ``1 + H`` days of the data. Nothing is forward-filled. A day with fewer
    than 2 eligible known returns has no cross-sectional reference: NaN for ``median``, ``rank``,
    ``zscore``.

    Args:
        open_adj: calendar x symbols adjusted opens (``MarketData.panel("open", adjusted=True)``).
        volume: calendar x symbols volume (same shape); ``volume <= 0`` or NaN marks no trading.
        config: the target (see :class:`LabelConfig`).
        index_open: CSI-300 opens by calendar day (``relative='index'``).
        index_close: CSI-300 closes by calendar day (``relative='index'``).
        close_adj: adjusted closes (``span='close'``).
        eligible: calendar x symbols bool, point-in-time member AND tradable on the day.
        styles: the styles of ``config.neutral`` on the same grid (:func:`signals.styles.compute_styles`):
            with ``neutral``, each day's relative return is replaced by its residual after an OLS
            regression on the styles' exposures across the day's eligible stocks with a known return
            (:func:`signals.styles.neutral.residualise`), before the event and the target are made; a
            day with too few stocks for that regression keeps its plain relative return.
            The styles of day ``t`` are known at its close, so this reads nothing later than the
            return itself.
    """
    config = config or LabelConfig()
    h = int(config.horizon)
    px = open_adj.to_numpy(dtype=np.float64)
    vol = volume.to_numpy(dtype=np.float64)
    if px.shape != vol.shape:
        raise ConfigError(f"open panel shape {px.shape} differs from volume panel shape {vol.shape}")
    with np.errstate(invalid="ignore"):
        tradable = vol > 0
    n = px.shape[0]
    ret = _span_return(px, tradable, h)
    label = np.where(np.isnan(ret), np.nan, (ret > 0).astype(np.float64))
    if config.span == "open":
        span_ret = ret
    else:
        if close_adj is None:
            raise ConfigError("LabelConfig.span = 'close' needs the adjusted closes (close_adj)")
        cpx = close_adj.to_numpy(dtype=np.float64)
        if cpx.shape != px.shape:
            raise ConfigError(f"close panel shape {cpx.shape} differs from open panel shape {px.shape}")
        span_ret = _span_return(cpx, tradable, h)
    members = np.isfinite(span_ret)
    if eligible is not None:
        eligible = np.asarray(eligible, dtype=bool)
        if eligible.shape != px.shape:
            raise ConfigError(f"eligible mask shape {eligible.shape} differs from the panel shape {px.shape}")
        members &= eligible
    enough = members.sum(axis=1) >= 2
    cross = _masked(span_ret, members)
    if config.relative == "median":
        med = _row_median(cross)
        med[~enough] = np.nan
        rel = span_ret - med[:, None]
    elif config.relative == "index":
        what = "open" if config.span == "open" else "close"
        rel = span_ret - _index_return(index_open if what == "open" else index_close, n, h, what)[:, None]
    else:
        rel = span_ret
    if config.neutral:
        if styles is None:
            raise ConfigError(f"labels.neutral = {list(config.neutral)} needs the styles: pass styles= "
                              "(signals.prepare computes them)")
        from ..styles.neutral import exposures, residualise

        left, _ = residualise(np.where(members, rel, np.nan), exposures(styles, list(config.neutral), members),
                              members)
        # a day with too few stocks for the regression keeps its plain relative return
        rel = np.where(np.isfinite(left) | ~members, left, rel)
        cross = _masked(rel, members)
        span_ret = rel  # the z-score below is of the residual
    event = np.where(np.isnan(rel), np.nan, (rel > 0).astype(np.float64))
    if config.target == "updown":
        target = event
    elif config.target == "return":
        target = rel
    elif config.target == "rank":
        # percentile rank among the day's eligible stocks, centred, x sqrt(12): a uniform of variance 1
        pct = pd.DataFrame(cross).rank(axis=1, pct=True, method="average").to_numpy()
        cnt = members.sum(axis=1, keepdims=True).astype(np.float64)
        # map ranks 1/n..1 to (-0.5, 0.5) symmetrically: (rank - (n+1)/2) / n
        centred = pct - (cnt + 1.0) / (2.0 * np.maximum(cnt, 1.0))
        target = np.where(enough[:, None], centred * np.sqrt(12.0), np.nan)
    else:
        med = _row_median(cross)
        mad = _row_median(np.abs(cross - med[:, None])) * MAD_TO_STD
        with np.errstate(invalid="ignore", divide="ignore"):
            z = (span_ret - med[:, None]) / mad[:, None]
        z = np.where(enough[:, None] & (mad[:, None] > 0), np.clip(z, -ZSCORE_CLIP, ZSCORE_CLIP), np.nan)
        target = z
    if config.target in ("rank", "zscore"):
        target = np.where(members, target, np.nan)  # ranked only among the day's eligible stocks
        event = np.where(np.isfinite(target), event, np.nan)
    return Labels(ret=ret, label=label, end_offset=config.end_offset, target_ret=rel, event=event,
                  target=target, binary=config.binary)

"""The arrays every window of a walk-forward run reads: feature panel, labels, eligibility."""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.timing import FILL_LAG
from data_store.jumps import spanning
from data_store.market import MarketData

from ..errors import ConfigError
from .features import FeatureConfig, FeaturePanel, build_feature_panel
from .labels import LabelConfig, Labels, make_labels

__all__ = ["Prepared", "crossing_jumps", "prepare"]

log = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Feature panel, labels and eligibility of one MarketData (reusable across models).

    ``eligible`` (calendar x symbols): point-in-time member AND tradable on the day."""

    panel: FeaturePanel
    labels: Labels
    eligible: np.ndarray
    calendar: pd.DatetimeIndex
    symbols: list[str]
    label_config: LabelConfig = field(default_factory=LabelConfig)
    #: calendar x symbols, True where a sample may be fitted: its inputs cross no suspect jump
    #: (None: every sample may; see :attr:`signals.LabelConfig.keep_jumps`)
    clean: np.ndarray | None = None

    def fit_known(self) -> np.ndarray:
        """Where a sample can be fitted: its target is known and its inputs cross no suspect jump
        (the eligibility of the day is applied by the splitter)."""
        known = np.isfinite(self.labels.target)
        return known if self.clean is None else known & self.clean

    @property
    def features(self) -> FeatureConfig:
        return self.panel.config

    def check_matches(self, md: MarketData, features: FeatureConfig, labels: LabelConfig) -> None:
        """Refuse arrays built for other data or settings than ``md``/``features``/``labels``."""
        if (self.panel.config != features or self.label_config != labels or list(self.symbols) != list(md.symbols)
                or not self.calendar.equals(md.calendar)):
            raise ConfigError("prepared= was built for other data or settings than md/features/labels; build it with "
                              "prepare(md, features, labels) for exactly these arguments, or leave it out")

    def portable(self) -> Prepared:
        """The same arrays without the per-process cache of the panel (the padded sliding view,
        which would be L times larger once pickled for another process)."""
        return dataclasses.replace(self, panel=dataclasses.replace(self.panel, _cache={}))


def crossing_jumps(md: MarketData, first: int, last: int) -> np.ndarray | None:
    """Calendar x symbols, True on decision day d when a suspect jump of ``md`` lies on a day t with
    ``d + first <= t <= d + last`` (a price move from day t-1 to t inside the span; see
    :func:`data_store.jumps.spanning`); None when ``md`` has no suspect jump. The one mask of what
    a suspect jump makes unknown: ``prepare`` (labels and samples), the forward returns of the report
    and ``backtests.evaluate`` all use it."""
    jumps = md.suspect_jumps()
    if not jumps.to_numpy().any():
        return None
    return spanning(jumps, first, last).to_numpy(bool)


def prepare(md: MarketData, features: FeatureConfig | None = None, labels: LabelConfig | None = None) -> Prepared:
    """Build the per-day feature channels, the labels and the eligibility mask (member AND tradable).

    Unless ``labels.keep_jumps``, the labels whose span crosses a suspect jump of ``md`` are
    unknown (NaN, and out of the day's cross-section) and the samples whose inputs cross one
    (:attr:`FeatureConfig.reach`) are not fitted (:attr:`Prepared.clean`); both are logged. With
    ``labels.neutral`` the target is made from the return left after the styles
    (:func:`signals.styles.compute_styles` of ``md``)."""
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    panel = build_feature_panel(md, features)
    eligible = md.tradable_mask().to_numpy(dtype=bool)
    crossed = clean = None
    if not labels.keep_jumps:
        # a jump on day t lies between the prices of t-1 and t: a label of day d (fill at the open
        # of d+1, exit at d + end_offset) crosses it for d+2 <= t <= d+end_offset; a sample's
        # inputs (prices of d-reach .. d) for d-reach+1 <= t <= d
        crossed = crossing_jumps(md, FILL_LAG + 1, labels.end_offset)
        reads = crossing_jumps(md, -features.reach + 1, 0)
        clean = None if reads is None else ~reads
    styles = None
    if labels.neutral:  # a style-neutral target: the styles of the same data (the audit sees them change)
        from ..styles.library import compute_styles

        styles = compute_styles(md, labels.neutral)
    lab = make_labels(md.panel("open", adjusted=True), md.panel("volume"), labels,
                      index_open=md.index["open"].to_numpy(dtype=float),
                      close_adj=md.panel("close", adjusted=True) if labels.span == "close" else None,
                      index_close=md.index["close"].to_numpy(dtype=float),
                      eligible=eligible if crossed is None else eligible & ~crossed, styles=styles)
    if crossed is not None:
        def out(a: np.ndarray) -> np.ndarray:
            return np.where(crossed, np.nan, a)

        lab = dataclasses.replace(lab, ret=out(lab.ret), label=out(lab.label), target_ret=out(lab.target_ret),
                                  event=out(lab.event), target=out(lab.target))
        assert clean is not None
        log.info("      suspect jumps (%d): %d labels crossing one are unknown and %d samples whose inputs cross "
                 "one are not fitted (labels.keep_jumps = true keeps them)", int(md.suspect_jumps().to_numpy().sum()),
                 int((crossed & eligible).sum()), int((~clean & eligible).sum()))
    return Prepared(panel=panel, labels=lab, eligible=eligible, calendar=md.calendar, symbols=list(md.symbols),
                    label_config=labels, clean=clean)

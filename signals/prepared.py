"""The arrays every window of a walk-forward run reads: feature panel, labels, eligibility."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from data_store.market import MarketData

from .errors import ConfigError
from .features import FeatureConfig, FeaturePanel, build_feature_panel
from .labels import LabelConfig, Labels, make_labels

__all__ = ["Prepared", "prepare"]


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


def prepare(md: MarketData, features: FeatureConfig | None = None, labels: LabelConfig | None = None) -> Prepared:
    """Build the per-day feature channels, the labels and the eligibility mask (member AND tradable)."""
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    panel = build_feature_panel(md, features)
    eligible = md.tradable_mask().to_numpy(dtype=bool)
    lab = make_labels(md.panel("open", adjusted=True), md.panel("volume"), labels,
                      index_open=md.index["open"].to_numpy(dtype=float),
                      close_adj=md.panel("close", adjusted=True) if labels.span == "close" else None,
                      index_close=md.index["close"].to_numpy(dtype=float), eligible=eligible)
    return Prepared(panel=panel, labels=lab, eligible=eligible, calendar=md.calendar, symbols=list(md.symbols),
                    label_config=labels)

"""Causal features: a lookback window of per-day channels for every (decision day, symbol).

Every channel of day ``d`` is computed from bars of days ``<= d`` only (trailing windows, never
centred), and a sample dated ``t`` reads the channels of days ``t-L+1 .. t``. Tensors are built
vectorised over the whole calendar x symbols grid (``sliding_window_view``), in float32.

Suspended and not-listed days are MASKED, never forward-filled: a day is *observed* when the stock
has a bar with volume > 0; on other days its price and volume channels are NaN, the ``observed``
channel is 0, and after scaling the NaNs become 0 (the training mean). Rows before a stock's
listing or the start of the data are treated the same way.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from core.settings import check_settings, setting
from data_store.market import MarketData

from ..errors import ConfigError
from .factors import FACTOR_PATTERN, compute_factors, resolve_factors

__all__ = ["FeatureConfig", "FeaturePanel", "build_feature_panel", "cross_section_normalise", "ENGINEERED_CHOICES",
           "RAW_CHANNELS"]

#: raw sequence channels: log(open|high|low|close / last close of the window),
#: log(volume / mean volume of the window), observed (1 = bar with volume > 0)
RAW_CHANNELS = ("open", "high", "low", "close", "volume", "observed")
ENGINEERED_CHOICES = ("ret_<n>", "vol_<n>", "range", "gap")
#: the names :attr:`FeatureConfig.engineered` accepts
ENGINEERED_PATTERN = r"(ret|vol)_[1-9][0-9]*|range|gap"

#: a user feature: panels (``open high low close volume`` adjusted, unobserved days NaN, calendar x
#: symbols) -> one calendar x symbols frame. It MUST be causal; the leakage audit checks.
FeatureFn = Callable[[Mapping[str, pd.DataFrame]], pd.DataFrame]


@dataclass(frozen=True)
class FeatureConfig:
    """Which inputs the models see (``[features]`` of a run config).

    Attributes:
        lookback: L, trading days in each input sequence (the decision day is the last).
        engineered: per-day features added to every step of the raw sequence:
            ``ret_<n>`` log return over n days (close t / close t-n), ``vol_<n>`` standard deviation
            of daily log returns over the last n days, ``range`` log(high / low), ``gap``
            log(open t / close t-1).
        extra: user features as ``(name, function)`` pairs (see :data:`FeatureFn`); the hook the
            tests use to inject a deliberately leaky feature for the leakage audit. Not a setting
            of the command line (a function cannot be written in TOML).
        vol_window_min: share of a rolling window that must be observed for ``vol_<n>`` and the
            factor library's rolling families.
        factors: factors of the library (:mod:`signals.inputs.factors`, of the kind of Alpha158): names
            (``ROC5``), families (``ROC``: every window) or groups (``alpha158``, ``kbar``, ``price``);
            each is one more per-day channel of the sequence, and tabular models (LightGBM) read
            the decision day's values.
        cross_section: per-day normalisation of the engineered, factor and extra channels over
            the day's tradable point-in-time members: ``none``; ``robust`` = (x - median) / (1.4826
            MAD), clipped at +-3; ``rank`` = percentile rank, centred (-0.5..0.5).
    """

    lookback: int = setting(20, lo=2, hi=500, doc="trading days in each input sequence (the decision day is the last)")
    engineered: tuple[str, ...] = setting(
        ("ret_5", "ret_20", "vol_20", "range", "gap"), pattern=ENGINEERED_PATTERN,
        doc="per-day features added to the raw OHLCV sequence: ret_<n>, vol_<n> (n >= 1 days), range, gap")
    extra: tuple[tuple[str, FeatureFn], ...] = field(default=())
    vol_window_min: float = setting(0.5, lo=0.01, hi=1.0,
                                    doc="share of a rolling window (vol_<n>, factors) that must be observed")
    factors: tuple[str, ...] = setting((), pattern=FACTOR_PATTERN,
                                       doc="factor library channels (Alpha158-like): names (ROC5), families (ROC) "
                                           "or groups (alpha158, kbar, price); empty = none")
    cross_section: str = setting("none", choices=("none", "robust", "rank"),
                                 doc="per-day normalisation of the engineered and factor channels over the day's "
                                     "tradable members: none, robust (median/MAD z-score, clip 3), rank")

    def __post_init__(self) -> None:
        object.__setattr__(self, "extra", tuple(tuple(e) for e in self.extra))
        check_settings(self)
        names = list(self.engineered) + [n for n, _ in self.extra]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"FeatureConfig: feature name(s) {dup} appear twice; give each feature one name")
        for item in self.extra:
            if len(item) != 2 or not callable(item[1]):
                raise ConfigError(f"FeatureConfig.extra entry {item!r} must be a (name, function) pair")

    @property
    def factor_names(self) -> tuple[str, ...]:
        """The library factors selected by :attr:`factors`, in library order."""
        return resolve_factors(self.factors)

    @property
    def channels(self) -> tuple[str, ...]:
        """Channel names of the last axis of a sample tensor, in order: the raw channels, the
        engineered ones, the factors, the extra ones."""
        return RAW_CHANNELS + tuple(self.engineered) + self.factor_names + tuple(n for n, _ in self.extra)

    @property
    def reach(self) -> int:
        """Trading days before the decision day d of the earliest price a sample reads: the
        lookback (days d-L+1..d) plus the longest window a channel looks back over (``ret_<n>``,
        ``vol_<n>``, a factor's n days, ``gap``'s previous close). A price move between two days
        of that span (such as a suspect jump, :meth:`data_store.MarketData.suspect_jumps`) enters
        the sample. User features (``extra``) are not counted: what they read is theirs to say."""
        windows = [int(e.split("_")[1]) for e in self.engineered if e.startswith(("ret_", "vol_"))]
        windows += [1] if "gap" in self.engineered else []
        windows += [int(m.group()) for m in (re.search(r"\d+$", f) for f in self.factor_names) if m]
        windows += [1] if self.factor_names else []  # the k-bar and price factors read the day's bar only
        return self.lookback - 1 + max(windows, default=0)

    @property
    def linear_channels(self) -> list[int]:
        """Positions of every channel but the factor library's: the logistic baseline's inputs
        (the tutorials' linear model on the raw lookback window)."""
        k = len(RAW_CHANNELS) + len(self.engineered)
        return list(range(k)) + list(range(k + len(self.factor_names), len(self.channels)))


@dataclass(frozen=True)
class FeaturePanel:
    """Per-day channels on the calendar x symbols grid; :meth:`samples` cuts lookback windows.

    ``day[d, s, c]`` (float32) holds per-day values: log adjusted open/high/low/close, volume,
    observed flag, engineered and extra features; NaN where unobserved or undefined.
    """

    day: np.ndarray
    dates: pd.DatetimeIndex
    symbols: pd.Index
    config: FeatureConfig
    _cache: dict = field(default_factory=dict, repr=False, compare=False)

    def _padded_view(self) -> np.ndarray:
        if "view" not in self._cache:
            L = self.config.lookback
            pad = np.full((L - 1, *self.day.shape[1:]), np.nan, dtype=np.float32)
            pad[..., 5] = 0.0  # not observed
            # window of decision day d covers padded rows d .. d+L-1 (calendar days d-L+1 .. d)
            self._cache["view"] = sliding_window_view(np.concatenate([pad, self.day]), L, axis=0)
        return self._cache["view"]

    def samples(self, d_idx: np.ndarray, s_idx: np.ndarray) -> np.ndarray:
        """Tensor (n, L, C) float32 for decision days ``d_idx`` and symbols ``s_idx`` (positions).

        Prices are log ratios to the close of the decision day (the window's last close), volume is
        the log ratio to the mean volume of the window's observed days, NaN where unobserved."""
        L = self.config.lookback
        d_idx = np.asarray(d_idx, dtype=np.int64)
        s_idx = np.asarray(s_idx, dtype=np.int64)
        if len(d_idx) == 0:
            return np.zeros((0, L, len(self.config.channels)), dtype=np.float32)
        view = self._padded_view()
        x = view[d_idx, s_idx]                      # (n, C, L) copy
        x = np.ascontiguousarray(np.swapaxes(x, 1, 2))  # (n, L, C)
        last_close = x[:, -1, 3].copy()
        x[:, :, 0:4] -= last_close[:, None, None]
        vol = x[:, :, 4]
        ok = np.isfinite(vol)
        cnt = ok.sum(axis=1, keepdims=True)
        mean_vol = np.where(ok, vol, 0.0).sum(axis=1, keepdims=True) / np.maximum(cnt, 1)
        with np.errstate(invalid="ignore", divide="ignore"):
            lv = np.log(vol / mean_vol)
        lv[~np.isfinite(lv)] = np.nan
        x[:, :, 4] = lv
        return x

    def tabular(self, d_idx: np.ndarray, s_idx: np.ndarray) -> np.ndarray:
        """(n, C - 6) float32: the decision day's engineered, factor and extra channels (NaN where
        unknown), for tabular models; the raw channels (log price levels) are left out."""
        d_idx = np.asarray(d_idx, dtype=np.int64)
        s_idx = np.asarray(s_idx, dtype=np.int64)
        return np.ascontiguousarray(self.day[d_idx, s_idx, len(RAW_CHANNELS):])

    @property
    def tabular_channels(self) -> tuple[str, ...]:
        return self.config.channels[len(RAW_CHANNELS):]


def cross_section_normalise(values: np.ndarray, members: np.ndarray, method: str) -> None:
    """Normalise (days, symbols, channels) ``values`` IN PLACE day by day with statistics of the
    day's ``members`` (days x symbols bool): ``robust`` (median, MAD x 1.4826; clip +-3) or
    ``rank`` (percentile among the members, centred; non-members placed by the members' values).
    A day/channel without two known member values becomes NaN."""
    import bottleneck as bn

    for c in range(values.shape[2]):
        x = values[:, :, c].astype(np.float64)
        m = np.where(members, x, np.nan)
        cnt = np.isfinite(m).sum(axis=1)
        if method == "robust":
            med = bn.nanmedian(m, axis=1)
            mad = bn.nanmedian(np.abs(m - med[:, None]), axis=1) * 1.4826
            with np.errstate(invalid="ignore", divide="ignore"):
                z = np.clip((x - med[:, None]) / mad[:, None], -3.0, 3.0)
            z[~((cnt >= 2) & (mad > 0))] = np.nan
        else:
            srt = np.sort(m, axis=1)  # NaN last
            z = np.full(x.shape, np.nan)
            for d in np.nonzero(cnt >= 2)[0]:
                k = int(cnt[d])
                lo = np.searchsorted(srt[d, :k], x[d], side="left")
                hi = np.searchsorted(srt[d, :k], x[d], side="right")
                z[d] = (lo + hi) / (2.0 * k) - 0.5
            z[~np.isfinite(x)] = np.nan
        values[:, :, c] = z


def _nan_unobserved(panel: pd.DataFrame, observed: np.ndarray) -> pd.DataFrame:
    return panel.where(observed)


def build_feature_panel(md: MarketData, config: FeatureConfig | None = None) -> FeaturePanel:
    """Compute every per-day channel for ``md`` (a :class:`data_store.MarketData`)."""
    config = config or FeatureConfig()
    vol = md.panel("volume")
    with np.errstate(invalid="ignore"):
        observed = (vol.to_numpy() > 0)
    obs = pd.DataFrame(observed, index=vol.index, columns=vol.columns)
    px = {f: _nan_unobserved(md.panel(f, adjusted=True), obs) for f in ("open", "high", "low", "close")}
    px["volume"] = _nan_unobserved(vol, obs)
    n_fac = len(config.factor_names)
    D, S = vol.shape
    C = len(config.channels)
    day = np.empty((D, S, C), dtype=np.float32)
    with np.errstate(invalid="ignore", divide="ignore"):
        logs = {f: np.log(px[f].to_numpy()) for f in ("open", "high", "low", "close")}
        for i, f in enumerate(("open", "high", "low", "close")):
            day[:, :, i] = logs[f]
        day[:, :, 4] = px["volume"].to_numpy()
        day[:, :, 5] = observed
        lc = pd.DataFrame(logs["close"], index=vol.index, columns=vol.columns)
        r1 = lc.diff()
        for j, name in enumerate(config.engineered):
            c = 6 + j
            if name == "range":
                day[:, :, c] = logs["high"] - logs["low"]
            elif name == "gap":
                day[:, :, c] = logs["open"] - lc.shift(1).to_numpy()
            else:
                kind, days = name.split("_")
                n = int(days)
                if kind == "ret":
                    day[:, :, c] = lc.diff(n).to_numpy()
                else:
                    minp = max(2, int(np.ceil(config.vol_window_min * n)))
                    day[:, :, c] = r1.rolling(n, min_periods=minp).std().to_numpy()
        if n_fac:
            c0 = 6 + len(config.engineered)
            panels = {f: px[f].to_numpy() for f in ("open", "high", "low", "close")}
            panels["volume"] = px["volume"].to_numpy() / md.panel("factor").to_numpy()  # adjusted shares
            compute_factors(panels, config.factor_names, config.vol_window_min, out=day[:, :, c0: c0 + n_fac])
        for j, (name, fn) in enumerate(config.extra):
            c = 6 + len(config.engineered) + n_fac + j
            out = fn(px)
            aligned = out.reindex(index=vol.index, columns=vol.columns) if isinstance(out, pd.DataFrame) else out
            arr = np.asarray(aligned,
                             dtype=np.float64)
            if arr.shape != (D, S):
                raise ConfigError(f"extra feature {name!r} returned shape {arr.shape}; expected {(D, S)} "
                                  "(calendar x symbols)")
            day[:, :, c] = arr
    day[~np.isfinite(day)] = np.nan
    if config.cross_section != "none" and C > 6:
        cross_section_normalise(day[:, :, 6:], md.tradable_mask().to_numpy(dtype=bool), config.cross_section)
    return FeaturePanel(day=day, dates=vol.index, symbols=pd.Index(vol.columns), config=config)

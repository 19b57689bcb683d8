"""Skill or style, on the signal side: how much of a model's scores the styles explain, and what is left.

For any predictions table (``date, symbol, p_up, ret``) and the run's styles
(:mod:`signals.styles`), measured on each day's cross-section (alphalens' factor-neutral view):

* **exposure** to each style: the mean over days of the rank correlation between the scores and the
  style over the day's scored names (the centred ranks the regression uses, a name without the
  style in the middle), signed so that + means the scores lean to the side a style investor holds
  (low volatility, low beta, ...);
* **residual IC and rank IC**: the IC of what is left of the scores after each day's regression of
  their ranks on every style (:func:`signals.styles.neutral.residualise`), with the same day-block
  bootstrap intervals as the raw IC; ``score_style_r2``: the mean share of the scores' daily
  variance the styles explain;
* each **style's own IC** on the same days and names (:func:`style_table`), which is also the row of
  its zero-training baseline (:func:`style_predictions`: ``p_up`` = the day's percentile rank of the
  style on its premium side, traded by the same strategy and costs as the model).

Figures are flat floats keyed for a model's row of ``metrics.json``; units: correlations unitless.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_store import MarketData
from signals.metrics import classification_metrics
from signals.styles.config import VENDOR_STYLES, StyleConfig
from signals.styles.library import StylePanel, available, compute_styles
from signals.styles.neutral import centred_ranks, exposure_columns, exposures, neutral_scores, residualise
from signals.styles.table import read_table

from ..evaluation_config import EvaluationConfig
from . import quantiles as qn
from . import stats
from .attribution import HOLD_LAG, breadth, factor_returns

__all__ = ["PREFIX", "StyleContext", "add_style_baselines", "apply_neutral_scores", "fast_window_metrics",
           "is_style_model", "signal_figures", "style_context", "style_model", "style_predictions", "style_table",
           "window_metrics"]

log = logging.getLogger("backtests.evidence")

#: the model name of a style's baseline is this prefix and the style's name (``style_volatility``)
PREFIX = "style_"


def style_model(name: str) -> str:
    return f"{PREFIX}{name}"


def is_style_model(model: str) -> bool:
    return str(model).startswith(PREFIX)


@dataclass
class StyleContext:
    """A run's styles: the panel on its calendar, the daily style-factor returns
    (:func:`backtests.evidence.attribution.factor_returns`) and the held side's share they use, the
    vendor styles the data lacked, and per day the styles' missing values among the tradable members."""

    panel: StylePanel
    factors: pd.DataFrame
    unavailable: list[str] = field(default_factory=list)
    missing: pd.DataFrame = field(default_factory=pd.DataFrame)
    table_path: str = ""
    #: the held side's share of the members in each style factor (the strategy's breadth)
    share: float = 1.0 / 3.0

    @property
    def names(self) -> list[str]:
        return self.panel.names

    def used_words(self) -> str:
        """Which styles the run used, and which it could not, in one sentence."""
        bar = [n for n in self.names if self.panel.style(n).needs == "bars"]
        vendor = [n for n in self.names if self.panel.style(n).needs in ("characteristics", "industry")]
        own = [n for n in self.names if self.panel.style(n).needs in ("table", "function")]
        parts = [f"price-volume styles from the bars: {', '.join(bar)}" if bar else "no price-volume style"]
        if vendor:
            parts.append(f"vendor styles from the cache: {', '.join(vendor)}")
        if own:
            parts.append(f"your own: {', '.join(own)}")
        text = "This run used " + "; ".join(parts) + "."
        if self.unavailable:
            text += (f" Not available: {', '.join(self.unavailable)} (the data carry no capitalisation, valuation or "
                     "industry; `python -m data_store update --characteristics` fetches them); size_proxy is traded "
                     "value, a stand-in for size, not capitalisation.")
        return text


def style_context(md: MarketData, cfg: StyleConfig, test_start: pd.Timestamp | None = None,
                  held: int = 30) -> StyleContext:
    """The styles of ``cfg`` on ``md`` (with ``cfg.table``'s columns), their factor returns at the
    breadth of a strategy of ``held`` names (:func:`backtests.evidence.attribution.breadth` over the
    tradable members from ``test_start``), and the missing values per day among tradable members
    from ``test_start`` (logged)."""
    table = read_table(cfg.table) if cfg.table else None
    panel = compute_styles(md, cfg.names, table=table)
    tradable = md.tradable_mask()
    days = tradable.index >= pd.Timestamp(test_start) if test_start is not None else np.ones(len(tradable), bool)
    share = breadth(held, tradable.loc[days].sum(axis=1))
    factors = factor_returns(md, panel, share=share)
    lacking = [n for n in VENDOR_STYLES if n not in available(md)]
    missing = panel.missing_per_day(tradable.to_numpy(bool)).loc[days]
    ctx = StyleContext(panel=panel, factors=factors, unavailable=lacking, missing=missing, table_path=cfg.table,
                       share=share)
    if len(missing):
        per = ", ".join(f"{n} {int(missing[n].min())}-{int(missing[n].max())} (mean {missing[n].mean():.1f})"
                        for n in missing.columns)
        log.info("      styles %s; missing values among the tradable members per day: %s", ", ".join(panel.names), per)
    return ctx


def _grid(preds: pd.DataFrame, panel: StylePanel, columns: list[str]) -> tuple[StylePanel, list[np.ndarray]]:
    """The panel cut to the days and symbols of ``preds`` (so the day x symbol arrays are no wider
    than the names scored), and each of ``columns`` of ``preds`` on that grid (NaN where no row)."""
    d = panel.calendar.get_indexer(pd.DatetimeIndex(preds["date"]))
    s = pd.Index(panel.symbols).get_indexer(preds["symbol"].astype(str))
    on = (d >= 0) & (s >= 0)
    days, syms = np.unique(d[on]), np.unique(s[on])
    rows, cols = np.searchsorted(days, d[on]), np.searchsorted(syms, s[on])
    out = []
    for c in columns:
        arr = np.full((len(days), len(syms)), np.nan)
        arr[rows, cols] = preds[c].to_numpy(np.float64)[on]
        out.append(arr)
    sub = StylePanel(values={n: v[np.ix_(days, syms)] for n, v in panel.values.items()}, styles=panel.styles,
                     calendar=panel.calendar[days], symbols=[panel.symbols[j] for j in syms], labels=panel.labels)
    return sub, out


def _daily(x: np.ndarray, y: np.ndarray, method: str) -> pd.Series:
    return qn.daily_corr(pd.DataFrame(x), pd.DataFrame(y), method)


def signal_figures(preds: pd.DataFrame, ctx: StyleContext, cfg: EvaluationConfig, *, full: bool) -> dict[str, float]:
    """The style figures of one model's predictions (``date, symbol, p_up, ret``): ``exposure_<style>``,
    ``score_style_r2``, ``residual_ic`` and ``residual_rank_ic`` with intervals and ICIR (see the
    module docstring). ``full`` is kept for the main model's extra figures (none at present)."""
    sub, (score, ret) = _grid(preds, ctx.panel, ["p_up", "ret"])
    mask = np.isfinite(score)
    fig: dict[str, float] = {}
    y = centred_ranks(score, mask)
    X = exposures(sub, sub.names, mask)
    masked = np.where(mask, 0.0, np.nan)
    cols = exposure_columns(sub, sub.names)
    for n in sub.continuous:
        side = sub.style(n).side
        fig[f"exposure_{n}"] = float(_daily(y, side * X[..., cols.index(n)] + masked, "pearson").mean())
    resid, r2 = residualise(y, X, mask)
    fig["score_style_r2"] = float(np.nanmean(r2)) if np.isfinite(r2).any() else float("nan")
    for key, method in (("residual_ic", "pearson"), ("residual_rank_ic", "spearman")):
        res = stats.mean_interval(_daily(resid, ret, method), cfg.bootstrap_reps, cfg.seed, cfg.confidence)
        fig.update({key: res["estimate"], f"{key}_lo": res["lo"], f"{key}_hi": res["hi"], f"{key}ir": res["ir"]})
    return fig


def style_table(ctx: StyleContext, preds: pd.DataFrame, cfg: EvaluationConfig,
                periods_per_year: int) -> tuple[list[dict[str, Any]], dict[str, dict[str, float]]]:
    """One row per style of the run: its definition, window and units, its own IC and rank IC on the
    days and names of ``preds`` (its premium side; intervals from one joint bootstrap of days), its
    factor's annual return and t over those decision days (the returns they earn, booked
    ``HOLD_LAG`` days later), and its
    missing values among the day's tradable members (mean and most). Also returns each style
    model's figures (``ic``, ``rank_ic`` and intervals) for its row."""
    panel = ctx.panel
    sub, (ret,) = _grid(preds, panel, ["ret"])
    days = panel.calendar.get_indexer(sub.calendar)
    series: dict[str, pd.Series] = {}
    for n in panel.continuous:
        prem = sub.premium(n)
        series[f"ic:{n}"] = _daily(prem, ret, "pearson")
        series[f"rank_ic:{n}"] = _daily(prem, ret, "spearman")
    ivs = stats.mean_intervals(pd.DataFrame(series), cfg.bootstrap_reps, cfg.seed, cfg.confidence) if series else {}
    booked = panel.calendar[np.minimum(days + HOLD_LAG, len(panel.calendar) - 1)]
    rows, models = [], {}
    for s in panel.styles:
        row: dict[str, Any] = {**s.describe(), "factor_share": ctx.share}
        if s.name in ctx.missing.columns:
            row.update(missing_mean=float(ctx.missing[s.name].mean()), missing_max=float(ctx.missing[s.name].max()))
        if not s.categorical:
            ic, ric = ivs[f"ic:{s.name}"], ivs[f"rank_ic:{s.name}"]
            f = ctx.factors[s.name].reindex(booked).dropna() if s.name in ctx.factors else pd.Series(dtype=float)
            sd = float(f.std(ddof=1)) if len(f) > 1 else float("nan")
            row.update(ic=ic["estimate"], ic_lo=ic["lo"], ic_hi=ic["hi"], rank_ic=ric["estimate"], rank_ic_lo=ric["lo"],
                       rank_ic_hi=ric["hi"], factor_annual_return=float(f.mean()) * periods_per_year,
                       factor_t=float(f.mean()) / sd * np.sqrt(len(f)) if sd > 0 else float("nan"))
            models[style_model(s.name)] = {k: row[k] for k in ("ic", "ic_lo", "ic_hi", "rank_ic", "rank_ic_lo",
                                                                "rank_ic_hi")}
        rows.append(row)
    return rows, models


def style_predictions(preds: pd.DataFrame, panel: StylePanel, names: list[str] | None = None) -> pd.DataFrame:
    """The zero-training baseline of each continuous style on the rows of ``preds`` (``date, symbol,
    label, ret, window``: the main model's, so every model is scored on the same samples): ``p_up``
    = the style's percentile rank among the day's rows on its premium side (0.5 where it has no
    value), ``model`` = ``style_<name>``."""
    names = panel.continuous if names is None else names
    base = preds[["date", "symbol", "label", "ret", "window"]].reset_index(drop=True)
    d = panel.calendar.get_indexer(pd.DatetimeIndex(base["date"]))
    s = pd.Index(panel.symbols).get_indexer(base["symbol"].astype(str))
    on = (d >= 0) & (s >= 0)
    parts = []
    for n in names:
        v = np.full(len(base), np.nan)
        v[on] = panel.premium(n)[d[on], s[on]]
        p = pd.Series(v).groupby(base["date"].to_numpy()).rank(pct=True).fillna(0.5)
        parts.append(base.assign(p_up=p.to_numpy(), model=style_model(n)))
    cols = ["date", "symbol", "p_up", "label", "ret", "window", "model"]
    return pd.concat(parts, ignore_index=True)[cols] if parts else pd.DataFrame(columns=cols)


def window_metrics(preds: pd.DataFrame) -> pd.DataFrame:
    """Per (window, model) of ``preds``: the window's first and last decision day and
    :func:`signals.metrics.classification_metrics` of its rows."""
    rows = []
    for (model, w), g in preds.groupby(["model", "window"], sort=False):
        met = classification_metrics(g["label"].to_numpy(), g["p_up"].to_numpy(), g["ret"].to_numpy(),
                                     g["date"].to_numpy())
        rows.append({"window": int(w), "model": model, "test_start": g["date"].min(), "test_end": g["date"].max(),
                     **met})
    return pd.DataFrame(rows)


def fast_window_metrics(preds: pd.DataFrame) -> pd.DataFrame:
    """:func:`window_metrics` computed with numpy for many rows at once: the same figures as
    :func:`signals.metrics.classification_metrics` (accuracy and balanced accuracy of ``p_up > 0.5``,
    ROC AUC from average ranks (Mann-Whitney, ties counted half), log loss with probabilities
    clipped to [1e-15, 1 - 1e-15], Brier score, and the window's mean daily IC and rank IC over the
    rows with a known label), without scikit-learn's per-call checks, so the style baselines' metrics
    cost a fraction of a second. A test holds the two equal."""
    from scipy.stats import rankdata

    rows = []
    for model, g in preds.groupby("model", sort=False):
        k = g[np.isfinite(g["label"].to_numpy(float))]
        scores = qn.to_panel(k, "p_up")
        rets = qn.to_panel(k, "ret", index=scores.index, columns=scores.columns)
        daily = {m: qn.daily_corr(scores, rets, m) for m in ("pearson", "spearman")}
        for w, h in k.groupby("window", sort=False):
            y, p = h["label"].to_numpy(float), h["p_up"].to_numpy(float)
            up, pred = y == 1.0, p > 0.5
            n1, n0 = int(up.sum()), int((~up).sum())
            base = n1 / len(y)
            r = rankdata(p)
            auc = (r[up].sum() - n1 * (n1 + 1) / 2) / (n1 * n0) if n1 and n0 else float("nan")
            q = np.clip(p, 1e-15, 1 - 1e-15)
            days = pd.DatetimeIndex(h["date"].unique())
            g_all = g[g["window"] == w]
            rows.append({
                "window": int(w), "model": model, "test_start": g_all["date"].min(), "test_end": g_all["date"].max(),
                "n": len(y), "base_rate": base, "best_constant_accuracy": max(base, 1 - base),
                "accuracy": float((pred == up).mean()),
                "balanced_accuracy": float((pred[up].mean() + (~pred[~up]).mean()) / 2) if n1 and n0 else float("nan"),
                "roc_auc": float(auc),
                "log_loss": float(-np.mean(np.where(up, np.log(q), np.log(1 - q)))),
                "brier": float(np.mean((p - y) ** 2)),
                "ic": float(daily["pearson"].reindex(days).mean()),
                "rank_ic": float(daily["spearman"].reindex(days).mean()),
            })
    return pd.DataFrame(rows)


def apply_neutral_scores(preds: pd.DataFrame, window_metrics_: pd.DataFrame, model: str, panel: StylePanel,
                         names: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``preds`` and its window metrics with ``model``'s scores replaced by what is left after the
    styles ``names`` (:func:`signals.styles.neutral.neutral_scores`) and its window metrics
    recomputed; the other models are untouched."""
    panel.subset(names)  # refuses names the run does not have, with the fix
    rows = preds["model"] == model
    left = neutral_scores(preds.loc[rows, ["date", "symbol", "p_up"]], panel, names)
    out = preds.copy()
    out.loc[rows, "p_up"] = left["p_up"].to_numpy()
    wm = window_metrics(out.loc[rows])
    keep = window_metrics_[window_metrics_["model"] != model]
    extra = [c for c in window_metrics_.columns if c not in wm.columns]
    old = window_metrics_[window_metrics_["model"] == model].set_index("window")
    for c in extra:  # fit information (epochs, seconds, ...) stays the model's
        wm[c] = wm["window"].map(old[c]) if c in old.columns else np.nan
    wm = wm[[c for c in window_metrics_.columns if c in wm.columns]]
    return out, pd.concat([wm, keep], ignore_index=True)


def add_style_baselines(preds: pd.DataFrame, window_metrics_: pd.DataFrame, ctx: StyleContext,
                        main: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """``preds`` and its window metrics with every continuous style's zero-training baseline added on
    ``main``'s rows (:func:`style_predictions`), and the names of those models."""
    rows = preds[preds["model"] == main]
    have = set(preds["model"])
    extra = style_predictions(rows, ctx.panel, [n for n in ctx.panel.continuous if style_model(n) not in have])
    if extra.empty:
        return preds, window_metrics_, []
    wm = fast_window_metrics(extra)
    names = list(pd.unique(extra["model"]))
    return (pd.concat([preds, extra[[c for c in preds.columns if c in extra.columns]]], ignore_index=True),
            pd.concat([window_metrics_, wm], ignore_index=True), names)

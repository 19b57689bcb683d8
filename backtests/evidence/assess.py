"""The evidence behind a verdict, for any predictions table: signal statistics and where the money went.

:func:`signal_evidence` measures a model's predictions (``date, symbol, p_up, label, ret``; ``ret``
is the return the label is the sign of) with day-based intervals: the accuracy edge over the best
constant guess, IC and rank IC, the quantile spread, IC decay over horizons, the signal's rank
autocorrelation. :func:`money_evidence` puts a backtest beside the reference it must beat (the
CSI-300, or the held stock of a single-stock study): CAPM alpha and beta with HAC errors, gross and
net returns, cost drag, turnover and the break-even cost. The statistics are
:mod:`backtests.evidence.stats` and :mod:`backtests.evidence.quantiles`; the words are
:mod:`backtests.evidence.verdict`.

Every figure is a plain float (NaN when undefined), keyed so that it can sit in a model's row of
``metrics.json``; units are in :data:`UNITS`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from data_store import MarketData
from signals.metrics import daily_ic
from strategies.result import BacktestResult

from ..evaluation_config import EvaluationConfig
from . import quantiles as qn
from . import stats
from .attribution import attribute
from .forward import forward_returns
from .outcomes import ModelOutcome
from .styles import StyleContext, is_style_model, signal_figures, style_table

__all__ = ["EvaluationConfig", "SignalEvidence", "UNITS", "assess", "daily_hits", "money_evidence",
           "signal_evidence"]

log = logging.getLogger("backtests.evidence")

#: units of the figures (the rest are unitless)
UNITS = {
    "accuracy_edge": "fraction (0.01 = 1 percentage point) of accuracy above the best constant guess",
    "spread": "mean top-minus-bottom quantile return per holding period, fraction",
    "alpha": "annualised arithmetic alpha, fraction a year (daily alpha x trading days a year)",
    "cost_drag": "gross minus net annual return, fraction a year",
    "break_even_cost": "cost per traded CNY (each side) at which the gross excess return would be zero",
    "cost_per_traded": "fees paid per traded CNY (each side)",
    "daily_turnover": "traded value (buys + sells) over the previous day's equity, mean per day",
    "exposure_<style>": "mean daily rank correlation of the scores with the style, + = its premium side",
    "residual_ic": "mean daily IC of the scores' ranks after each day's regression on every style",
    "score_style_r2": "mean daily share of the scores' (ranks') variance the styles explain",
    "style_alpha": "annualised alpha after the CSI-300 and the style-factor returns (Newey-West), fraction a year",
    "loading_<factor>": "the strategy's loading on a style factor (top third minus bottom third, daily)",
    "contrib_<factor>": "loading x the factor's mean daily return x trading days a year: what it paid, a year",
}


@dataclass
class SignalEvidence:
    """What :func:`signal_evidence` measured: flat ``figures`` and the series the charts draw."""

    figures: dict[str, float]
    ic: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    rank_ic: pd.Series = field(default_factory=lambda: pd.Series(dtype=float))
    quantile_table: pd.DataFrame = field(default_factory=pd.DataFrame)
    cumulative: pd.DataFrame = field(default_factory=pd.DataFrame)
    decay: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: one row per style of the run (:func:`backtests.evidence.styles.style_table`), empty without styles
    styles: list[dict[str, Any]] = field(default_factory=list)


def daily_hits(preds: pd.DataFrame) -> pd.DataFrame:
    """Per day: ``hits`` (calls right: p_up > 0.5 and up, or not and down), ``n`` (samples with a known
    label), ``ups`` (labelled up), over the rows with a known label."""
    k = preds.dropna(subset=["label"])
    up = k["label"].to_numpy() == 1.0
    hit = (k["p_up"].to_numpy() > 0.5) == up
    return pd.DataFrame({"hits": hit.astype(float), "n": 1.0, "ups": up.astype(float)},
                        index=pd.DatetimeIndex(k["date"])).groupby(level=0).sum()


def _interval_figures(prefix: str, res: dict[str, float]) -> dict[str, float]:
    return {f"{prefix}_lo": res["lo"], f"{prefix}_hi": res["hi"]}


def signal_evidence(preds: pd.DataFrame, md: MarketData | None, cfg: EvaluationConfig, *, span: str = "open",
                    horizon: int = 1, excess: bool = False, detail: bool = True,
                    keep_jumps: bool = False) -> SignalEvidence:
    """Measure one model's predictions (see the module docstring).

    ``md``, ``span``, ``excess``: the market data and the return definition of the forward returns
    for IC decay and the cumulative quantile chart (:func:`backtests.evidence.forward.forward_returns`;
    ``span``, ``excess`` and ``keep_jumps`` must be the ones ``ret`` was made with); ``horizon``: the label's horizon
    H (``ret`` is the H-day return). ``detail=False`` skips the decay, the cumulative quantile
    returns and the autocorrelation (the baselines' rows need only the headline figures).
    Cross-sectional figures are NaN for a single stock (no cross-section)."""
    reps, seed, conf = cfg.bootstrap_reps, cfg.seed, cfg.confidence
    known = preds.dropna(subset=["ret"])
    fig: dict[str, float] = {}
    hits = daily_hits(preds)
    edge = stats.accuracy_edge_interval(hits["hits"].to_numpy(), hits["n"].to_numpy(), hits["ups"].to_numpy(),
                                        reps, seed, conf)
    fig.update(accuracy_edge=edge["estimate"], **_interval_figures("accuracy_edge", edge))
    d, p, r = known["date"].to_numpy(), known["p_up"].to_numpy(float), known["ret"].to_numpy(float)
    fig["ic"] = daily_ic(d, p, r, "pearson") if len(known) else float("nan")
    fig["rank_ic"] = daily_ic(d, p, r, "spearman") if len(known) else float("nan")
    scores = qn.to_panel(preds, "p_up")
    rets = qn.to_panel(known, "ret", index=scores.index, columns=scores.columns)
    ev = SignalEvidence(figures=fig)
    ev.ic, ev.rank_ic = qn.daily_corr(scores, rets, "pearson"), qn.daily_corr(scores, rets, "spearman")
    for name, series in (("ic", ev.ic), ("rank_ic", ev.rank_ic)):
        res = stats.mean_interval(series, reps, seed, conf)
        fig.update({**_interval_figures(name, res), f"{name}ir": res["ir"], f"{name}_days": res["days"]})
    q = cfg.quantiles
    qret = qn.quantile_returns(scores, rets, q)
    means = qret.mean()
    spread = qn.extreme_spread(qret)
    res = stats.mean_interval(spread, reps, seed, conf)
    fig.update(spread=res["estimate"], **_interval_figures("spread", res), monotonicity=qn.monotonicity(means))
    counts = qn.quantile_labels(scores.where(rets.notna()), q).stack().value_counts()
    ev.quantile_table = pd.DataFrame({"quantile": means.index.astype(int), "mean_return": means.to_numpy(),
                                      "days": qret.notna().sum().to_numpy(),
                                      "names_per_day": [counts.get(float(k), 0) / max(len(qret), 1)
                                                        for k in means.index]})
    if not detail:
        return ev
    fig["rank_autocorr"] = float(qn.rank_autocorrelation(scores).mean())
    fig["top_turnover"] = float(qn.top_turnover(scores, q).mean())
    if md is not None and scores.shape[1] >= qn.MIN_NAMES:
        one = forward_returns(md, 1, span, excess, keep_jumps).reindex(index=scores.index, columns=scores.columns)
        cum = qn.quantile_returns(scores, one.where(scores.notna()), q)
        ev.cumulative = (1.0 + cum.fillna(0.0)).cumprod()
        rows = []
        for h in range(1, cfg.decay_horizons + 1):
            fr = one if h == 1 else forward_returns(md, h, span, excess, keep_jumps).reindex(index=scores.index,
                                                                                 columns=scores.columns)
            res = stats.mean_interval(qn.daily_corr(scores, fr.where(scores.notna()), "pearson"), reps, seed, conf)
            rows.append({"horizon": h, "ic": res["estimate"], "lo": res["lo"], "hi": res["hi"], "days": res["days"]})
        ev.decay = pd.DataFrame(rows)
        fig["ic_decay_half_life"] = _half_life(ev.decay)
    return ev


def _half_life(decay: pd.DataFrame) -> float:
    """First horizon at which the IC has fallen to half its 1-day value or changed sign (NaN when
    it never does within the horizons, or the 1-day IC is 0 or undefined)."""
    if decay.empty or not np.isfinite(decay["ic"].iloc[0]) or decay["ic"].iloc[0] == 0:
        return float("nan")
    first = decay["ic"].iloc[0]
    ratio = decay["ic"] / first
    hit = decay.loc[ratio <= 0.5, "horizon"]
    return float(hit.iloc[0]) if len(hit) else float("nan")


def money_evidence(net: BacktestResult, gross: BacktestResult | None, reference: pd.Series, periods_per_year: int,
                   confidence: float = 0.95) -> dict[str, float]:
    """Exposure-adjusted, gross and net figures of one traded strategy against ``reference``.

    Net figures are the backtest after every cost; gross is the same strategy with no commission,
    stamp duty or slippage. ``alpha`` etc. are :func:`backtests.evidence.stats.capm` of the net daily returns
    on the reference's (``gross_alpha``... of the gross ones); ``cost_drag`` = gross - net annual
    return; ``break_even_cost`` = gross annual excess return / annual turnover: the cost per traded
    CNY (each side) that would leave no excess over the reference (negative: it trails before costs);
    ``cost_per_traded``: the fees actually paid per traded CNY."""
    from strategies.performance import annual_return

    ppy = periods_per_year
    out: dict[str, float] = {}
    ref = reference.reindex(net.returns.index).fillna(0.0)
    ref_annual = annual_return(ref, ppy)
    out.update(stats.capm(net.returns, ref, ppy, confidence))
    s = net.summary(ppy)
    traded_value = float(net.trades["value"].abs().sum()) if len(net.trades) else 0.0
    out.update(
        reference_annual_return=ref_annual, daily_turnover=float(s["turnover"]),
        annual_turnover=float(s["annual_turnover"]),
        fees=float(s["fees"]), fees_pct_initial=float(s["fees_pct_initial"]), trades=float(s["trades"]),
        cost_per_traded=float(s["fees"]) / traded_value if traded_value > 0 else float("nan"),
        net_annual_return=annual_return(net.returns, ppy),
    )
    if gross is not None and len(gross.returns):
        g = annual_return(gross.returns, ppy)
        g_ex = g - annual_return(reference.reindex(gross.returns.index).fillna(0.0), ppy)
        gc = stats.capm(gross.returns, reference.reindex(gross.returns.index).fillna(0.0), ppy, confidence)
        turn = out["annual_turnover"]
        out.update(gross_annual_return=g, gross_annual_excess_return=g_ex, cost_drag=g - out["net_annual_return"],
                   break_even_cost=g_ex / turn if turn > 0 else float("nan"),
                   **{f"gross_{k}": gc[k] for k in ("alpha", "alpha_lo", "alpha_hi", "alpha_t", "alpha_p", "beta")})
    return out


def assess(outcomes: dict[str, ModelOutcome], md: MarketData | None, reference: pd.Series, periods_per_year: int,
           cfg: EvaluationConfig, *, main: str, span: str = "open", horizon: int = 1,
           excess: bool = False, keep_jumps: bool = False,
           styles: StyleContext | None = None) -> tuple[dict[str, dict[str, float]], SignalEvidence]:
    """Every model's figures (signal evidence for each model with predictions, money evidence for
    each traded one) and the main model's full :class:`SignalEvidence` (quantile table, decay, the
    series of the charts, the styles' table).

    ``styles``: the run's styles; then every model's row also has its exposures and residual IC
    (:func:`backtests.evidence.styles.signal_figures`) and every traded model's the attribution of its
    returns, after and before costs (:func:`backtests.evidence.attribution.attribute`, ``style_alpha``
    and ``gross_style_alpha``...). A style's own baseline (``style_<name>``) gets its IC and rank IC
    only (its residual after the styles is nothing by construction)."""
    figures: dict[str, dict[str, float]] = {}
    main_ev = SignalEvidence(figures={})
    style_models: dict[str, dict[str, float]] = {}
    main_preds = outcomes[main].predictions if main in outcomes else None
    if styles is not None and main_preds is not None and len(main_preds):
        main_ev.styles, style_models = style_table(styles, main_preds, cfg, periods_per_year)
    for name, oc in outcomes.items():
        row: dict[str, float] = {}
        if is_style_model(name) and styles is not None:
            row.update(style_models.get(name, {}))
        elif oc.predictions is not None and len(oc.predictions):
            ev = signal_evidence(oc.predictions, md, cfg, span=span, horizon=horizon, excess=excess,
                                 detail=name == main, keep_jumps=keep_jumps)
            row.update(ev.figures)
            if styles is not None:
                row.update(signal_figures(oc.predictions, styles, cfg, full=name == main))
            if name == main:
                ev.styles = main_ev.styles
                main_ev = ev
        if oc.backtest is not None:
            row.update(money_evidence(oc.backtest, oc.gross, reference, periods_per_year, cfg.confidence))
            if styles is not None and not is_style_model(name):
                row.update(attribute(oc.backtest.returns, reference, styles.factors, periods_per_year, cfg.confidence))
                if oc.gross is not None:
                    row.update(attribute(oc.gross.returns, reference, styles.factors, periods_per_year,
                                         cfg.confidence, prefix="gross_"))
        figures[name] = row
        log.info("      evidence of %s: %d figures", name, len(row))
    return figures, main_ev


def evaluation_record(cfg: EvaluationConfig, ev: SignalEvidence, *, span: str, horizon: int,
                      reference: str) -> dict[str, Any]:
    """The settings and the main model's tables, for ``metrics.json``."""
    return {
        "reference": reference,
        "ic_return": {"open": f"adjusted open(t+1+H)/open(t+1) - 1, H = {horizon}",
                      "close": f"adjusted close(t+H)/close(t) - 1, H = {horizon}"}[span],
        "intervals": {"confidence": cfg.confidence, "method": "stationary bootstrap of days (arch), percentile",
                      "replications": cfg.bootstrap_reps, "seed": cfg.seed,
                      "alpha": "OLS on the reference with Newey-West (HAC) errors (statsmodels)"},
        "quantiles": ev.quantile_table.to_dict(orient="records"),
        "ic_decay": ev.decay.to_dict(orient="records"),
        "units": UNITS,
    }

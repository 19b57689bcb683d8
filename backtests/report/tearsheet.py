"""The tearsheet: this project's accuracy-vs-returns section above QuantStats' full report.

The numbers come from :mod:`backtests.evidence.outcomes` and :mod:`backtests.evidence`, the charts from
:mod:`backtests.report.charts`, the words from :mod:`backtests.evidence.verdict`; QuantStats' page and everything
about it from :mod:`backtests.report.qs_adapter`. :func:`build_report` returns the numbers it shows, so
``metrics.json`` and the HTML cannot disagree.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..evidence.assess import SignalEvidence
from ..evidence.outcomes import ModelOutcome, label, summarise, with_figures
from ..evidence.styles import is_style_model
from ..evidence.verdict import classify, style_carriers, style_title, verdict
from . import charts, qs_adapter, tradeoff
from .formatting import fmt

__all__ = ["Reference", "build_report"]


@dataclass
class Reference:
    """What a strategy must beat: the CSI-300 index, or holding the one stock of a single-stock
    study. ``returns``: its daily returns; ``name``: for tables and charts; ``words``: for sentences."""

    returns: pd.Series
    name: str = "CSI-300"
    words: str = "the CSI-300"
    symbol: str | None = None
    extra: dict[str, pd.Series] = field(default_factory=dict)  # other passive rows (no costs)


def _cell(r: Any, key: str, kind: str) -> str:
    """``kind`` of :func:`fmt`, or ``ci:<kind>``: the value and its ``_lo``/``_hi`` interval."""
    if kind.startswith("ci:"):
        base = kind[3:]
        text = fmt(r.get(key), base)
        lo, hi = r.get(f"{key}_lo"), r.get(f"{key}_hi")
        if text != "n/a" and fmt(lo, base) != "n/a" and fmt(hi, base) != "n/a":
            text += f' <span class="ci">[{fmt(lo, base)}, {fmt(hi, base)}]</span>'
        return text
    return fmt(r.get(key), kind)


def _table(df: pd.DataFrame, cols: list[tuple[str, str, str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in cols)
    body = []
    for _, r in df.iterrows():
        cells = "".join(f"<td>{_cell(r, key, kind)}</td>" for key, _, kind in cols)
        body.append(f"<tr>{cells}</tr>")
    # in a scrolling box: a wide table (the attribution's many factors) scrolls instead of overflowing the page
    return (f'<div class="wide"><table id="{table_id}" class="avr"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _img(alt: str, src: str | None) -> str:
    return f'<img alt="{html.escape(alt)}" src="{src}">' if src else ""


_CSS = """
<style>
#accuracy-vs-returns{clear:both;margin-bottom:40px}
#accuracy-vs-returns h2{font-size:20px;margin:10px 0 12px;font-weight:700}
#accuracy-vs-returns h3{margin-top:26px}
#accuracy-vs-returns .verdict{background:#f6f6f2;border-left:4px solid #d62728;padding:10px 14px;
  font-size:14px;line-height:1.5}
#accuracy-vs-returns .alarm{background:#fde8e8;border-left:6px solid #b00;padding:10px 14px;font-size:15px;
  font-weight:700;color:#900;line-height:1.5}
#accuracy-vs-returns table.avr{margin:0 0 20px}
#accuracy-vs-returns table.avr td,#accuracy-vs-returns table.avr th{border-bottom:1px solid #eee}
#accuracy-vs-returns .ci{color:#777;font-size:11px;white-space:nowrap}
#accuracy-vs-returns img{width:100%;margin:4px 0 10px}
#accuracy-vs-returns .note{color:#555;font-size:12px}
#accuracy-vs-returns .headline{font-size:17px;font-weight:700;margin:6px 0 10px}
#accuracy-vs-returns .wide{overflow-x:auto;max-width:100%}
#accuracy-vs-returns table#attribution td,#accuracy-vs-returns table#attribution th{font-size:11px;padding:4px 3px}
.qs-heading{clear:both;font-size:20px;font-weight:700;margin:30px 0 10px}
</style>
"""

MODEL_COLUMNS = [
    ("model", "model", "name"), ("n", "samples", "int"), ("accuracy", "accuracy", "pct"),
    ("base_rate", "always-up acc.", "pct"), ("best_constant_accuracy", "best constant", "pct"),
    ("balanced_accuracy", "bal. accuracy", "pct"), ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"),
    ("annual_return", "annual return", "pct"), ("annual_excess_return", "annual excess", "spct"),
    ("sharpe", "Sharpe", "f2"), ("max_drawdown", "max DD", "pct"), ("fees", "fees (CNY)", "cny"),
    ("turnover", "turnover/day", "f3"),
]
EVIDENCE_COLUMNS = [
    ("model", "model", "name"), ("accuracy_edge", "accuracy edge over best constant", "ci:pp"),
    ("ic", "IC", "ci:sf3"), ("icir", "ICIR (daily)", "sf2"), ("rank_ic", "rank IC", "ci:sf3"),
    ("spread", "top - bottom quantile a period", "ci:bp"), ("monotonicity", "monotonicity", "sf2"),
]
EXPOSURE_COLUMNS = [
    ("model", "model", "name"), ("annual_return", "annual return", "pct"),
    ("annual_excess_return", "raw excess", "spct"), ("beta", "beta", "ci:f2"),
    ("alpha", "alpha a year", "ci:spct"), ("alpha_t", "t (HAC)", "sf2"), ("r2", "R²", "f2"),
]
MONEY_COLUMNS = [
    ("model", "model", "name"), ("gross_annual_return", "annual before costs", "pct"),
    ("net_annual_return", "after costs", "pct"), ("gross_annual_excess_return", "excess before costs", "spct"),
    ("annual_excess_return", "excess after costs", "spct"), ("gross_alpha_t", "gross alpha t", "sf2"),
    ("cost_drag", "cost drag a year", "pct"), ("daily_turnover", "traded a day (x book)", "f2"),
    ("fees_pct_initial", "fees / capital", "pct"), ("cost_per_traded", "cost per traded CNY", "bp"),
    ("break_even_cost", "break-even cost", "bp"),
]


def build_report(
    path: str | Path,
    *,
    title: str,
    main_model: str,
    outcomes: dict[str, ModelOutcome],
    reference: Reference,
    calendar: pd.DatetimeIndex,
    coverage: pd.DataFrame,
    periods_per_year: int,
    figures: dict[str, dict[str, float]] | None = None,
    evidence: SignalEvidence | None = None,
    confidence: float = 0.95,
    rolling_days: int = 60,
    notes: list[str] | None = None,
    audit: str | None = None,
    stock: tuple[pd.Series, pd.Series] | None = None,
    alarms: list[str] | None = None,
    evaluated: bool = False,
    style_words: str = "",
) -> dict[str, Any]:
    """Write the tearsheet to ``path`` and return the numbers it shows (for metrics.json).

    ``figures``: each model's evidence (:func:`backtests.evidence.assess`), merged into its row;
    ``evidence``: the main model's tables and series; ``stock``: (adjusted close, tradable) of a
    single-stock study's symbol for its coverage block; ``alarms``: sentences that lead the section,
    above the verdict (:mod:`backtests.evidence.alarms`); ``evaluated``: a table given to
    ``backtests.evaluate`` (not trained here: its windows are evaluation periods); ``style_words``:
    which styles the run used (its "Skill or style?" section is drawn when the evidence has a
    styles table)."""
    single = reference.symbol is not None
    models, windows = summarise(outcomes, reference.returns, calendar, periods_per_year, reference.extra,
                                reference_model=f"Buy-and-hold {reference.symbol}" if single else "index")
    if figures:
        models = with_figures(models, figures)
    main = models.set_index("model").loc[main_model]
    mw = windows[windows["model"] == main_model]
    text = verdict(label(main_model), main, mw, reference=reference.words, single_stock=single, confidence=confidence)
    main_oc = outcomes[main_model]
    qs_html = qs_adapter.html_report(
        main_oc.returns if main_oc.returns is not None else pd.Series(dtype=float),
        reference.returns, path, title=title, periods_per_year=periods_per_year, benchmark_name=reference.name)
    level = f"{round(100 * confidence):d}%"
    shown = models.assign(model=models["model"].map(label))
    traded = shown[models["model"].isin([m for m, oc in outcomes.items() if oc.backtest is not None])]
    sec = [_CSS, '<div id="accuracy-vs-returns">', "<h2>Accuracy vs returns</h2>",
           *(f'<p class="alarm" id="alarm-{i}">{html.escape(a)}</p>' for i, a in enumerate(alarms or []))]
    if evidence is not None and evidence.styles:
        sec.append(f'<p class="headline" id="skill-or-style-headline">Skill or style? '
                   f"{html.escape(_headline(label(main_model), main))}</p>")
    sec.append(f'<p class="verdict" id="verdict">{html.escape(text)}</p>')
    if audit:
        sec.append(f'<p class="note" id="audit"><b>Leakage audit:</b> {html.escape(audit)}</p>')
    for w in main_oc.backtest.warnings if main_oc.backtest is not None else []:
        sec.append(f'<p class="verdict" id="warning"><b>Warning:</b> {html.escape(w)}</p>')
    if evidence is not None and evidence.styles:
        sec += _style_section(shown, models, outcomes, main_model, evidence, reference, style_words, level)
    period = "evaluation period" if evaluated else "walk-forward window"
    sec.append(f"<h3>Every model on the same {period}s and samples</h3>")
    cols = [c for c in MODEL_COLUMNS if not (single and c[0] == "ic")]
    sec.append(_table(shown, cols, "models"))
    sec.append('<p class="note">Prediction metrics are pooled over all test samples (sample-weighted); IC is the '
               "mean over days of each day's cross-sectional correlation. The best constant guess is always-up or "
               "always-down, whichever scores more: an accuracy edge only means something above it. Returns are "
               f"net of commission and stamp duty; excess is over {html.escape(reference.words)} (held, no costs); "
               f"buy-and-hold rows are without costs. Annualised with {periods_per_year} trading days a year "
               "(A-share calendar).</p>")
    sec += _evidence_sections(shown, traded, reference, level, single)
    if evidence is not None and not single and len(evidence.quantile_table):
        sec += _quantile_section(main_model, main, evidence, rolling_days, level)
    elif single:
        sec.append('<p class="note" id="no-cross-section">One stock: no cross-section, so no IC, quantiles or IC '
                   "decay; the evidence is the accuracy edge and the alpha against holding the stock.</p>")
    own = {m: oc for m, oc in outcomes.items() if not is_style_model(m)}  # the styles have their own section
    if mw["window"].nunique() > 1:
        sec.append(f"<h3>Per {period}: does a better hit rate earn more?</h3>")
        sec.append(_img("accuracy vs excess return",
                        charts.chart_accuracy_vs_excess(windows[~windows["model"].map(is_style_model)],
                                                        reference.name, period)))
    else:
        sec.append("<h3>Equity</h3>")
        sec.append(f'<p class="note" id="one-period">One {period}: a scatter of accuracy against excess return '
                   "needs two or more, so there is none.</p>")
    sec.append(_img("equity curves", charts.chart_equity(own, reference.returns, reference.name)))
    sec.append(f"<h3>{html.escape(label(main_model))} by {period}</h3>")
    sec.append(_img("windows", charts.chart_windows(windows, main_model)))
    sec.append(_table(mw, [
        ("window", "window", "int"), ("test_start", "test from", "date"), ("test_end", "to", "date"),
        ("n", "samples", "int"), ("accuracy", "accuracy", "pct"), ("balanced_accuracy", "bal. acc.", "pct"),
        ("roc_auc", "AUC", "f3"), *([] if single else [("ic", "IC", "f3")]), ("base_rate", "always-up", "pct"),
        ("best_constant_accuracy", "best const.", "pct"), ("strategy_return", "strategy", "spct"),
        ("benchmark_return", reference.name, "spct"), ("excess_return", "excess", "spct"),
    ], "windows"))
    sec.append('<p class="note">A window\'s returns are booked on the day after each of its decision days '
               "(orders fill at the next open); its excess is compounded over the window, not annualised.</p>")
    base = windows[(windows["model"] != main_model) & ~windows["model"].map(is_style_model)]
    if len(base):
        sec.append(f"<h3>Baselines by {period}</h3>")
        sec.append(_table(base.assign(model=base["model"].map(label)), [
            ("model", "model", "name"), ("window", "window", "int"), ("accuracy", "accuracy", "pct"),
            ("base_rate", "always-up", "pct"), ("roc_auc", "AUC", "f3"), *([] if single else [("ic", "IC", "f3")]),
            ("strategy_return", "strategy", "spct"), ("benchmark_return", reference.name, "spct"),
            ("excess_return", "excess", "spct"),
        ], "baselines"))
    sec += _costs_section(outcomes, main_model)
    sec += tradeoff.section(main_oc.tradeoff, label(main_model), reference.words)
    sec += _coverage_section(coverage, mw, stock, reference)
    for n in notes or []:
        sec.append(f'<p class="note">{html.escape(n)}</p>')
    sec.append("</div>")
    sec.append(f'<div class="qs-heading">QuantStats report: {html.escape(label(main_model))} strategy vs '
               f"{html.escape(reference.name)}</div>")
    qs_adapter.write_page(path, qs_html, "\n".join(sec), title)
    return {
        "verdict": text,
        "verdict_class": classify(main),
        "models": models.replace({np.nan: None}).to_dict(orient="records"),
        "windows": windows.assign(test_start=windows["test_start"].astype(str),
                                  test_end=windows["test_end"].astype(str))
        .replace({np.nan: None}).to_dict(orient="records"),
    }


def _evidence_sections(shown: pd.DataFrame, traded: pd.DataFrame, reference: Reference, level: str,
                       single: bool) -> list[str]:
    words = html.escape(reference.words)
    ev_cols = [c for c in EVIDENCE_COLUMNS if not (single and c[0] in ("ic", "icir", "rank_ic", "spread",
                                                                          "monotonicity"))]
    return [
        "<h3>Is it skill? Prediction evidence with honest intervals</h3>",
        _table(shown[shown["accuracy"].notna()], ev_cols, "evidence"),
        f'<p class="note">{level} intervals in brackets, from a stationary bootstrap of whole days (the samples of '
        "a day share its market move, so they are not independent; blocks of days keep serial dependence). "
        "Accuracy edge: accuracy minus the best constant guess."
        + ("" if single else " Top - bottom: mean forward return of the highest quantile of the day's scores minus "
           "the lowest, per holding period, no costs. Monotonicity: rank correlation of quantile and its mean "
           "return (+1: every higher quantile earned more).") + "</p>",
        f"<h3>Returns after the exposure to {words}</h3>",
        _table(traded, EXPOSURE_COLUMNS, "exposure"),
        f'<p class="note">Daily strategy returns regressed on {words}\'s (CAPM, zero risk-free rate), with '
        "Newey-West (HAC) standard errors; alpha is the daily intercept times trading days a year. A win with a "
        "beta above 1 in a rising market is exposure, not skill: only a significant alpha is.</p>",
        "<h3>Where the money went: before and after costs</h3>",
        _table(traded, MONEY_COLUMNS, "money"),
        '<p class="note">Before costs: the same strategy on the same predictions and rules with no commission, '
        "stamp duty or slippage. Cost drag: the difference of the two annual returns. Break-even cost: the cost "
        "per traded CNY (each side) at which the excess before costs would be used up (gross annual excess / "
        "annual turnover); negative when the strategy trails before any cost.</p>",
    ]


def _headline(name: str, row: Any) -> str:
    """The verdict's class in a few words, naming the styles that carried the return."""
    cat = classify(row)
    words = {"skill": "Skill beyond styles", "skill_before_costs": "Skill beyond styles before costs, removed by costs",
             "style_not_skill": "Style, not skill", "exposure": "Exposure to the index, not skill",
             "signal_without_money": "Some information, no money", "no_evidence": "No evidence of skill",
             "never_traded": "Never traded"}[cat]
    carried = style_carriers(row)
    if carried:
        lead = " (the return was carried by " if cat == "style_not_skill" else " (styles that also paid: "
        words += lead + ", ".join(style_title(n) for n, _ in carried[:3]) + ")"
    return f"{name}: {words}."


def _style_section(shown: pd.DataFrame, models: pd.DataFrame, outcomes: dict[str, ModelOutcome], main_model: str,
                   ev: SignalEvidence, reference: Reference, style_words: str, level: str) -> list[str]:
    """Skill or style? Exposures, raw vs residual IC, the attribution, the styles themselves."""
    share = ev.styles[0].get("factor_share") if ev.styles else None
    names = [r["name"] for r in ev.styles if r["side"] != "category"]
    own = ~models["model"].map(is_style_model)
    expo = [f"exposure_{n}" for n in names if f"exposure_{n}" in models.columns]
    scored = shown[own & models["accuracy"].notna() & (models[expo].notna().any(axis=1) if expo else True)]
    traded = shown[own & models["model"].isin([m for m, oc in outcomes.items() if oc.backtest is not None])]
    factors = [n for n in [*names, "equal_weight"] if f"loading_{n}" in models.columns]
    words = html.escape(reference.words)
    out = ['<div id="skill-or-style">', "<h3>Skill or style?</h3>",
           f'<p class="note" id="styles-used">{html.escape(style_words)}</p>',
           "<h4>How much the scores lean on each style</h4>",
           _table(scored, [("model", "model", "name"),
                           *[(f"exposure_{n}", style_title(n), "ci:sf2") for n in names],
                           ("score_style_r2", "share explained", "pct")], "style-exposures"),
           '<p class="note">Mean over days of the rank correlation between the scores and each style, signed so that + '
           "leans to the side a style investor holds; share explained: the mean R² of each day's regression of the "
           f"scores' ranks on all the styles. {level} intervals for the main model (days resampled in blocks).</p>",
           "<h4>Raw and residual IC: what is left after the styles</h4>",
           _table(scored, [("model", "model", "name"), ("ic", "IC", "ci:sf3"), ("residual_ic", "residual IC", "ci:sf3"),
                           ("rank_ic", "rank IC", "ci:sf3"),
                           ("residual_rank_ic", "residual rank IC", "ci:sf3")], "residual-ic"),
           '<p class="note">Residual: each day, the ranks of the scores regressed on every style (ranks, an intercept; '
           "industry as categories when the data have it) and on a cubic spline of that fit (so a bent mix of styles "
           "is removed too), over the day's scored names; the IC of what is left, "
           "with the same day-block bootstrap intervals as the raw IC. A score that is only a style leaves "
           "nothing.</p>",
           f"<h4>Where the money came from: {words} and the style factors</h4>",
           _table(traded, [("model", "model", "name"), ("style_beta", "beta", "f2"),
                           *[(f"loading_{n}", style_title(n), "ci:sf2") for n in factors],
                           ("style_alpha", "alpha after styles", "ci:spct"), ("style_alpha_t", "t", "sf2"),
                           ("gross_style_alpha", "before costs", "ci:spct"), ("gross_style_alpha_t", "t", "sf2"),
                           ("style_r2", "R²", "f2")], "attribution"),
           _table(traded, [("model", "model", "name"),
                           *[(f"contrib_{n}", style_title(n), "spct") for n in factors],
                           ("alpha", f"alpha over {reference.name} only", "ci:spct"),
                           ("style_alpha", "alpha after styles", "ci:spct")], "attribution-paid"),
           f'<p class="note">Daily returns (after costs; "before costs": the gross twin) regressed on {words} and the '
           "style factors, Newey-West errors. A style factor is the held side of the style at the strategy's "
           f"breadth (the top {fmt(share, 'pct')} of the tradable members by the style, equal-weighted) minus all "
           "the members, formed at a close, bought at the next open and held over the next close-to-close day; "
           "equal weight is the equal-weighted members minus the index. The second table is what each exposure "
           "paid: loading x the factor's mean return, a year.</p>",
           "<h4>The styles themselves, as zero-training baselines</h4>",
           _table(pd.DataFrame(ev.styles), [("name", "style", "name"), ("side", "held side", "name"),
                                            ("window_days", "window (days)", "int"), ("units", "units", "name"),
                                            ("definition", "definition", "name"), ("ic", "IC", "ci:sf3"),
                                            ("rank_ic", "rank IC", "ci:sf3"),
                                            ("factor_annual_return", "factor a year", "spct"), ("factor_t", "t", "sf2"),
                                            ("missing_mean", "missing a day", "f2")], "styles"),
           '<p class="note">Each style is traded by the same strategy and costs as the model (its rows "Style: ..." in '
           "the tables below): the free signals a model must beat. IC on the main model's days and names; missing: "
           "mean number of tradable members a day without a value (new listings have no 250-day beta).</p>"]
    styles_only = {m: oc for m, oc in outcomes.items() if m == main_model or is_style_model(m)}
    if len(styles_only) > 1:
        out.append(_img("the model beside the style baselines",
                        charts.chart_equity(styles_only, reference.returns, reference.name)))
    out.append("</div>")
    return out


def _quantile_section(model: str, row: Any, ev: SignalEvidence, rolling_days: int, level: str) -> list[str]:
    name = html.escape(label(model))
    qt = ev.quantile_table.assign(mean_bp=ev.quantile_table["mean_return"])
    out = [f"<h3>From accuracy to money: {name}'s predictions in quantiles</h3>",
           _table(qt, [("quantile", "quantile", "int"), ("mean_bp", "mean return a period", "bp"),
                       ("names_per_day", "names a day", "f2"), ("days", "days", "int")], "quantiles"),
           f'<p class="note" id="signal-facts">Top minus bottom {_cell(row, "spread", "ci:bp")} a period; '
           f"monotonicity {fmt(row.get('monotonicity'), 'sf2')}; rank autocorrelation of the scores from one day "
           f"to the next {fmt(row.get('rank_autocorr'), 'f2')}; the top quantile replaces "
           f"{fmt(row.get('top_turnover'), 'pct')} of its names a day (the turnover the signal implies); "
           f"{_half_life_words(row, ev.decay)}.</p>",
           _img("quantile returns", charts.chart_quantiles(ev.quantile_table, model))]
    if len(ev.cumulative):
        out.append(_img("cumulative quantile returns", charts.chart_cumulative_quantiles(ev.cumulative, model)))
    if len(ev.ic):
        out.append(_img("rolling IC", charts.chart_rolling_ic(ev.ic, rolling_days, model)))
    if len(ev.decay):
        out.append(_img("IC decay", charts.chart_ic_decay(ev.decay, model, level)))
        decay = ev.decay.assign(ic_lo=ev.decay["lo"], ic_hi=ev.decay["hi"])
        out.append(_table(decay, [("horizon", "horizon (days)", "int"), ("ic", "mean IC", "ci:sf3"),
                                     ("days", "days", "int")], "ic-decay"))
    return out


def _half_life_words(row: Any, decay: Any) -> str:
    """The IC decay in words, from the 1-day row of ``decay`` (the headline IC is at the label's
    horizon, which need not be 1 day)."""
    horizons = len(decay)
    one: dict[str, Any] = decay.iloc[0].to_dict() if horizons else {}
    first = one.get("ic", float("nan"))
    half = row.get("ic_decay_half_life")
    if fmt(half, "int") != "n/a":
        return f"the IC falls to half its 1-day value (or changes sign) by a {fmt(half, 'int')}-day horizon"
    if fmt(first, "f3") == "n/a" or float(first) == 0:
        return "the 1-day IC is zero or undefined, so it has no decay to measure"
    lo, hi = one.get("lo", float("nan")), one.get("hi", float("nan"))
    if fmt(lo, "f3") != "n/a" and float(lo) <= 0 <= float(hi):
        return "the 1-day IC is within noise, so its decay over horizons says little"
    return f"the IC keeps more than half its 1-day value up to {horizons} days"


def _costs_section(outcomes: dict[str, ModelOutcome], main_model: str) -> list[str]:
    s = outcomes[main_model].summary
    reasons = ", ".join(f"{k} {v}" for k, v in (s.get("rejected_by_reason") or {}).items()) or "none"
    out = ["<h3>Costs and rejected orders</h3>",
           f'<p id="costs">Commission {fmt(s.get("commission"), "cny")} CNY, '
           f'stamp duty {fmt(s.get("stamp_duty"), "cny")} CNY, total fees {fmt(s.get("fees"), "cny")} CNY '
           f'({fmt(s.get("fees_pct_initial"), "pct")} of the starting capital); {fmt(s.get("trades", 0), "int")} '
           f'trades; annual turnover {fmt(s.get("annual_turnover"), "f2")}x ({fmt(s.get("turnover"), "f3")} of equity '
           f'a day); cash {fmt(s.get("avg_cash_share"), "pct")} of equity on average; held without a prediction on '
           f'{fmt(s.get("unscored_position_days"), "int")} position-days; p_up tied at the k-th place on '
           f'{fmt(s.get("tie_days"), "int")} days; rejected or trimmed orders (episodes of consecutive days): '
           f'{reasons}; fill rate {fmt(s.get("fill_rate"), "pct")} of the value wanted (the participation cap), '
           f'impact {fmt(s.get("impact"), "cny")} CNY (in the fill prices).</p>']
    out.append(_img("costs", charts.chart_costs(outcomes, main_model)))
    return out


def _coverage_section(coverage: pd.DataFrame, mw: pd.DataFrame, stock: tuple[pd.Series, pd.Series] | None,
                      reference: Reference) -> list[str]:
    start = pd.Timestamp(mw["test_start"].min()) if len(mw) else coverage.index[0]
    end = pd.Timestamp(mw["test_end"].max()) if len(mw) else coverage.index[-1]
    if stock is not None and reference.symbol:
        close, tradable = (x.loc[start:end] for x in stock)
        sym = html.escape(reference.symbol)
        return ["<h3>The stock over the test days</h3>",
                f'<p id="coverage">{sym}: tradable (a point-in-time member with a bar and volume &gt; 0) on '
                f"{int(tradable.sum())} of {len(tradable)} test days; the other days it could not be traded.</p>",
                _img("coverage", charts.chart_stock(close, tradable, reference.symbol))]
    cov = coverage.loc[start:end]
    return ["<h3>Universe coverage</h3>",
            f'<p id="coverage">Over the test days, point-in-time members per day: '
            f'{int(cov["members"].min())}-{int(cov["members"].max())}; members with a bar in the data: '
            f'{int(cov["members_with_bar"].min())}-{int(cov["members_with_bar"].max())}; tradable (bar and volume '
            f'&gt; 0): {int(cov["tradable"].min())}-{int(cov["tradable"].max())}. Members without bars are stocks '
            "the source lacks (mostly delisted): a survivorship gap that is reported, not filled.</p>",
            _img("coverage", charts.chart_coverage(cov))]

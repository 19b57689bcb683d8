"""The tearsheet: this project's accuracy-vs-returns section above QuantStats' full report.

The numbers come from :mod:`backtests.outcomes`, the charts from :mod:`backtests.charts`, the
words from :mod:`backtests.verdict`; QuantStats' page and everything about it from
:mod:`backtests.qs_adapter`. :func:`build_report` returns the numbers it shows, so
``metrics.json`` and the HTML cannot disagree.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import qs_adapter
from .charts import (
    chart_accuracy_vs_excess,
    chart_costs,
    chart_coverage,
    chart_equity,
    chart_windows,
)
from .formatting import fmt
from .outcomes import ModelOutcome, label, summarise
from .verdict import verdict

__all__ = ["build_report"]


def _table(df: pd.DataFrame, cols: list[tuple[str, str, str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in cols)
    body = []
    for _, r in df.iterrows():
        cells = "".join(f"<td>{fmt(r.get(key), kind)}</td>" for key, _, kind in cols)
        body.append(f"<tr>{cells}</tr>")
    return f'<table id="{table_id}" class="avr"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


_CSS = """
<style>
#accuracy-vs-returns{clear:both;margin-bottom:40px}
#accuracy-vs-returns h2{font-size:20px;margin:10px 0 12px;font-weight:700}
#accuracy-vs-returns h3{margin-top:26px}
#accuracy-vs-returns .verdict{background:#f6f6f2;border-left:4px solid #d62728;padding:10px 14px;
  font-size:14px;line-height:1.5}
#accuracy-vs-returns table.avr{margin:0 0 20px}
#accuracy-vs-returns table.avr td,#accuracy-vs-returns table.avr th{border-bottom:1px solid #eee}
#accuracy-vs-returns img{width:100%;margin:4px 0 10px}
#accuracy-vs-returns .note{color:#555;font-size:12px}
.qs-heading{clear:both;font-size:20px;font-weight:700;margin:30px 0 10px}
</style>
"""


def build_report(
    path: str | Path,
    *,
    title: str,
    main_model: str,
    outcomes: dict[str, ModelOutcome],
    benchmark: pd.Series,
    calendar: pd.DatetimeIndex,
    coverage: pd.DataFrame,
    periods_per_year: int,
    notes: list[str] | None = None,
    audit: str | None = None,
    passive: dict[str, pd.Series] | None = None,
) -> dict[str, Any]:
    """Write the tearsheet to ``path`` and return the numbers it shows (for metrics.json).

    ``passive``: extra buy-and-hold return series shown beside the models (no costs)."""
    models, windows = summarise(outcomes, benchmark, calendar, periods_per_year, passive)
    main = models.set_index("model").loc[main_model]
    mw = windows[windows["model"] == main_model]
    text = verdict(label(main_model), main, mw)
    main_oc = outcomes[main_model]
    qs_html = qs_adapter.html_report(
        main_oc.returns if main_oc.returns is not None else pd.Series(dtype=float),
        benchmark, path, title=title, periods_per_year=periods_per_year,
    )
    sec = [_CSS, '<div id="accuracy-vs-returns">', "<h2>Accuracy vs returns</h2>",
           f'<p class="verdict" id="verdict">{html.escape(text)}</p>']
    if audit:
        sec.append(f'<p class="note" id="audit"><b>Leakage audit:</b> {html.escape(audit)}</p>')
    sec.append("<h3>Every model on the same walk-forward windows and samples</h3>")
    shown_models = models.assign(model=models["model"].map(label))
    sec.append(_table(shown_models, [
        ("model", "model", "name"), ("n", "samples", "int"), ("accuracy", "accuracy", "pct"),
        ("base_rate", "always-up acc.", "pct"), ("best_constant_accuracy", "best constant", "pct"),
        ("balanced_accuracy", "bal. accuracy", "pct"),
        ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"), ("annual_return", "annual return", "pct"),
        ("annual_excess_return", "annual excess", "spct"), ("sharpe", "Sharpe", "f2"),
        ("max_drawdown", "max DD", "pct"), ("fees", "fees (CNY)", "cny"), ("turnover", "turnover/day", "f3"),
    ], "models"))
    sec.append('<p class="note">Prediction metrics are pooled over all test samples (sample-weighted). '
               "The best constant guess is always-up or always-down, whichever scores more: an accuracy "
               "edge only means something above it. "
               "Returns are net of commission and stamp duty; buy-and-hold rows are without costs. "
               f"Annualised with {periods_per_year} trading days a year (A-share calendar).</p>")
    sec.append(f'<img alt="accuracy vs excess return" src="{chart_accuracy_vs_excess(windows)}">')
    sec.append(f'<img alt="equity curves" src="{chart_equity(outcomes, benchmark)}">')
    sec.append(f"<h3>{html.escape(label(main_model))} by walk-forward window</h3>")
    sec.append(f'<img alt="windows" src="{chart_windows(windows, main_model)}">')
    sec.append(_table(mw, [
        ("window", "window", "int"), ("test_start", "test from", "date"), ("test_end", "to", "date"),
        ("n", "samples", "int"), ("accuracy", "accuracy", "pct"), ("balanced_accuracy", "bal. acc.", "pct"),
        ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"), ("base_rate", "base rate", "pct"),
        ("base_rate", "always-up", "pct"), ("best_constant_accuracy", "best const.", "pct"),
        ("strategy_return", "strategy", "spct"),
        ("benchmark_return", "CSI-300", "spct"), ("excess_return", "excess", "spct"),
    ], "windows"))
    sec.append('<p class="note">A window\'s returns are booked on the day after each of its decision days '
               "(orders fill at the next open).</p>")
    base = windows[windows["model"] != main_model]
    if len(base):
        sec.append("<h3>Baselines by window</h3>")
        sec.append(_table(base.assign(model=base["model"].map(label)), [
            ("model", "model", "name"), ("window", "window", "int"), ("accuracy", "accuracy", "pct"),
            ("base_rate", "always-up", "pct"), ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"),
            ("strategy_return", "strategy", "spct"), ("benchmark_return", "CSI-300", "spct"),
            ("excess_return", "excess", "spct"),
        ], "baselines"))
    costs_png = chart_costs(outcomes, main_model)
    sec.append("<h3>Costs and rejected orders</h3>")
    s = main_oc.summary
    sec.append(
        f'<p id="costs">Commission {fmt(s.get("commission"), "cny")} CNY, '
        f'stamp duty {fmt(s.get("stamp_duty"), "cny")} CNY, '
        f'total fees {fmt(s.get("fees"), "cny")} CNY; {fmt(s.get("trades", 0), "int")} trades; '
        f'annual turnover {fmt(s.get("annual_turnover"), "f2")}x ({fmt(s.get("turnover"), "f3")} of equity a day); '
        f'cash {fmt(s.get("avg_cash_share"), "pct")} of equity on average; held without a prediction on '
        f'{fmt(s.get("unscored_position_days"), "int")} position-days; p_up tied at the k-th place on '
        f'{fmt(s.get("tie_days"), "int")} days; rejected or trimmed orders (episodes of consecutive days): '
        + ", ".join(f"{k} {v}" for k, v in (s.get("rejected_by_reason") or {}).items()) + ".</p>"
    )
    if costs_png:
        sec.append(f'<img alt="costs" src="{costs_png}">')
    cov = coverage.loc[coverage.index >= pd.Timestamp(mw["test_start"].min())] if len(mw) else coverage
    sec.append("<h3>Universe coverage</h3>")
    sec.append(
        f'<p id="coverage">Over the test days, point-in-time members per day: '
        f'{int(cov["members"].min())}-{int(cov["members"].max())}; '
        f'members with a bar in the data: {int(cov["members_with_bar"].min())}-{int(cov["members_with_bar"].max())}; '
        f'tradable (bar and volume &gt; 0): {int(cov["tradable"].min())}-{int(cov["tradable"].max())}. '
        "Members without bars are stocks the source lacks (mostly delisted): a survivorship gap that is "
        "reported, not filled.</p>"
    )
    sec.append(f'<img alt="coverage" src="{chart_coverage(cov)}">')
    for n in notes or []:
        sec.append(f'<p class="note">{html.escape(n)}</p>')
    sec.append("</div>")
    sec.append(f'<div class="qs-heading">QuantStats report: {html.escape(label(main_model))} strategy vs CSI-300</div>')
    block = "\n".join(sec)
    qs_adapter.write_page(path, qs_html, block, title)
    return {
        "verdict": text,
        "models": models.replace({np.nan: None}).to_dict(orient="records"),
        "windows": windows.assign(test_start=windows["test_start"].astype(str),
                                  test_end=windows["test_end"].astype(str))
        .replace({np.nan: None}).to_dict(orient="records"),
    }

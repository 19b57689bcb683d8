"""The tearsheet: QuantStats' full report plus this project's accuracy-vs-returns section.

Everything the section shows is computed here from the run's tables (window metrics, returns,
trades, rejected orders, coverage); :func:`build_report` returns those numbers too, so
``metrics.json`` and the HTML cannot disagree.
"""

from __future__ import annotations

import base64
import html
import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from . import analysis as an
from . import qs_adapter

MODEL_LABELS = {
    "lstm": "LSTM", "gru": "GRU", "attention": "Attention-LSTM", "logistic": "Logistic",
    "always_up": "Always-up", "yesterday": "Yesterday's direction", "index": "Buy-and-hold CSI-300",
}


def label(model: str) -> str:
    return MODEL_LABELS.get(model, model)


@dataclass
class ModelOutcome:
    """What one model produced: its window metrics and, when traded, its backtest."""

    model: str
    window_metrics: pd.DataFrame
    returns: pd.Series | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    rejected: pd.DataFrame | None = None
    trades: pd.DataFrame | None = None
    equity: pd.Series | None = None
    cash: pd.Series | None = None
    positions: pd.DataFrame | None = None
    corporate_actions: pd.DataFrame | None = None

    def attach(self, res: Any, periods_per_year: int) -> None:
        """Take the figures of a ``strategies.BacktestResult`` (annualised on ``periods_per_year``)."""
        self.returns, self.summary = res.returns, res.summary(periods_per_year)
        self.rejected, self.trades = res.rejected, res.trades
        self.equity, self.cash = res.equity, res.cash
        self.positions, self.corporate_actions = res.positions, res.corporate_actions


# ------------------------------------------------------------------ numbers
def _pooled(wm: pd.DataFrame, col: str) -> float:
    """Sample-weighted mean of a per-window metric."""
    w = wm["n"].to_numpy(dtype=float)
    v = wm[col].to_numpy(dtype=float)
    ok = np.isfinite(v) & (w > 0)
    return float(np.average(v[ok], weights=w[ok])) if ok.any() else float("nan")


def summarise(
    outcomes: dict[str, ModelOutcome],
    benchmark: pd.Series,
    calendar: pd.DatetimeIndex,
    periods_per_year: int,
    passive: dict[str, pd.Series] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-model summary, per-window table) for every model, the buy-and-hold index and any
    other ``passive`` return series (e.g. holding the one stock of a single-stock study)."""
    model_rows, window_rows = [], []
    bench_days = None
    for name, oc in outcomes.items():
        wm = oc.window_metrics.sort_values("window")
        row: dict[str, Any] = {"model": name}
        for col in ("accuracy", "balanced_accuracy", "roc_auc", "ic", "rank_ic", "base_rate", "always_up_accuracy", "log_loss", "brier"):
            row[col] = _pooled(wm, col) if col in wm else float("nan")
        row["n"] = int(wm["n"].sum())
        row["majority_accuracy"] = max(row["always_up_accuracy"], 1 - row["always_up_accuracy"])
        per_win = wm[["window", "test_start", "test_end", "n", "accuracy", "balanced_accuracy", "roc_auc", "ic", "base_rate", "always_up_accuracy"]].copy()
        per_win["majority_accuracy"] = np.maximum(per_win["always_up_accuracy"], 1 - per_win["always_up_accuracy"])
        per_win.insert(0, "model", name)
        if oc.returns is not None and len(oc.returns):
            perf = an.performance(oc.returns, benchmark, periods_per_year)
            row.update(perf)
            wr = an.window_returns(oc.returns, benchmark, wm[["window", "test_start", "test_end"]], calendar)
            per_win = per_win.merge(wr, on="window", how="left")
            for key in ("fees", "commission", "stamp_duty", "turnover", "annual_turnover", "trades", "rejected"):
                if key in oc.summary:
                    row[key] = oc.summary[key]
            bench_days = oc.returns.index if bench_days is None else bench_days
        model_rows.append(row)
        window_rows.append(per_win)
    if bench_days is not None:
        b = benchmark.reindex(bench_days).fillna(0.0)
        perf = an.performance(b, benchmark, periods_per_year)
        model_rows.append({"model": "index", **perf, "annual_excess_return": 0.0})
        for name, ret in (passive or {}).items():
            model_rows.append({"model": name, **an.performance(ret.reindex(bench_days).fillna(0.0), benchmark, periods_per_year)})
    return pd.DataFrame(model_rows), pd.concat(window_rows, ignore_index=True)


# ------------------------------------------------------------------ charts
def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _figure(w: float = 9.0, h: float = 4.0):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(w, h))
    return fig, fig.add_subplot(1, 1, 1)


_COLORS = {"lstm": "#d62728", "gru": "#9467bd", "attention": "#8c564b", "logistic": "#1f77b4",
           "always_up": "#7f7f7f", "yesterday": "#2ca02c", "index": "#000000"}


def chart_accuracy_vs_excess(windows: pd.DataFrame) -> str:
    fig, ax = _figure(9, 4.6)
    traded = windows.dropna(subset=["excess_return"]) if "excess_return" in windows else windows.iloc[0:0]
    for model, g in traded.groupby("model", sort=False):
        edge = 100 * (g["accuracy"] - g["majority_accuracy"])
        ax.scatter(edge, 100 * g["excess_return"], label=label(model), color=_COLORS.get(model), s=36, alpha=0.85)
    ax.axhline(0, color="#999", lw=0.8)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_xlabel("accuracy minus the best constant guess, always-up or always-down (pp)")
    ax.set_ylabel("excess return over CSI-300 after costs (%)")
    ax.set_title("Each dot is one walk-forward window: does a better hit rate earn more?")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_equity(outcomes: dict[str, ModelOutcome], benchmark: pd.Series) -> str:
    fig, ax = _figure(9, 4.2)
    days = None
    for name, oc in outcomes.items():
        if oc.returns is None or not len(oc.returns):
            continue
        eq = (1 + oc.returns).cumprod()
        ax.plot(eq.index, eq.to_numpy(), label=label(name), color=_COLORS.get(name), lw=1.4 if name == next(iter(outcomes)) else 1.0)
        days = oc.returns.index if days is None else days
    if days is not None:
        b = (1 + benchmark.reindex(days).fillna(0.0)).cumprod()
        ax.plot(b.index, b.to_numpy(), label=label("index"), color="black", lw=1.2, ls="--")
    ax.set_ylabel("growth of 1 CNY (after costs)")
    ax.set_title("Equity of each model's strategy and the CSI-300 index")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_windows(windows: pd.DataFrame, model: str) -> str:
    g = windows[windows["model"] == model].sort_values("window")
    fig, ax = _figure(9, 3.8)
    x = np.arange(len(g))
    ax.bar(x - 0.2, 100 * (g["accuracy"] - g["majority_accuracy"]), width=0.4, label="accuracy - best constant guess (pp)", color="#1f77b4")
    if "excess_return" in g:
        ax.bar(x + 0.2, 100 * g["excess_return"], width=0.4, label="excess return after costs (%)", color="#d62728")
    ax.axhline(0, color="#666", lw=0.8)
    ax.set_xticks(x, [f"{pd.Timestamp(s):%Y-%m}" for s in g["test_start"]], rotation=45, fontsize=8)
    ax.set_title(f"{label(model)} by test window: prediction edge beside money earned")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def chart_costs(outcomes: dict[str, ModelOutcome], model: str) -> str | None:
    oc = outcomes.get(model)
    if oc is None or oc.rejected is None:
        return None
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    if oc.trades is not None and len(oc.trades):
        t = oc.trades.copy()
        t["fees"] = t["commission"] + t["stamp_duty"]
        daily = t.groupby("date")[["commission", "stamp_duty"]].sum().cumsum()
        ax1.stackplot(pd.DatetimeIndex(daily.index), daily["commission"].to_numpy(), daily["stamp_duty"].to_numpy(),
                      labels=["commission", "stamp duty"], colors=["#1f77b4", "#ff7f0e"], alpha=0.8)
        ax1.legend(fontsize=8, loc="upper left")
    ax1.set_title("Cumulative costs paid (CNY)", fontsize=10)
    ax1.tick_params(axis="x", labelsize=7, rotation=30)
    counts = oc.rejected["reason"].value_counts() if len(oc.rejected) else pd.Series(dtype=int)
    ax2.barh(counts.index.astype(str), counts.to_numpy(), color="#7f7f7f")
    ax2.set_title("Rejected or trimmed orders by reason", fontsize=10)
    for i, v in enumerate(counts.to_numpy()):
        ax2.text(v, i, f" {v}", va="center", fontsize=8)
    fig.tight_layout()
    return _png(fig)


def chart_coverage(coverage: pd.DataFrame) -> str:
    fig, ax = _figure(9, 3.0)
    for col, color in (("members", "black"), ("members_with_bar", "#1f77b4"), ("tradable", "#2ca02c")):
        ax.plot(coverage.index, coverage[col].to_numpy(), label=col.replace("_", " "), color=color, lw=1)
    ax.set_title("Point-in-time universe per day: members, members with a bar, tradable")
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return _png(fig)


# ------------------------------------------------------------------ HTML
def _fmt(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "n/a"
    if kind == "pct":
        return an.pct(float(v), 1)
    if kind == "spct":
        return an.pct(float(v), 1, sign=True)
    if kind == "f3":
        return f"{float(v):.3f}"
    if kind == "f2":
        return f"{float(v):.2f}"
    if kind == "int":
        return f"{int(v):,}"
    if kind == "cny":
        return f"{float(v):,.0f}"
    if kind == "date":
        return f"{pd.Timestamp(v):%Y-%m-%d}"
    return html.escape(str(v))


def _table(df: pd.DataFrame, cols: list[tuple[str, str, str]], table_id: str) -> str:
    head = "".join(f"<th>{html.escape(title)}</th>" for _, title, _ in cols)
    body = []
    for _, r in df.iterrows():
        cells = "".join(f"<td>{_fmt(r.get(key), kind)}</td>" for key, _, kind in cols)
        body.append(f"<tr>{cells}</tr>")
    return f'<table id="{table_id}" class="avr"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'


_CSS = """
<style>
#accuracy-vs-returns{clear:both;margin-bottom:40px}
#accuracy-vs-returns h2{font-size:20px;margin:10px 0 12px;font-weight:700}
#accuracy-vs-returns h3{margin-top:26px}
#accuracy-vs-returns .verdict{background:#f6f6f2;border-left:4px solid #d62728;padding:10px 14px;font-size:14px;line-height:1.5}
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
    traded = "excess_return" in mw and mw["excess_return"].notna().any()
    text = an.verdict(
        label(main_model), main["accuracy"], main["always_up_accuracy"], int(main["n"]),
        main["roc_auc"], main["ic"], float(main.get("annual_excess_return", np.nan)),
        int((mw["excess_return"] > 0).sum()) if traded else 0,
        int((mw["accuracy"] > mw["always_up_accuracy"].where(mw["always_up_accuracy"] >= 0.5, 1 - mw["always_up_accuracy"])).sum()),
        len(mw),
    )
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
        ("always_up_accuracy", "always-up acc.", "pct"), ("majority_accuracy", "best constant", "pct"),
        ("balanced_accuracy", "bal. accuracy", "pct"),
        ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"), ("annual_return", "annual return", "pct"),
        ("annual_excess_return", "annual excess", "spct"), ("sharpe", "Sharpe", "f2"),
        ("max_drawdown", "max DD", "pct"), ("fees", "fees (CNY)", "cny"),
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
        ("always_up_accuracy", "always-up", "pct"), ("majority_accuracy", "best const.", "pct"),
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
            ("always_up_accuracy", "always-up", "pct"), ("roc_auc", "AUC", "f3"), ("ic", "IC", "f3"),
            ("strategy_return", "strategy", "spct"), ("benchmark_return", "CSI-300", "spct"),
            ("excess_return", "excess", "spct"),
        ], "baselines"))
    costs_png = chart_costs(outcomes, main_model)
    sec.append("<h3>Costs and rejected orders</h3>")
    s = main_oc.summary
    sec.append(
        f'<p id="costs">Commission {_fmt(s.get("commission"), "cny")} CNY, stamp duty {_fmt(s.get("stamp_duty"), "cny")} CNY, '
        f'total fees {_fmt(s.get("fees"), "cny")} CNY; {_fmt(s.get("trades", 0), "int")} trades; '
        f'annual turnover {_fmt(s.get("annual_turnover"), "f2")}x; rejected or trimmed orders: '
        + ", ".join(f"{k} {v}" for k, v in (s.get("rejected_by_reason") or {}).items()) + ".</p>"
    )
    if costs_png:
        sec.append(f'<img alt="costs" src="{costs_png}">')
    cov = coverage.loc[coverage.index >= pd.Timestamp(mw["test_start"].min())] if len(mw) else coverage
    sec.append("<h3>Universe coverage</h3>")
    sec.append(
        f'<p id="coverage">Over the test days, point-in-time members per day: {int(cov["members"].min())}-{int(cov["members"].max())}; '
        f'members with a bar in the data: {int(cov["members_with_bar"].min())}-{int(cov["members_with_bar"].max())}; '
        f'tradable (bar and volume &gt; 0): {int(cov["tradable"].min())}-{int(cov["tradable"].max())}. '
        "Members without bars are stocks the source lacks (mostly delisted): a survivorship gap that is reported, not filled.</p>"
    )
    sec.append(f'<img alt="coverage" src="{chart_coverage(cov)}">')
    for n in notes or []:
        sec.append(f'<p class="note">{html.escape(n)}</p>')
    sec.append("</div>")
    sec.append(f'<div class="qs-heading">QuantStats report: {html.escape(label(main_model))} strategy vs CSI-300</div>')
    block = "\n".join(sec)
    marker = "<hr>"
    i = qs_html.find(marker)
    out = qs_html[: i + len(marker)] + "\n" + block + "\n" + qs_html[i + len(marker):] if i >= 0 else qs_html.replace("<body>", "<body>" + block, 1)
    out = out.replace("<title>Tearsheet (generated by QuantStats)</title>", f"<title>{html.escape(title)}</title>")
    Path(path).write_text(out, encoding="utf-8")
    return {
        "verdict": text,
        "models": models.replace({np.nan: None}).to_dict(orient="records"),
        "windows": windows.assign(test_start=windows["test_start"].astype(str), test_end=windows["test_end"].astype(str))
        .replace({np.nan: None}).to_dict(orient="records"),
    }

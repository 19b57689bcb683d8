"""The tearsheet's own charts (matplotlib, drawn off-screen, embedded as PNG data URLs)."""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from .outcomes import ModelOutcome, label

__all__ = ["chart_accuracy_vs_excess", "chart_costs", "chart_coverage", "chart_equity", "chart_windows"]


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
        edge = 100 * (g["accuracy"] - g["best_constant_accuracy"])
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
        main = name == next(iter(outcomes))
        ax.plot(eq.index, eq.to_numpy(), label=label(name), color=_COLORS.get(name), lw=1.4 if main else 1.0)
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
    ax.bar(x - 0.2, 100 * (g["accuracy"] - g["best_constant_accuracy"]), width=0.4,
           label="accuracy - best constant guess (pp)", color="#1f77b4")
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
    if oc is None or oc.backtest is None:
        return None
    trades, rejected = oc.backtest.trades, oc.backtest.rejected
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.4))
    ax1, ax2 = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    if len(trades):
        t = trades.copy()
        t["fees"] = t["commission"] + t["stamp_duty"]
        daily = t.groupby("date")[["commission", "stamp_duty"]].sum().cumsum()
        ax1.stackplot(pd.DatetimeIndex(daily.index), daily["commission"].to_numpy(), daily["stamp_duty"].to_numpy(),
                      labels=["commission", "stamp duty"], colors=["#1f77b4", "#ff7f0e"], alpha=0.8)
        ax1.legend(fontsize=8, loc="upper left")
    ax1.set_title("Cumulative costs paid (CNY)", fontsize=10)
    ax1.tick_params(axis="x", labelsize=7, rotation=30)
    counts = rejected["reason"].value_counts() if len(rejected) else pd.Series(dtype=int)
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

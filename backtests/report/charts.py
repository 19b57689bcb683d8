"""The tearsheet's own charts (matplotlib, drawn off-screen, embedded as PNG data URLs).

Every chart is drawn from data the report also prints; a chart whose data is empty is not drawn
(the caller writes a sentence instead), so the page never shows an empty frame.
"""

from __future__ import annotations

import base64
import io

import numpy as np
import pandas as pd

from ..evidence.outcomes import ModelOutcome, label

__all__ = ["chart_accuracy_vs_excess", "chart_costs", "chart_coverage", "chart_cumulative_quantiles", "chart_equity",
           "chart_ic_decay", "chart_quantiles", "chart_rolling_ic", "chart_stock", "chart_windows"]


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


def chart_accuracy_vs_excess(windows: pd.DataFrame, reference: str = "CSI-300",
                             period: str = "walk-forward window") -> str:
    fig, ax = _figure(9, 4.6)
    traded = windows.dropna(subset=["excess_return"]) if "excess_return" in windows else windows.iloc[0:0]
    for model, g in traded.groupby("model", sort=False):
        edge = 100 * (g["accuracy"] - g["best_constant_accuracy"])
        ax.scatter(edge, 100 * g["excess_return"], label=label(model), color=_COLORS.get(model), s=36, alpha=0.85)
    ax.axhline(0, color="#999", lw=0.8)
    ax.axvline(0, color="#999", lw=0.8)
    ax.set_xlabel("accuracy minus the best constant guess, always-up or always-down (pp)")
    ax.set_ylabel(f"excess over {reference} in the window (%)")
    ax.text(0.99, 0.01, "excess = the window's compounded return minus the reference's, after costs; not annualised",
            transform=ax.transAxes, ha="right", va="bottom", fontsize=7, color="#555")
    ax.set_title(f"Each dot is one {period}: does a better hit rate earn more?")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_equity(outcomes: dict[str, ModelOutcome], benchmark: pd.Series, reference: str = "CSI-300") -> str:
    """Growth of 1 CNY of each traded model after costs, the main model also gross (dotted), and
    the reference (dashed); the legend sits under the axes so it covers no curve."""
    fig, ax = _figure(9, 4.6)
    days = None
    main = next(iter(outcomes))
    for name, oc in outcomes.items():
        if oc.returns is None or not len(oc.returns):
            continue
        eq = (1 + oc.returns).cumprod()
        ax.plot(eq.index, eq.to_numpy(), label=f"{label(name)} (after costs)", color=_COLORS.get(name),
                lw=1.4 if name == main else 1.0)
        if name == main and oc.gross is not None and len(oc.gross.returns):
            g = (1 + oc.gross.returns).cumprod()
            ax.plot(g.index, g.to_numpy(), label=f"{label(name)} before costs", color=_COLORS.get(name), lw=1.0,
                    ls=":")
        days = oc.returns.index if days is None else days
    if days is not None:
        b = (1 + benchmark.reindex(days).fillna(0.0)).cumprod()
        ax.plot(b.index, b.to_numpy(), label=f"{reference} (held, no costs)", color="black", lw=1.2, ls="--")
    ax.set_ylabel("growth of 1 CNY")
    ax.set_title(f"Equity of each model's strategy and {reference}")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
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
    """Members, members with a bar (a wide pale band) and tradable members (a thin line on top) per
    day: where the two coincide the band shows around the line, so neither hides the other."""
    fig, ax = _figure(9, 3.0)
    ax.plot(coverage.index, coverage["members"].to_numpy(), label="members", color="black", lw=1)
    ax.plot(coverage.index, coverage["members_with_bar"].to_numpy(), label="members with a bar", color="#1f77b4",
            lw=5, alpha=0.35, solid_capstyle="butt")
    ax.plot(coverage.index, coverage["tradable"].to_numpy(), label="tradable (bar and volume > 0)", color="#2ca02c",
            lw=1)
    ax.set_title("Point-in-time universe per day: members, members with a bar, tradable")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=3, frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_stock(close: pd.Series, tradable: pd.Series, symbol: str) -> str:
    """A single-stock study's coverage: the stock's adjusted close, days it could not be traded marked."""
    fig, ax = _figure(9, 3.0)
    ax.plot(close.index, close.to_numpy(), color="#1f77b4", lw=1, label=f"{symbol} adjusted close")
    off = tradable.index[~tradable.to_numpy(dtype=bool)]
    if len(off):
        ax.scatter(off, close.reindex(off).to_numpy(), color="#d62728", s=12, zorder=3,
                   label="not tradable (suspended or not a member)")
    ax.set_title(f"{symbol} over the test days")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.12), ncol=2, frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_quantiles(table: pd.DataFrame, model: str) -> str:
    """Mean forward return of each quantile of the day's scores (basis points per holding period)."""
    fig, ax = _figure(9, 3.4)
    v = 1e4 * table["mean_return"].to_numpy(dtype=float)
    x = table["quantile"].to_numpy(dtype=int)
    ax.bar(x, v, color=np.where(v >= 0, "#2ca02c", "#d62728"))
    ax.set_xticks(x, [str(q) for q in x])
    ax.axhline(0, color="#666", lw=0.8)
    ax.set_xlabel("quantile of the day's scores (1 = lowest, highest on the right)")
    ax.set_ylabel("mean return (bp per period)")
    ax.set_title(f"{label(model)}: what each quantile of the predictions earned next (no costs)")
    ax.grid(alpha=0.3, axis="y")
    return _png(fig)


def chart_cumulative_quantiles(cumulative: pd.DataFrame, model: str) -> str:
    """Growth of 1 CNY held each day in each quantile (equal weights, 1-day returns, no costs)."""
    from matplotlib import colormaps

    fig, ax = _figure(9, 4.0)
    cmap = colormaps["RdYlGn"]
    n = cumulative.shape[1]
    for i, q in enumerate(cumulative.columns):
        ax.plot(cumulative.index, cumulative[q].to_numpy(), color=cmap(i / max(n - 1, 1)),
                lw=1.6 if i in (0, n - 1) else 0.8, label=f"Q{q}")
    ax.set_ylabel("growth of 1 CNY (no costs)")
    ax.set_title(f"{label(model)}: each quantile held for a day, rebalanced daily")
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=min(n, 10), frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_rolling_ic(ic: pd.Series, days: int, model: str) -> str:
    """Each day's IC (grey dots) and its rolling mean over ``days`` trading days; the axis spans the
    middle 98% of the days so the rolling mean stays readable."""
    fig, ax = _figure(9, 3.2)
    ax.scatter(ic.index, ic.to_numpy(), s=3, color="#aaaaaa", label="daily IC")
    roll = ic.rolling(days, min_periods=max(days // 2, 1)).mean()
    ax.plot(roll.index, roll.to_numpy(), color="#08519c", lw=1.8, label=f"{days}-day mean")
    ax.axhline(float(ic.mean()), color="#d62728", lw=1, ls="--", label=f"mean {ic.mean():+.3f}")
    ax.axhline(0, color="#666", lw=0.8)
    lo, hi = np.nanquantile(ic.to_numpy(), [0.01, 0.99]) if len(ic) else (-1.0, 1.0)
    ax.set_ylim(min(lo, -0.05), max(hi, 0.05))
    ax.set_title(f"{label(model)}: information coefficient over time")
    ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, frameon=False)
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_ic_decay(decay: pd.DataFrame, model: str, level: str) -> str:
    """Mean IC of the 1..N-day forward returns with its interval."""
    fig, ax = _figure(9, 3.2)
    h = decay["horizon"].to_numpy()
    ic = decay["ic"].to_numpy(dtype=float)
    err = np.vstack([ic - decay["lo"].to_numpy(dtype=float), decay["hi"].to_numpy(dtype=float) - ic])
    ax.errorbar(h, ic, yerr=np.where(np.isfinite(err), err, 0.0), fmt="o-", color="#1f77b4", capsize=3)
    ax.axhline(0, color="#666", lw=0.8)
    ax.set_xticks(h)
    ax.set_xlabel("horizon of the forward return (trading days)")
    ax.set_ylabel("mean IC")
    ax.set_title(f"{label(model)}: IC decay ({level} intervals)")
    ax.grid(alpha=0.3)
    return _png(fig)

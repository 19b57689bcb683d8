"""The tearsheet's trade-off section: the frontier (turnover against net and gross excess and
alpha) and the capacity table (the strategy at larger capitals), with their charts.

The numbers are :mod:`backtests.evidence.tradeoff`'s; this module only writes them.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np
import pandas as pd

from .charts import _figure, _png
from .formatting import fmt

__all__ = ["chart_capacity", "chart_frontier", "section"]


def _row(cells: list[str]) -> str:
    return "<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"


def _table(table_id: str, head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    return (f'<div class="wide"><table id="{table_id}" class="avr"><thead><tr>{th}</tr></thead><tbody>'
            + "".join(_row(r) for r in rows) + "</tbody></table></div>")


def _setting(r: Any) -> str:
    if r["own"]:
        return "<b>the run's own</b>"
    return html.escape(str(r["point"]).replace(";", ", "))


def _with_t(value: Any, t: Any) -> str:
    return f"{fmt(value, 'spct')} ({fmt(t, 'sf2')})"


def section(tradeoff: Any, model: str, reference: str) -> list[str]:
    """HTML blocks of the trade-off section (a sentence when it was not measured)."""
    out = ['<h3 id="tradeoff">Trading less: the frontier, and how much money the strategy takes</h3>']
    if tradeoff is None or (tradeoff.frontier.empty and tradeoff.capacity.empty):
        out.append('<p class="note">Not measured for this run (tradeoff.frontier and tradeoff.capitals are '
                   "empty, or the strategy did not trade).</p>")
        return out
    ref = html.escape(reference)
    f = tradeoff.frontier
    styled = "style_alpha" in f.columns or "style_alpha" in tradeoff.capacity.columns
    if len(f):
        rows = [[_setting(r), fmt(r["hold_days"], "int"), fmt(r["rebalance_every"], "int"), fmt(r["buffer"], "int"),
                 fmt(r["min_hold"], "int"), fmt(r["score_halflife"], "f2"), "yes" if r["cost_aware"] else "no",
                 fmt(r["daily_turnover"], "f3"), fmt(r["gross_excess"], "spct"), fmt(r["net_excess"], "spct"),
                 fmt(r["cost_drag"], "pct"), _with_t(r["gross_alpha"], r["gross_alpha_t"]),
                 _with_t(r["alpha"], r["alpha_t"]),
                 *([_with_t(r["gross_style_alpha"], r["gross_style_alpha_t"]),
                    _with_t(r["style_alpha"], r["style_alpha_t"])] if styled else []),
                 fmt(r["sharpe"], "sf2")]
                for _, r in f.iterrows()]
        out += [_table("frontier", ["setting", "hold days", "rebalance every", "buffer", "min hold", "score half-life",
                                    "cost-aware", "traded a day (x book)", "excess before costs", "excess after costs",
                                    "cost drag a year", "alpha before costs (t)", "alpha after costs (t)",
                                    *(["alpha after styles, before costs (t)", "alpha after styles, after costs (t)"]
                                      if styled else []), "Sharpe"],
                        rows),
                f'<p class="note">{html.escape(model)}\'s predictions traded with each setting (the others as the '
                f"run's), after every cost; before costs: the same trades with each day's commission, stamp duty, "
                f"slippage and impact added back. Excess is over {ref} (annual returns); alpha after {ref} (CAPM, "
                f"HAC t in brackets) and, where the run has styles, after {ref} and the style factors. The settings "
                "are a menu, not a search: picking the best row of this table on the test span would read the test "
                "results (the defaults were chosen on validation predictions).</p>"]
        img = chart_frontier(f, reference)
        if img:
            out.append(f'<img alt="frontier" src="{img}">')
    c = tradeoff.capacity
    if len(c):
        rows = [[fmt(r["capital"], "cny"), fmt(r["gross_excess"], "spct"), fmt(r["net_excess"], "spct"),
                 fmt(r["cost_drag"], "pct"), fmt(r["fill_rate"], "pct"), fmt(r["daily_turnover"], "f3"),
                 _with_t(r["alpha"], r["alpha_t"]),
                 *([_with_t(r["style_alpha"], r["style_alpha_t"])] if styled else []), fmt(r["impact_a_year"], "pct")]
                for _, r in c.iterrows()]
        out += [_table("capacity", ["starting capital (CNY)", "excess before costs", "excess after costs",
                                    "cost drag a year", "fill rate", "traded a day (x book)", "alpha after costs (t)",
                                    *(["alpha after styles, after costs (t)"] if styled else []),
                                    "of which impact a year"], rows),
                f'<p class="note">The run\'s strategy at each starting capital: an order fills at most '
                f"{fmt(tradeoff.participation, 'pct')} of the day's volume (the rest is trimmed, reason volume; "
                "a buy is not topped up later), "
                f"and the fill price moves against the trader by {fmt(tradeoff.impact, 'f2')} x the stock's daily "
                "volatility (20 days) x sqrt(shares / the day's volume), on top of commission and stamp duty. Fill "
                "rate: traded value over traded plus trimmed value; a book that cannot fill holds cash, which "
                "moves its excess with the market (the alpha is after that). Cost drag: the same trades before "
                "costs minus after, a year. A strategy's capacity is where the excess after costs is used up.</p>"]
        img = chart_capacity(c, reference)
        if img:
            out.append(f'<img alt="capacity" src="{img}">')
    chk = tradeoff.check
    if chk:
        out.append(f'<p class="note" id="gross-check">Before costs by adding the costs back, for the run\'s own '
                   f"setting: {fmt(chk.get('gross_annual_return_accounting'), 'pct')} a year; its gross twin (a "
                   f"backtest without costs, which reinvests what it saves): "
                   f"{fmt(chk.get('gross_annual_return_twin'), 'pct')}.</p>")
    return out


def chart_frontier(f: pd.DataFrame, reference: str) -> str | None:
    """Net and gross annual excess and net alpha against the share of the book traded a day."""
    if f.empty:
        return None
    fig, ax = _figure(9, 4.4)
    x = f["daily_turnover"].to_numpy()
    ax.plot(x, 100 * f["gross_excess"], "o--", color="#1f77b4", label="excess before costs")
    ax.plot(x, 100 * f["net_excess"], "o-", color="#d62728", label="excess after costs")
    ax.plot(x, 100 * f["alpha"], "s:", color="#2ca02c", label="alpha after costs")
    own = f["own"].to_numpy(dtype=bool)
    if own.any():
        ax.scatter(x[own], 100 * f.loc[own, "net_excess"], s=160, facecolors="none", edgecolors="black",
                   label="the run's own setting", zorder=5)
    for xi, yi, name in zip(x, 100 * f["net_excess"], f["point"], strict=True):
        ax.annotate(str(name).replace("(the run's own)", "own"), (xi, yi), textcoords="offset points",
                    xytext=(4, -12), fontsize=7, color="#555")
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("traded a day (buys + sells over equity)")
    ax.set_ylabel(f"a year over {reference} (%)")
    ax.set_title("The frontier: what trading less keeps of the edge")
    ax.legend(fontsize=8, loc="best")
    ax.grid(alpha=0.3)
    return _png(fig)


def chart_capacity(c: pd.DataFrame, reference: str) -> str | None:
    """Net excess, cost drag and net alpha (left axis) and fill rate (right axis) against the
    starting capital."""
    if c.empty:
        return None
    fig, ax = _figure(9, 4.2)
    x = c["capital"].to_numpy()
    ax.plot(x, 100 * c["net_excess"], "o-", color="#d62728", label=f"excess over {reference} after costs")
    ax.plot(x, 100 * c["cost_drag"], "o--", color="#ff7f0e", label="cost drag")
    ax.plot(x, 100 * c["alpha"], "^:", color="#2ca02c", label=f"alpha after {reference} and costs")
    ax.set_xscale("log")
    ax.axhline(0, color="#999", lw=0.8)
    ax.set_xlabel("starting capital (CNY)")
    ax.set_ylabel("% a year")
    right = ax.twinx()
    right.plot(x, 100 * c["fill_rate"], "s:", color="#1f77b4", label="fill rate")
    right.set_ylabel("fill rate (%)")
    right.set_ylim(0, 105)
    lines = ax.get_legend_handles_labels()
    more = right.get_legend_handles_labels()
    # below the axes: inside, the two axes' lines leave it no free corner
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.18),
              ncol=2, frameon=False)
    ax.set_title("Capacity: the strategy at larger capitals (participation cap and square-root impact)")
    ax.grid(alpha=0.3)
    return _png(fig) if np.isfinite(c["net_excess"]).any() else None

"""The one place that talks to QuantStats. Its quirks stay here:

- a benchmark given as a ticker string makes QuantStats download it (offline: a flat line), so it
  only ever receives a pandas Series from ``data_store``;
- it defaults to 252 periods a year; we pass the A-share calendar's measured figure (243 on the
  snapshot; ``strategies.performance.trading_days_per_year``, which the backtest summary uses too);
- it draws with pyplot, so the non-interactive Agg backend is forced before import;
- its HTML template links an external favicon and calls an undefined ``save()`` on load, which an
  offline browser reports as console errors; both are removed from the written file;
- its page has a fixed title and one ``<hr>`` under the heading: :func:`write_page` puts the
  toolkit's own section there and the run's title in ``<title>``.

QuantStats 0.0.86 (the newest release) also gets parts of the report wrong; :func:`_fixes` patches
them while the report is written, and restores QuantStats afterwards:

- a return series that is in a drawdown from its first day (QuantStats drops the starting equity)
  had no drawdown at all: "Max Drawdown" read "%", its dates and the worst-10 table were empty.
  :func:`drawdown_details` measures from a phantom zero-drawdown day before the first one;
- the "CAGR" label ends in U+FE6A (small percent sign), a missing glyph in most fonts;
- "3Y/5Y/10Y (ann.)" silently equal the all-time figure when the data is shorter: "n/a" instead;
- the title gets " (Compounded)" appended: removed;
- five charts are drawn by :mod:`backtests.report.qs_charts` (log scale, rolling beta, monthly heatmap,
  return quantiles, daily returns; that module says what was wrong with each);
- the rolling volatility, Sharpe, Sortino and beta charts of a span shorter than their six-month
  window were empty axes dated 2000-2010: they are not drawn, and a sentence says why;
- "Worst 10 Drawdowns" gave a drawdown that never recovered the last day as its recovery date:
  "not recovered" instead;
- the EOY table's "Won" column read "+" or "-" (a "-" looks like a missing value): "yes" or "no";
- a metric that rounds to zero was written with a sign ("-0.0", "-0.0%"): :func:`unsigned_zeros`
  drops it, as the toolkit's own figures do (:func:`backtests.report.formatting.fmt`).
"""

from __future__ import annotations

import html as _html
import logging
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pandas as pd

from . import qs_charts

#: metric rows of QuantStats that need this many months of data (its windows are 35, 59, 119 months)
_SPAN_ROWS = {"3Y (ann.)": 35, "5Y (ann.)": 59, "10Y (ann.)": 119}
#: QuantStats' rolling charts: the id of the page's block, and its title
ROLLING = {"rolling_beta": "Rolling beta", "rolling_vol": "Rolling volatility", "rolling_sharpe": "Rolling Sharpe",
           "rolling_sortino": "Rolling Sortino"}
#: the plotting functions behind the rolling charts QuantStats draws itself
_ROLLING_PLOTS = ("rolling_volatility", "rolling_sharpe", "rolling_sortino")
_CAGR_LABEL = "CAGR\ufe6a"


def _quiet_imports():  # pragma: no cover - trivial
    import matplotlib

    matplotlib.use("Agg", force=True)
    # QuantStats asks for Arial, which Linux machines rarely have: one warning per glyph lookup
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import quantstats as qs

    return qs


def _naive_daily(s: pd.Series, name: str) -> pd.Series:
    out = s.astype("float64").copy()
    out.index = pd.DatetimeIndex(out.index).tz_localize(None).normalize()
    out.name = name
    return out


def html_report(
    returns: pd.Series,
    benchmark: pd.Series,
    output: str | Path,
    *,
    title: str,
    periods_per_year: int,
    benchmark_name: str = "CSI-300",
) -> str:
    """Write QuantStats' full HTML report of ``returns`` against the ``benchmark`` Series to
    ``output`` and return the cleaned HTML text."""
    if not isinstance(benchmark, pd.Series):
        raise TypeError("benchmark must be a pandas Series of returns (a ticker would be downloaded)")
    qs = _quiet_imports()
    strat = _naive_daily(returns, "Strategy")
    bench = _naive_daily(benchmark, benchmark_name).reindex(strat.index).fillna(0.0)
    fd, tmp = tempfile.mkstemp(suffix=".html", dir=str(Path(output).parent))
    os.close(fd)
    try:
        if len(strat) < 2 or float(strat.std()) == 0.0:
            # QuantStats fails on constant returns (its regression against the benchmark divides
            # by zero): say so in the page instead of failing the run
            text = _fallback_page(title, "the strategy's daily returns are constant (it never held a "
                                  "position), so QuantStats' statistics and charts are undefined")
        else:
            safe = _html.escape(title)
            with _fixes(qs, strat):
                qs.reports.html(
                    strat, benchmark=bench, output=tmp, title=safe, periods_per_year=periods_per_year,
                    match_dates=True, figfmt="svg",
                )
            text = Path(tmp).read_text(encoding="utf-8").replace(f"{safe} (Compounded)", safe)
            half = qs.reports._get_trading_periods(periods_per_year)[1] if hasattr(
                qs.reports, "_get_trading_periods") else periods_per_year // 2
            text = rolling_notes(text, half, len(strat))
            text = unrecovered_drawdown(text, strat)
            text = unsigned_zeros(text)
    finally:
        Path(tmp).unlink(missing_ok=True)
    text = re.sub(r'<link rel="shortcut icon"[^>]*>\s*', "", text)
    text = text.replace('<body onload="save()">', "<body>")
    Path(output).write_text(text, encoding="utf-8")
    return text


def drawdown_details(original: Callable[[Any], pd.DataFrame]) -> Callable[[Any], pd.DataFrame]:
    """QuantStats' ``drawdown_details``, also right for a series in a drawdown from its first day.

    Such a series has no zero-drawdown day before its first drawdown, which QuantStats needs to see
    a drawdown start; a phantom zero day is put before the first day, and the drawdown it starts is
    reported as starting on the first real day (its length in days counted from there)."""

    def details(dd: Any) -> pd.DataFrame:
        if len(dd) == 0 or not bool((pd.DataFrame(dd).iloc[0] < 0).any()):
            return original(dd)
        first = dd.index[0]
        phantom = first - pd.Timedelta(days=1)
        head = (pd.Series(0.0, index=[phantom], name=dd.name) if isinstance(dd, pd.Series)
                else pd.DataFrame(0.0, index=[phantom], columns=dd.columns))
        out = original(pd.concat([head, dd]))
        ph, fs = f"{phantom:%Y-%m-%d}", f"{first:%Y-%m-%d}"
        multi = isinstance(out.columns, pd.MultiIndex)
        blocks = list(out.columns.get_level_values(0).unique()) if multi else [None]
        for b in blocks:
            start, days = ("start", "days") if b is None else ((b, "start"), (b, "days"))
            hit = out[start] == ph
            out.loc[hit, start] = fs
            out.loc[hit, days] = out.loc[hit, days] - 1
        return out

    return details


def needs_window(original: Callable[..., Any]) -> Callable[..., Any]:
    """QuantStats' rolling volatility, Sharpe or Sortino chart, drawn only when its window
    (``period``) leaves :data:`qs_charts.MIN_POINTS` values; otherwise nothing is drawn (the page
    gets a sentence instead, :func:`rolling_notes`)."""

    def plot(returns: Any, *args: Any, period: int = 126, **kwargs: Any) -> Any:
        if len(returns) - period + 1 < qs_charts.MIN_POINTS:
            return None
        return original(returns, *args, period=period, **kwargs)

    return plot


def rolling_notes(page: str, window: int, days: int) -> str:
    """``page`` with every empty rolling-chart block of :data:`ROLLING` given a sentence: the
    chart needs ``window`` trading days (and :data:`qs_charts.MIN_POINTS` values) and the span has
    ``days``."""
    for cid, title in ROLLING.items():
        note = (f'<div id="{cid}"><p class="qs-note" id="{cid}-none">{title}: no chart, its six-month window '
                f"({window} trading days) needs {window + qs_charts.MIN_POINTS - 1} days of returns to draw "
                f"{qs_charts.MIN_POINTS} values, and the span has {days}.</p></div>")
        page = re.sub(rf'<div id="{cid}">\s*</div>', note, page)
    return page


def unrecovered_drawdown(page: str, returns: pd.Series) -> str:
    """``page`` with the recovery date of a drawdown that lasts to the data's last day (QuantStats
    gives it that day) written "not recovered" in the "Worst 10 Drawdowns" table."""
    equity = (1 + returns.fillna(0.0)).cumprod()
    if len(equity) == 0 or float(equity.iloc[-1]) >= float(max(1.0, equity.max())) * (1 - 1e-12):
        return page
    last = f"{returns.index[-1]:%Y-%m-%d}"
    head = page.find("Worst 10 Drawdowns")
    if head < 0:
        return page
    end = page.find("</table>", head)
    table = re.sub(rf"(<tr><td>\d{{4}}-\d\d-\d\d</td><td>){last}(</td>)", r"\1not recovered\2",
                   page[head:end], count=1)
    return page[:head] + table + page[end:]


def unsigned_zeros(page: str) -> str:
    """The page with every table cell that reads a negative zero (``-0``, ``-0.00``, ``-0.0%``)
    written without its sign."""
    return re.sub(r"(<td[^>]*>)-(0(?:\.0+)?%?)(</td>)", r"\1\2\3", page)


def won_column(original: Callable[..., Any]) -> Callable[..., Any]:
    """QuantStats' ``compare`` (the EOY table) with "yes"/"no" in its "Won" column for "+"/"-"."""

    def table(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        if isinstance(out, pd.DataFrame) and "Won" in out.columns:
            out["Won"] = out["Won"].map({"+": "yes", "-": "no"}).fillna(out["Won"])
        return out

    return table


def metrics_table(original: Callable[..., Any], months: float) -> Callable[..., Any]:
    """QuantStats' ``metrics`` with the CAGR label's missing glyph removed and the 3Y/5Y/10Y rows
    "n/a" when the data spans fewer ``months`` than their window."""

    def table(*args: Any, **kwargs: Any) -> Any:
        out = original(*args, **kwargs)
        if isinstance(out, pd.DataFrame):
            out = out.rename(index={_CAGR_LABEL: "CAGR"})
            for row, need in _SPAN_ROWS.items():
                if row in out.index and months < need:
                    out.loc[row] = "n/a"
        return out

    return table


@contextmanager
def _fixes(qs: Any, returns: pd.Series) -> Iterator[None]:
    """Patch QuantStats (see the module docstring) for one report, and restore it afterwards."""
    months = (returns.index[-1] - returns.index[0]).days / 30.4375 if len(returns) else 0.0
    wanted: list[tuple[Any, str, Callable[[Any], Any]]] = [
        (qs.stats, "drawdown_details", drawdown_details),
        (qs.reports, "metrics", lambda f: metrics_table(f, months)),
        (qs.stats, "compare", won_column),
        *((qs.plots, name, needs_window) for name in _ROLLING_PLOTS),
        *((qs.plots, name, lambda _f, n=name: getattr(qs_charts, n)) for name in qs_charts.__all__),
    ]
    # a QuantStats without one of these names (another version) keeps its own function there
    patches = [(obj, name, make(getattr(obj, name))) for obj, name, make in wanted if hasattr(obj, name)]
    saved = [(obj, name, getattr(obj, name)) for obj, name, _ in patches]
    try:
        for obj, name, fn in patches:
            setattr(obj, name, fn)
        yield
    finally:
        for obj, name, fn in saved:
            setattr(obj, name, fn)


def _fallback_page(title: str, why: str) -> str:
    import html

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title>\n<style>body{{margin:30px;font:13px/1.4 Arial,sans-serif}}"
        ".container{max-width:960px;margin:auto}table{width:100%}</style></head>\n<body>\n"
        f'<div class="container">\n<h1>{html.escape(title)}</h1>\n<hr>\n'
        f'<p id="quantstats-missing">No QuantStats report: {html.escape(why)}.</p>\n</div>\n</body>\n</html>\n'
    )


def write_page(output: str | Path, qs_html: str, section: str, title: str) -> None:
    """Write QuantStats' page ``qs_html`` to ``output`` with ``section`` (HTML) inserted under its
    heading (after the first ``<hr>``; at the top of the body if there is none) and ``title`` as
    the page title."""
    import html

    marker = "<hr>"
    i = qs_html.find(marker)
    if i >= 0:
        out = qs_html[: i + len(marker)] + "\n" + section + "\n" + qs_html[i + len(marker):]
    else:
        out = qs_html.replace("<body>", "<body>" + section, 1)
    out = out.replace("<title>Tearsheet (generated by QuantStats)</title>", f"<title>{html.escape(title)}</title>")
    Path(output).write_text(out, encoding="utf-8")

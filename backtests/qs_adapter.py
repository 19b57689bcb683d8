"""The one place that talks to QuantStats. Its quirks stay here:

- a benchmark given as a ticker string makes QuantStats download it (offline: a flat line), so it
  only ever receives a pandas Series from ``data_store``;
- it defaults to 252 periods a year; we pass the A-share calendar's figure (about 242);
- it draws with pyplot, so the non-interactive Agg backend is forced before import;
- its HTML template links an external favicon and calls an undefined ``save()`` on load, which an
  offline browser reports as console errors; both are removed from the written file.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from pathlib import Path

import pandas as pd


def _quiet_imports():  # pragma: no cover - trivial
    import matplotlib

    matplotlib.use("Agg", force=True)
    # QuantStats asks for Arial, which Linux machines rarely have: one warning per glyph lookup
    logging.getLogger("matplotlib.font_manager").setLevel(logging.ERROR)
    import quantstats as qs

    return qs


def trading_days_per_year(calendar: pd.DatetimeIndex) -> int:
    """Median number of trading days in the calendar's complete years (A-share: about 242)."""
    years = pd.Series(1, index=calendar).groupby(calendar.year).sum()
    full = years.iloc[1:-1] if len(years) > 2 else years
    return int(round(float(full.median())))


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
            qs.reports.html(
                strat, benchmark=bench, output=tmp, title=title, periods_per_year=periods_per_year,
                match_dates=True, figfmt="svg",
            )
            text = Path(tmp).read_text(encoding="utf-8")
    finally:
        Path(tmp).unlink(missing_ok=True)
    text = re.sub(r'<link rel="shortcut icon"[^>]*>\s*', "", text)
    text = text.replace('<body onload="save()">', "<body>")
    Path(output).write_text(text, encoding="utf-8")
    return text


def _fallback_page(title: str, why: str) -> str:
    import html

    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head><meta charset="utf-8"><title>'
        f"{html.escape(title)}</title>\n<style>body{{margin:30px;font:13px/1.4 Arial,sans-serif}}"
        ".container{max-width:960px;margin:auto}table{width:100%}</style></head>\n<body>\n"
        f'<div class="container">\n<h1>{html.escape(title)}</h1>\n<hr>\n'
        f'<p id="quantstats-missing">No QuantStats report: {html.escape(why)}.</p>\n</div>\n</body>\n</html>\n'
    )


def metrics_table(returns: pd.Series, benchmark: pd.Series, periods_per_year: int) -> pd.DataFrame:
    """QuantStats' full metrics table (strategy and benchmark columns), as a DataFrame."""
    qs = _quiet_imports()
    strat = _naive_daily(returns, "Strategy")
    bench = _naive_daily(benchmark, "CSI-300").reindex(strat.index).fillna(0.0)
    return qs.reports.metrics(
        strat, benchmark=bench, display=False, mode="full", periods_per_year=periods_per_year,
        match_dates=True,
    )

"""The tearsheet opened in headless Chromium: it renders without console errors and shows both
QuantStats' sections and the accuracy-vs-returns section with real numbers; the rendered DOM has
no empty metric cell, a number for every drawdown figure, and data in every chart: every PNG is an
image and every SVG chart plots a series on an axis dated inside the data (an empty chart is caught,
not only an empty cell), for a run of 18 months and for a span shorter than the rolling windows."""

import re
import shutil
import subprocess
from html.parser import HTMLParser

import pytest

from .charts_dom import chart_problems

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


class Cells(HTMLParser):
    """Every table's rows of (tag, text) cells, by table id (QuantStats' tables have none:
    ``qs-<n>``), the images' sources and the number of SVG charts."""

    def __init__(self):
        super().__init__()
        self.tables, self.images, self.svgs = {}, [], 0
        self._table, self._row, self._cell, self._n = None, None, None, 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._n += 1
            self._table = a.get("id") or f"qs-{self._n}"
            self.tables[self._table] = []
        elif tag == "tr" and self._table:
            self._row = []
            self.tables[self._table].append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []
        elif tag == "img":
            self.images.append(a.get("src") or "")
        elif tag == "svg":
            self.svgs += 1

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append((tag, "".join(self._cell).strip()))
            self._cell = None
        elif tag == "table":
            self._table = self._row = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)

    def cells(self, table):
        return [c for row in self.tables[table] for c in row]


def _kpi(cells):
    """QuantStats' Key Performance Metrics: metric -> (benchmark, strategy)."""
    for rows in cells.tables.values():
        texts = [[t for _, t in r] for r in rows]
        if ["Max Drawdown"] in [r[:1] for r in texts]:
            return {r[0]: (r[1], r[2]) for r in texts if len(r) == 3 and r[0] != "Metric"}
    raise AssertionError("no Key Performance Metrics table")


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (bash scripts/setup.sh --dev installs it "
                                              "on Debian/Ubuntu as root)")
def test_tearsheet_renders_in_chromium_without_console_errors(small_run, tmp_path):
    run_dir, _ = small_run
    html_file = run_dir / "tearsheet.html"
    proc = subprocess.run(
        [CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", html_file.as_uri()],
        capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if ":CONSOLE" in ln or "Uncaught" in ln]
    assert console == [], console
    dom = proc.stdout
    # QuantStats' own sections
    for heading in ("Key Performance Metrics", "EOY Returns vs Benchmark", "Worst 10 Drawdowns"):
        assert heading in dom
    assert "Benchmark: CSI-300" in dom
    # our section, with real numbers
    assert 'id="accuracy-vs-returns"' in dom
    verdict = re.search(r'<p class="verdict" id="verdict">([^<]+)</p>', dom).group(1)
    assert re.search(r"accuracy \d+\.\d% vs \d+\.\d% always-up \([+-]\d+\.\d pp", verdict), verdict
    assert re.search(r"Against the CSI-300 it returned [+-]\d+\.\d% a year after costs and [+-]\d+\.\d% before",
                     verdict), verdict
    assert re.search(r"beta \d\.\d\d \[\d\.\d\d, \d\.\d\d\], alpha after that exposure [+-]\d+\.\d% a year", verdict)
    assert dom.count("data:image/png;base64,") >= 9  # charts, not only tables
    assert 'id="windows"' in dom and 'id="costs"' in dom and 'id="coverage"' in dom
    cells = Cells()
    cells.feed(dom)
    # no empty metric cell in our tables (QuantStats' separator rows hold one <hr> cell and no text)
    for tid in ("models", "evidence", "exposure", "money", "quantiles", "ic-decay", "windows", "baselines"):
        assert tid in cells.tables, tid
        empty = [t for tag, t in cells.cells(tid) if tag == "td" and not t]
        assert not empty, (tid, empty)
    kpi = _kpi(cells)
    for metric in ("Max Drawdown", "Max DD Date", "Max DD Period Start", "Max DD Period End", "Longest DD Days",
                   "Avg. Drawdown", "CAGR", "Sharpe", "Volatility (ann.)", "All-time (ann.)"):
        for value in kpi[metric]:
            assert re.search(r"\d", value), (metric, kpi[metric])  # a number or a date, not "%" or "-"
    assert re.fullmatch(r"-\d+\.\d+%", kpi["Max Drawdown"][1]), kpi["Max Drawdown"]
    assert kpi["5Y (ann.)"] == ("n/a", "n/a") and kpi["10Y (ann.)"] == ("n/a", "n/a")  # 1.5 years of data
    assert not any(key.startswith("CAGR") and key != "CAGR" for key in kpi)  # no missing-glyph suffix
    worst = next(rows for rows in cells.tables.values()
                 if [t for _, t in rows[0]] == ["Started", "Recovered", "Drawdown", "Days"])
    assert len(worst) >= 2 and re.fullmatch(r"\d{4}-\d{2}-\d{2}", worst[1][0][1])  # at least one drawdown row
    assert all(t for row in worst for _, t in row)
    kpi_rows = next(rows for rows in cells.tables.values() if any(r[:1] == [("td", "Max Drawdown")] for r in rows))
    assert all(t for row in kpi_rows if len(row) == 3 for _, t in row)  # no empty metric cell in QuantStats' table
    assert "(Compounded)" not in dom
    # every chart has data: our PNGs are real images, QuantStats' charts are SVGs
    assert all(src.startswith("data:image/png;base64,") and len(src) > 5000 for src in cells.images), \
        [len(s) for s in cells.images]
    assert len(cells.images) >= 9 and cells.svgs >= 14
    assert chart_problems(dom, {2022, 2023, 2024}) == []  # every SVG chart plots data on the run's dates
    assert "no data" in dom  # the monthly heatmap marks months outside the data instead of 0.00
    assert not re.search(r">-0\.0+%?<", dom)  # no negative zero in any cell
    # nothing is fetched from the network
    assert not re.search(r'<(link|script|img)[^>]*(src|href)="https?://', dom)
    # a screenshot renders too
    png = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'p2'}", "--window-size=1100,1600",
                    f"--screenshot={png}", html_file.as_uri()], capture_output=True, timeout=120, check=True)
    assert png.stat().st_size > 20_000


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed")
def test_a_short_span_renders_no_empty_chart(tmp_path):
    """Four months of a real holding (SH600519, 2023-01..04) against the CSI-300, through QuantStats'
    page as the tearsheet writes it: QuantStats alone draws the rolling beta, volatility, Sharpe and
    Sortino as empty axes (three dated 2000-2010); the rendered DOM must hold none."""
    import data_store
    from backtests.report import qs_adapter

    md = data_store.load(use_cache=False)
    held = md.panel("close", adjusted=True)["SH600519"].loc["2022-12-30":"2023-04-28"].pct_change().dropna()
    page = tmp_path / "short.html"
    text = qs_adapter.html_report(held, md.benchmark_returns().reindex(held.index), page, title="short",
                                  periods_per_year=243)
    qs_adapter.write_page(page, text, "<p>section</p>", "short")
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom", page.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert "Worst 10 Drawdowns" in dom and dom.count("<svg") >= 8
    assert chart_problems(dom, {2023}) == []
    assert all(f'id="{cid}-none"' in dom for cid in qs_adapter.ROLLING)

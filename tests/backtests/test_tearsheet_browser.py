"""The tearsheet opened in headless Chromium: it renders without console errors and shows both
QuantStats' sections and the accuracy-vs-returns section with real numbers."""

import re
import shutil
import subprocess

import pytest

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--enable-logging=stderr", "--v=0"]


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
    assert re.search(r"annual excess return after costs [+-]\d+\.\d%", verdict), verdict
    assert dom.count("data:image/png;base64,") >= 5  # charts, not only tables
    assert 'id="windows"' in dom and 'id="costs"' in dom and 'id="coverage"' in dom
    # nothing is fetched from the network
    assert not re.search(r'<(link|script|img)[^>]*(src|href)="https?://', dom)
    # a screenshot renders too
    png = tmp_path / "shot.png"
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={tmp_path / 'p2'}", "--window-size=1100,1600",
                    f"--screenshot={png}", html_file.as_uri()], capture_output=True, timeout=120, check=True)
    assert png.stat().st_size > 20_000

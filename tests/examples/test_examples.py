"""Each research script under examples/ runs on the real snapshot (with small arguments here)."""

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _run(script, *args):
    proc = subprocess.run([sys.executable, str(EXAMPLES / script), *args], capture_output=True,
                          text=True, timeout=900, cwd=EXAMPLES.parent)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


SMALL = ["--n-symbols", "6", "--start", "2019-12-01", "--test-start", "2022-07-01", "--end", "2023-06-30",
         "--epochs", "1"]


def test_compare_models(tmp_path):
    out = _run("compare_models.py", *SMALL, "--hidden", "8", "--k", "2", "--out", str(tmp_path))
    import pandas as pd

    table = pd.read_csv(tmp_path / "compare_models.csv", index_col="model")
    assert {"lstm", "gru", "attention", "logistic", "always_up", "yesterday"} <= set(table.index)
    # the same samples for every model
    assert table["n"].nunique() == 1
    assert table.loc[["lstm", "gru", "attention", "logistic"], "annual_return"].notna().all()
    assert "attention" in out


def test_lookback_sweep():
    out = _run("lookback_sweep.py", *SMALL, "--lookbacks", "5,10", "--hidden", "8")
    lines = [ln.split() for ln in out.splitlines() if ln.strip().startswith(("5 ", "10 "))]
    assert {ln[0] for ln in lines} == {"5", "10"}


def test_single_stock_threshold():
    out = _run("single_stock_threshold.py", "--start", "2016-01-01", "--test-start", "2021-01-01",
               "--end", "2023-06-30", "--epochs", "1")
    vals = dict(ln.split(":") for ln in out.splitlines() if ":" in ln)
    acc = float(vals["accuracy".rjust(24)])
    assert 0.3 < acc < 0.7
    assert float(vals["days_long_share".rjust(24)]) <= 1.0
    # beside always-up, the best constant guess (the comparison that counts), and the toolkit's 243 days a year
    up = float(vals["always_up_accuracy".rjust(24)])
    best = float(vals["best_constant_accuracy".rjust(24)])
    assert best == pytest.approx(max(up, 1 - up), abs=2e-4)
    assert float(vals["edge_over_best_constant".rjust(24)]) == pytest.approx(acc - best, abs=2e-4)
    assert float(vals["periods_per_year".rjust(24)]) == 243

"""``python -m backtests.run --workers 2`` writes the run folder of ``--workers 1``: the same
predictions, trades, positions, daily returns and metrics; its manifest names the worker processes
and the memory of all the run's processes."""

import json
import subprocess
import sys

import pandas as pd
import pytest

from .conftest import ROOT, SMALL_ARGS

pytestmark = pytest.mark.slow

VOLATILE = ("seconds", "timings", "peak", "created", "path")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    out = {}
    for workers in (1, 2):
        folder = tmp_path_factory.mktemp(f"w{workers}")
        proc = subprocess.run([sys.executable, "-m", "backtests.run", "--out", str(folder), *SMALL_ARGS,
                               "--workers", str(workers)], capture_output=True, text=True, cwd=ROOT, timeout=900)
        assert proc.returncode == 0, proc.stderr[-4000:]
        (run,) = [p for p in folder.iterdir() if not p.name.startswith(".")]
        out[workers] = (run, proc)
    return out


def _flat(d, prefix=""):
    if isinstance(d, dict):
        return {k2: v2 for k, v in d.items() for k2, v2 in _flat(v, f"{prefix}/{k}").items()}
    if isinstance(d, list):
        return {k2: v2 for i, v in enumerate(d) for k2, v2 in _flat(v, f"{prefix}[{i}]").items()}
    return {prefix: d}


def test_two_workers_write_the_one_process_run(runs):
    (one, _), (two, _) = runs[1], runs[2]
    pd.testing.assert_frame_equal(pd.read_parquet(one / "predictions.parquet"),
                                  pd.read_parquet(two / "predictions.parquet"), check_exact=True)
    for name in ("trades.csv", "positions.csv", "returns.csv", "rejected_orders.csv"):
        assert (one / name).read_bytes() == (two / name).read_bytes(), name
    a, b = (_flat(json.loads((r / "metrics.json").read_text())) for r in (one, two))
    keys = [k for k in a if not any(w in k for w in VOLATILE)]
    assert keys and {k: a[k] for k in keys} == {k: b.get(k) for k in keys}


def test_the_manifest_names_the_workers_and_the_memory_of_all_processes(runs):
    (one, _), (two, proc) = runs[1], runs[2]
    m1, m2 = (json.loads((r / "manifest.json").read_text()) for r in (one, two))
    assert m1["executor"]["processes"] == 1 and "worker_peak_rss_mb" not in m1["executor"]
    ex = m2["executor"]
    assert ex["workers"] == 2 and ex["processes"] == 2 and ex["worker_peak_rss_mb"] > 100
    assert all(t["pid"] and t["worker_peak_rss_mb"] > 100 for t in ex["tasks"].values())
    stage = "signals (walk-forward)"
    # the driver alone, then the driver and its workers: the workers' memory is counted
    assert m2["peak_memory_all_processes_mb"][stage] > m2["peak_rss_mb"][stage] + 100
    assert m1["peak_memory_all_processes_mb"][stage] >= m1["peak_rss_mb"][stage]
    assert "workers = 2" in (two / "config.toml").read_text()
    assert "child process(es)" in proc.stderr  # the run log names the memory of the workers too

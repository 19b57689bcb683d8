"""A small real run through ``python -m backtests.run``, shared by the end-to-end tests."""

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMALL_SYMBOLS = ["SH600519", "SH600036", "SH601318", "SZ000858", "SZ000333",
                 "SH600276", "SZ300750", "SH601166", "SZ000001", "SH600030"]
SMALL_ARGS = [
    "--symbols", ",".join(SMALL_SYMBOLS),
    "--start", "2020-01-01", "--end", "2023-12-31", "--test-start", "2022-07-01",
    "--set", "walk_forward.train_days=242", "--set", "walk_forward.val_days=40",
    "--set", "walk_forward.test_days=121", "--set", "walk_forward.max_train_samples=all",
    "--set", "model.hidden_size=8", "--set", "model.max_epochs=2",
    "--set", "strategy.topk.k=3", "--set", "strategy.topk.max_replace=2",
    "--name", "e2e", "--device", "cpu",
]


@pytest.fixture(scope="session")
def small_run(tmp_path_factory):
    """Run a small configuration end to end once; return (run folder, completed process)."""
    out = tmp_path_factory.mktemp("runs")
    proc = subprocess.run(
        # the (empty, isolated) user cache is merged, so the manifest records the folder it came from
        [sys.executable, "-m", "backtests.run", "--out", str(out), *SMALL_ARGS, "--set", "data.use_cache=true"],
        capture_output=True, text=True, cwd=ROOT, timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    runs = [p for p in out.iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, list(out.iterdir())
    return runs[0], proc

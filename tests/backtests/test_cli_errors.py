"""Bad input: one clear error line, exit code 2, and nothing written."""

import subprocess
import sys
from pathlib import Path

import pytest

from backtests.runfolder import RunFolder

ROOT = Path(__file__).resolve().parents[2]


def _run(args, tmp_path):
    out = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "backtests.run", "--out", str(out), *args],
        capture_output=True, text=True, cwd=ROOT, timeout=300,
    )
    return proc, out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--set", "model.hidden_size=-3"], "model.hidden_size = -3 is out of range: allowed 1..4096"),
        (["--set", "strategy.topk.k=abc"], "strategy.topk.k = 'abc' is not a valid int"),
        (["--symbols", "SH999999"], "unknown symbol(s) ['SH999999']"),
        (["--set", "model.grad_clip=nan"], "model.grad_clip = nan must be a finite number"),
        (["--set", "model.weight_decay=inf"], "model.weight_decay = inf must be a finite number"),
        (["--set", "costs.slippage=-inf"], "costs.slippage = -inf must be a finite number"),
        (["--set", "walk_forward.max_train_samples=0"], "walk_forward.max_train_samples = 0 is out of range"),
        (["--start", "2005-01-01"], "reaches outside the data (2010-01-04..2025-06-30)"),
        (["--symbols", "SH600006", "--start", "2019-01-01"],
         "empty universe: SH600006 has no tradable point-in-time member day"),
        (["--set", "walk_forward.embargo_days=1"],
         "WalkForwardSplit.embargo_days = 1 is shorter than the label's end offset"),
        (["--start", "2021-01-01"], "the first window needs 548 trading days before its test start"),
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(args, needle, tmp_path):
    proc, out = _run(args, tmp_path)
    assert proc.returncode == 2, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert needle in lines[0]
    assert not out.exists()


def test_run_folder_is_removed_on_failure_and_renamed_on_success(tmp_path):
    with pytest.raises(KeyboardInterrupt), RunFolder(tmp_path, "x", stamp="20250101-000000") as rf:
        rf.write_text("a.txt", "half")
        raise KeyboardInterrupt
    assert list(tmp_path.iterdir()) == []
    # a runs folder the run created is removed with it
    runs = tmp_path / "runs"
    with pytest.raises(RuntimeError), RunFolder(runs, "y"):
        raise RuntimeError("boom")
    assert not runs.exists()
    with RunFolder(tmp_path, "x", stamp="20250101-000000") as rf:
        rf.write_text("a.txt", "whole")
        assert not rf.final.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["20250101-000000-x"]
    assert (rf.final / "a.txt").read_text() == "whole"


@pytest.mark.slow
def test_ctrl_c_leaves_no_run_folder(tmp_path):
    """Ctrl-C in the middle of the walk-forward: exit 130, a clear message, nothing written."""
    import signal
    import time

    out = tmp_path / "runs"
    # as in a terminal: a shell that starts pytest in the background (``&``) hands it SIGINT ignored,
    # and the child would inherit that; a foreground command has the default disposition
    proc = subprocess.Popen([sys.executable, "-m", "backtests.run", "--out", str(out), "-q"],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    # the quick preset loads the data in ~2 s, then trains for ~40 s: interrupt while it trains
    deadline = time.time() + 120
    while time.time() < deadline and not (out.exists() and any(out.iterdir())):
        time.sleep(0.2)
    time.sleep(2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted: no run folder was written" in err
    assert not out.exists()

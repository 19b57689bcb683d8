"""A run's numbers do not depend on the machine's load: the thread count is fixed by default, the
counts really used are measured inside the windows, and ``auto`` is the only load-following choice."""

import time

import pandas as pd
import pytest
import torch

import signals
from signals.execution import runtime
from signals.execution.factory import ExecutorConfig, make_executor


@pytest.fixture
def busy_or_idle(monkeypatch):
    """Pretend to be a 4-core machine whose load can be set."""
    monkeypatch.setattr(runtime, "cpu_cores", lambda: 4)

    def load(value):
        monkeypatch.setattr(runtime, "busy_cores", lambda: value)

    return load


def test_the_default_thread_count_ignores_the_load(busy_or_idle):
    counts = []
    for load in (0.0, 3.6):
        busy_or_idle(load)
        counts.append((runtime.default_threads(), runtime.pin_threads(signals.LSTMClassifier(device="cpu")).num_threads,
                       make_executor("local").threads))
    assert counts == [(1, 1, 1), (1, 1, 1)]


def test_auto_follows_the_free_cores(busy_or_idle):
    busy_or_idle(0.0)
    assert runtime.resolve_threads(None) == 4
    assert make_executor(ExecutorConfig(threads=None)).threads == 4
    busy_or_idle(3.6)
    assert runtime.resolve_threads(None) == 1
    assert runtime.resolve_threads(3) == 3


def test_busy_cores_sees_a_process_that_spins_now():
    """Measured now, not over the last minute: a child that keeps one core busy counts as about
    one busy core (more on a machine shared with other jobs), and the count never exceeds the
    machine's cores."""
    import os
    import subprocess
    import sys

    child = subprocess.Popen([sys.executable, "-c", "import time\nt = time.time()\nwhile time.time() - t < 5: pass"])
    try:
        time.sleep(0.5)  # the child is up and spinning
        busy = runtime.busy_cores()
    finally:
        child.kill()
        child.wait()
    assert 0.6 <= busy <= (os.cpu_count() or 1) + 1e-9


def test_same_predictions_on_a_busy_and_an_idle_machine_and_the_real_counts_recorded(md_small, busy_or_idle):
    kw = dict(features=signals.FeatureConfig(lookback=10, engineered=("ret_5", "gap")),
              splitter=signals.WalkForwardSplit(train_days=242, val_days=40, test_days=60, test_start="2022-07-01",
                                                test_end="2022-09-30"),
              estimator=signals.LSTMClassifier(hidden_size=8, max_epochs=1, batch_size=256, seed=0),  # no threads
              baselines=("logistic",), progress=False)
    torch.set_num_threads(2)  # the process's own count must not leak into the windows
    try:
        results = []
        for load in (0.0, 3.6):
            busy_or_idle(load)
            results.append(signals.run_walk_forward(md_small, **kw))
    finally:
        torch.set_num_threads(1)
    pd.testing.assert_frame_equal(results[0].predictions, results[1].predictions, check_exact=True)
    for res in results:
        tasks = res.info["executor"]["tasks"]
        assert tasks and all(t["torch_threads"] == [1] and t["blas_threads"] in ([1], []) for t in tasks.values())


def test_the_counts_recorded_are_those_in_force_during_the_fit():
    before = torch.get_num_threads()
    with runtime.recording_threads() as seen, runtime.torch_session(0, torch.device("cpu"), 3):
        pass
    assert seen["torch"] == [3]  # the fit's count, not the one restored after it
    assert torch.get_num_threads() == before

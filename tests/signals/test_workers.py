"""Windows in worker processes (``LocalExecutor(workers=N)``): the one-process result bit for bit,
the arrays shared once, a lost worker retried or named, workers stopped on an error, the number
of workers (auto, memory) and their memory measured."""

import os
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

import signals
from core import resources
from signals.execution import base as X
from signals.execution import factory, sharing
from signals.execution.local import LocalExecutor, pool_size
from signals.execution.pool import WORKER_LOST

from .conftest import tiny_config

TIMING = ["fit_seconds", "feature_seconds"]


def _same(a, b):
    pd.testing.assert_frame_equal(a.predictions, b.predictions, check_exact=True)
    pd.testing.assert_frame_equal(a.window_metrics.drop(columns=TIMING), b.window_metrics.drop(columns=TIMING),
                                  check_exact=True)


@pytest.fixture(scope="module")
def tiny_module():
    return tiny_config()


@pytest.fixture(scope="module")
def one_process(md_small, tiny_module):
    return signals.run_walk_forward(md_small, **tiny_module, executor=LocalExecutor(workers=1), progress=False)


@pytest.fixture(scope="module")
def two_workers(md_small, tiny_module):
    return signals.run_walk_forward(md_small, **tiny_module, executor=LocalExecutor(workers=2), progress=False)


def _worker_pids():
    """Live spawned worker processes of this test process."""
    out = []
    for pid in resources.child_pids():
        try:
            cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ")
        except OSError:
            continue
        if b"multiprocessing.spawn" in cmd:
            out.append(pid)
    return out


def test_two_workers_give_the_one_process_result_bit_for_bit(one_process, two_workers):
    assert len(one_process.windows) >= 3
    _same(one_process, two_workers)
    ex = two_workers.info["executor"]
    assert ex["executor"] == "local" and ex["workers"] == 2 and ex["processes"] == 2
    tasks = ex["tasks"]
    assert sorted(tasks) == [str(w.index) for w in one_process.windows]
    assert all(t["pid"] != os.getpid() and t["torch_threads"] == [1] for t in tasks.values())
    assert ex["worker_peak_rss_mb"] == max(t["worker_peak_rss_mb"] for t in tasks.values()) > 100
    assert one_process.info["executor"]["processes"] == 1 and "worker_peak_rss_mb" not in one_process.info["executor"]
    assert not _worker_pids()  # the pool is gone when the map ends


def test_checkpoints_come_back_from_the_workers(md_small, tiny_module, tmp_path):
    signals.run_walk_forward(md_small, **tiny_module, executor=LocalExecutor(workers=2), progress=False,
                             checkpoint_dir=tmp_path, only_windows=[0, 1])
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == ["window_000_lstm.pt", "window_001_lstm.pt"]
    est, _, rest = signals.load_checkpoint(tmp_path / "window_001_lstm.pt")
    assert rest["window"]["window"] == 1 and est.hidden_size == 8


def test_a_lost_worker_is_retried_and_the_result_unchanged(md_small, tiny_module, one_process, tmp_path):
    plan = X.FaultPlan(folder=str(tmp_path / "faults"), fail={}, crash={1: 1})
    ex = LocalExecutor(workers=2, max_retries=1, fault=plan)
    res = signals.run_walk_forward(md_small, **tiny_module, executor=ex, progress=False)
    _same(one_process, res)
    tasks = res.info["executor"]["tasks"]
    assert tasks["1"]["attempts"] == 2 and tasks["1"]["failures"][0]["error"] == WORKER_LOST
    assert plan.attempts(1) == 2


def test_a_lost_worker_without_retries_fails_the_run_by_name(md_small, tiny_module, tmp_path):
    plan = X.FaultPlan(folder=str(tmp_path / "faults"), fail={}, crash={0: 1})
    with pytest.raises(signals.IncompleteRunError) as ei:
        signals.run_walk_forward(md_small, **tiny_module, executor=LocalExecutor(workers=2, fault=plan),
                                 progress=False)
    failed = {f.window: f.error for f in ei.value.failures}
    assert failed[0].startswith("WorkerLost: a worker process died") and "execution.workers=1" in failed[0]
    assert not _worker_pids()


class ConfigFault:
    """Raises this toolkit's error in window 1 (picklable: the workers import this module)."""

    def check(self, window):
        if window == 1:
            raise signals.errors.ConfigError("window 1: too few samples (test)")


def test_a_toolkit_error_in_a_worker_is_raised_and_the_workers_stop(md_small, tiny_module):
    with pytest.raises(signals.errors.ConfigError, match="window 1: too few samples"):
        signals.run_walk_forward(md_small, **tiny_module, executor=LocalExecutor(workers=2, fault=ConfigFault()),
                                 progress=False)
    time.sleep(0.5)
    assert not _worker_pids()


def _sleep_task(shared, seconds):
    time.sleep(seconds)
    return seconds


def test_workers_end_when_their_driver_is_killed():
    """A driver killed outright (SIGKILL, the out-of-memory killer) leaves no worker behind."""
    import signal
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    code = ("from signals.execution.local import LocalExecutor\n"
            "from tests.signals.test_workers import _sleep_task\n"
            "print(next(LocalExecutor(workers=2).map(_sleep_task, [60, 60])))\n")
    driver = subprocess.Popen([sys.executable, "-c", code], cwd=root)
    try:
        workers = []
        for _ in range(300):  # the workers start (they import the toolkit)
            time.sleep(0.2)
            workers = [p for p in resources.child_pids(driver.pid)
                       if b"multiprocessing.spawn" in open(f"/proc/{p}/cmdline", "rb").read()]
            if len(workers) == 2:
                break
        assert len(workers) == 2
        time.sleep(1.0)
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    deadline = time.time() + 10
    while time.time() < deadline and any(os.path.exists(f"/proc/{p}") for p in workers):
        time.sleep(0.2)
    alive = [p for p in workers if os.path.exists(f"/proc/{p}")]
    for p in alive:  # do not leave them running if the test fails
        os.kill(p, signal.SIGKILL)
    assert not alive


# ---------------------------------------------------------------- the shared arrays
def test_published_arrays_are_mapped_read_only_and_the_file_removed():
    big = np.arange(2_000_000, dtype=np.float32).reshape(1000, 2000)  # 8 MB: out of band
    small = np.arange(10.0)
    frame = pd.DataFrame({"x": np.arange(300_000, dtype=np.float64)})  # a pandas block, 2.4 MB
    with sharing.published({"big": big, "small": small, "frame": frame, "name": "w"}) as handle:
        assert handle.path and os.path.getsize(handle.path) >= big.nbytes + frame["x"].nbytes
        assert len(handle.payload) < 100_000  # the arrays are not in the pickle stream
        got = handle.load()
        np.testing.assert_array_equal(got["big"], big)
        pd.testing.assert_frame_equal(got["frame"], frame)
        assert got["name"] == "w" and not got["big"].flags.writeable and got["small"].flags.writeable
        assert all(off % sharing.ALIGN == 0 for off, _ in handle.spans)
        path = handle.path
    assert not os.path.exists(path)
    np.testing.assert_array_equal(got["big"], big)  # the mapping outlives the file's name


def test_a_shared_file_left_by_a_dead_process_is_removed(tmp_path):
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    folder = sharing.shared_folder(1)
    orphan = folder / f"{sharing.SHARED_PREFIX}{int(dead.stdout)}-test.bin"
    orphan.write_bytes(b"x")
    with sharing.published({"a": np.zeros(1 << 18)}):  # 2 MB: a file is written
        pass
    assert not orphan.exists()


def test_no_room_for_the_shared_arrays_names_the_fix(monkeypatch):
    monkeypatch.setattr(sharing.shutil, "disk_usage", lambda p: type("U", (), {"free": 10})())
    with pytest.raises(OSError, match=r"no room for the .* MB of arrays .* --set execution.workers=1"):
        sharing.shared_folder(1 << 30)


# ---------------------------------------------------------------- how many workers
def test_pool_size_follows_tasks_and_memory():
    assert pool_size(2, 7) == 2 and pool_size(8, 3) == 3 and pool_size(4, 1) == 1 and pool_size(1, 7) == 1
    assert pool_size(8, 7, task_mb=4000, available_mb=20_000) == 4  # 80% of 20 GB holds four 4 GB tasks
    assert pool_size(8, 7, task_mb=4000, available_mb=3000) == 1
    assert pool_size(2, 7, task_mb=4000, available_mb=None) == 2


def test_auto_workers_are_the_free_cores_over_threads(monkeypatch):
    monkeypatch.setattr(factory, "free_cores", lambda: 8)
    assert factory.resolve_workers(None, 1) == 8 and factory.resolve_workers(None, 3) == 2
    assert factory.resolve_workers(3, 1) == 3
    monkeypatch.setattr(factory, "free_cores", lambda: 1)
    assert factory.resolve_workers(None, 2) == 1
    monkeypatch.setattr(factory, "free_cores", lambda: 2)
    ex = factory.make_executor(factory.ExecutorConfig())
    assert isinstance(ex, LocalExecutor) and ex.workers == 2 and ex.threads == 1
    assert factory.make_executor(factory.ExecutorConfig(workers=1)).workers == 1


def test_workers_setting_is_checked():
    with pytest.raises(signals.errors.ConfigError, match="workers = 0 is out of range: allowed 1..1024, or 'auto'"):
        factory.ExecutorConfig(workers=0)
    with pytest.raises(signals.errors.ConfigError, match="workers = 2 is for the local executor"):
        factory.ExecutorConfig(executor="ray", workers=2)
    with pytest.raises(signals.errors.ConfigError, match="workers = 0 must be an integer >= 1"):
        LocalExecutor(workers=0)


def test_window_memory_estimate_covers_a_window(md_small, tiny_module):
    from signals.inputs.prepared import prepare
    from signals.window import window_memory_mb

    prepared = prepare(md_small, tiny_module["features"], tiny_module["labels"])
    splitter = tiny_module["splitter"]
    w = next(iter(splitter.split(prepared.calendar, tiny_module["labels"])))
    rows = splitter.rows(w, prepared.eligible, prepared.fit_known())
    n = sum(len(r[0]) for r in (rows.train, rows.val, rows.test))
    one_copy = n * prepared.panel.day.shape[-1] * tiny_module["features"].lookback * 4 / 1e6
    padded = prepared.panel.day.nbytes / 1e6
    assert window_memory_mb(prepared, w, splitter) > 1.5 * one_copy + padded + 500


# ---------------------------------------------------------------- memory of all the processes
def test_a_stage_reports_the_memory_of_its_child_processes():
    timings = resources.Timings()
    with timings.stage("child", 1, 1):
        child = subprocess.Popen([sys.executable, "-c", "import time; a = bytearray(300_000_000); time.sleep(2)"])
        child.wait()
    assert timings.workers["child"] >= 1
    assert timings.peak_total_mb["child"] - timings.peak_rss_mb["child"] > 250

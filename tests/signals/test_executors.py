"""Local and Ray executors give the same walk-forward result; retries and lasting failures."""

import contextlib
import os
from pathlib import Path

import pandas as pd
import pytest
import torch

import signals
from signals.execution import base as X
from signals.execution import runtime
from signals.execution.factory import ExecutorConfig, make_executor
from signals.execution.local import LocalExecutor
from signals.execution.ray_executor import RayExecutor

from .conftest import tiny_config

TIMING = ["fit_seconds", "feature_seconds"]


def _same(a: signals.WalkForwardResult, b: signals.WalkForwardResult) -> None:
    """Predictions bit for bit, metrics bit for bit apart from the wall-clock columns."""
    pd.testing.assert_frame_equal(a.predictions, b.predictions, check_exact=True)
    pd.testing.assert_frame_equal(a.window_metrics.drop(columns=TIMING), b.window_metrics.drop(columns=TIMING),
                                  check_exact=True)
    assert [str(w) for w in a.windows] == [str(w) for w in b.windows]


@pytest.fixture(scope="module")
def reference(md_small, tiny_module):
    return signals.run_walk_forward(md_small, **tiny_module, progress=False)


@pytest.fixture(scope="module")
def tiny_module():
    return tiny_config()


@pytest.fixture(scope="module")
def ray_local():
    ray = pytest.importorskip("ray")
    from signals.execution.ray_executor import RayStartError, start_local_ray

    try:  # a loaded machine: Ray's loaded-machine timeouts and retries; a start that still fails is no test failure
        start_local_ray(num_cpus=2)
    except RayStartError as exc:
        pytest.skip(f"a local Ray did not start on this machine: {exc}")
    yield ray
    ray.shutdown()


def test_local_executor_equals_run_walk_forward(md_small, tiny_module, reference, tmp_path):
    res = signals.run_walk_forward(md_small, executor=LocalExecutor(), **tiny_module, progress=False,
                                   checkpoint_dir=tmp_path)
    assert len(res.windows) >= 2
    _same(reference, res)
    assert res.info["executor"]["executor"] == "local"
    assert sorted(p.name for p in tmp_path.glob("*.pt")) == [f"window_{w.index:03d}_lstm.pt" for w in res.windows]


def test_ray_executor_equals_local_bit_for_bit(md_small, tiny_module, reference, ray_local, tmp_path):
    res = signals.run_walk_forward(md_small, executor=RayExecutor(), **tiny_module, progress=False,
                                   checkpoint_dir=tmp_path)
    _same(reference, res)
    assert res.info["executor"]["executor"] == "ray"
    # checkpoints come back from the workers as bytes and load like local ones
    est, _, rest = signals.load_checkpoint(tmp_path / "window_001_lstm.pt")
    assert rest["window"]["window"] == 1 and est.hidden_size == 8


def test_ray_executor_default_threads_match_local(md_small, tiny_module, reference, ray_local):
    """Without num_threads on the estimator, the driver pins the count a local run would use (the
    cores of this process) and every task trains with it, so results match a plain local run."""
    kw = {**tiny_module, "estimator": signals.LSTMClassifier(hidden_size=8, max_epochs=2, batch_size=256, seed=0)}
    local = signals.run_walk_forward(md_small, **kw, progress=False)
    pinned = runtime.pin_threads(kw["estimator"])
    assert pinned.num_threads == runtime.default_threads() == runtime.local_threads(pinned)
    _same(local, signals.run_walk_forward(md_small, executor=RayExecutor(), **kw, progress=False))


def test_ray_retries_a_window_that_fails_once(md_small, tiny_module, reference, ray_local, tmp_path):
    plan = X.FaultPlan(folder=str(tmp_path / "faults"), fail={1: 1})
    res = signals.run_walk_forward(md_small, executor=RayExecutor(max_retries=1, fault=plan), **tiny_module,
                                   progress=False)
    assert plan.attempts(1) == 2
    _same(reference, res)


def test_ray_reports_a_window_that_always_fails(md_small, tiny_module, reference, ray_local, tmp_path):
    plan = X.FaultPlan(folder=str(tmp_path / "faults"), fail={0: -1})
    with pytest.raises(signals.IncompleteRunError) as ei:
        signals.run_walk_forward(md_small, executor=RayExecutor(max_retries=1, fault=plan), **tiny_module,
                                 progress=False)
    err = ei.value
    assert [f.window for f in err.failures] == [0]
    assert plan.attempts(0) == 2  # first try + one retry
    msg = str(err)
    assert "incomplete" in msg and "window 0: train" in msg and "InjectedFault" in msg
    # the other windows finished and their result rides on the error
    assert sorted(err.partial.predictions["window"].unique()) == [w.index for w in reference.windows[1:]]
    ref1 = reference.predictions[reference.predictions["window"] != 0].reset_index(drop=True)
    pd.testing.assert_frame_equal(err.partial.predictions, ref1, check_exact=True)


def test_local_retries_and_reports(md_small, tiny_module, reference, tmp_path):
    before = torch.get_num_threads()
    plan = X.FaultPlan(folder=str(tmp_path / "once"), fail={0: 1})
    _same(reference, signals.run_walk_forward(md_small, executor=LocalExecutor(max_retries=1, fault=plan),
                                              **tiny_module,
                                   progress=False))
    plan = X.FaultPlan(folder=str(tmp_path / "always"), fail={1: -1})
    with pytest.raises(signals.IncompleteRunError, match=r"1 of \d+ windows failed") as ei:
        signals.run_walk_forward(md_small, executor=LocalExecutor(max_retries=2, fault=plan), **tiny_module,
                                 progress=False)
    assert ei.value.failures[0].attempts == 3 and plan.attempts(1) == 3
    assert torch.get_num_threads() == before


def test_local_threads_are_restored(md_small, tiny_module):
    """threads=N applies to the windows only: the process's torch and BLAS counts come back."""
    from threadpoolctl import threadpool_info

    old = torch.get_num_threads()
    blas = runtime.blas_threads()
    torch.set_num_threads(2)
    try:
        signals.run_walk_forward(md_small, executor=LocalExecutor(threads=1), **tiny_module, progress=False,
                                 only_windows=[0])
        assert torch.get_num_threads() == 2
        assert max(i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas") == blas
    finally:
        torch.set_num_threads(old)


def test_toolkit_errors_are_not_retried(md_small, tiny_module, tmp_path):
    """A deterministic error of this toolkit (bad configuration, too little data) is raised as it
    is, at once, not retried."""

    class ConfigFault:
        calls = 0

        def check(self, window):
            if window == 1:
                ConfigFault.calls += 1
                raise signals.errors.ConfigError("window 1: too few samples (test)")

    with pytest.raises(signals.errors.ConfigError, match="window 1: too few samples"):
        signals.run_walk_forward(md_small, executor=LocalExecutor(max_retries=3, fault=ConfigFault()),
                                 **tiny_module, progress=False)
    assert ConfigFault.calls == 1


def test_fault_plan_from_env(tmp_path):
    plan = X.FaultPlan.from_env({X.FAULT_ENV: "1:1, 3:always", X.FAULT_DIR_ENV: str(tmp_path)})
    assert plan.fail == {1: 1, 3: -1}
    with pytest.raises(X.InjectedFault):
        plan.check(1)
    plan.check(1)
    plan.check(2)
    assert X.FaultPlan.from_env({}) is None
    with pytest.raises(signals.errors.ConfigError, match="WINDOW:COUNT"):
        X.FaultPlan.from_env({X.FAULT_ENV: "x"})


def test_make_executor_names_the_choices():
    assert isinstance(make_executor("local"), LocalExecutor)
    with pytest.raises(signals.errors.ConfigError,
                       match=r"executor = 'dask' is not allowed: choose from \['local', 'ray'\]"):
        make_executor("dask")
    with pytest.raises(signals.errors.ConfigError, match="ray_address = 'h:1' is set but execution.executor = 'local'"):
        ExecutorConfig(ray_address="h:1")


def test_missing_ray_names_the_extra(monkeypatch):
    import builtins

    real = builtins.__import__

    def fake(name, *a, **k):
        if name == "ray":
            raise ImportError("No module named 'ray'")
        return real(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    with pytest.raises(signals.errors.ConfigError, match=r"pip install \.\[ray\]"):
        make_executor("ray")


# ---------------------------------------------------------------- retries are visible (issue 13, item 16)
def test_ray_retries_are_logged_with_the_node_and_recorded_per_window(md_small, tiny_module, reference, ray_local,
                                                                      tmp_path, caplog):
    plan = X.FaultPlan(folder=str(tmp_path / "faults"), fail={1: 1}, crash={2: 1})
    with caplog.at_level("INFO", logger="signals.execution"):
        res = signals.run_walk_forward(md_small, executor=RayExecutor(max_retries=2, fault=plan), **tiny_module,
                                       progress=False)
    _same(reference, res)  # a retried window gives the same predictions
    retries = [r.getMessage() for r in caplog.records if "retrying" in r.getMessage()]
    assert len(retries) == 2, retries
    w1 = next(m for m in retries if m.startswith("window 1: train"))
    assert "failed on " in w1 and "(attempt 1 of 3), retrying: InjectedFault" in w1
    w2 = next(m for m in retries if m.startswith("window 2: train"))
    assert "WorkerCrashedError" in w2 and "unknown node" not in w2  # the lost worker's node is named
    tasks = res.info["executor"]["tasks"]
    assert {k: t["attempts"] for k, t in tasks.items()} == {"0": 1, "1": 2, "2": 2}
    assert tasks["1"]["failures"][0]["error"].startswith("InjectedFault") and tasks["1"]["failures"][0]["node"]
    assert all(t["node"] and t["torch_threads"] == [1] for t in tasks.values())
    # the failed attempts name Ray's node id too (the journal heard from them before they failed)
    node_id = ray_local.get_runtime_context().get_node_id()
    assert tasks["1"]["failures"][0]["node_id"] == tasks["2"]["failures"][0]["node_id"] == node_id


def test_local_retries_are_recorded_too(md_small, tiny_module, tmp_path):
    ex = LocalExecutor(max_retries=1, fault=X.FaultPlan(folder=str(tmp_path / "f"), fail={0: 1}))
    res = signals.run_walk_forward(md_small, executor=ex, **tiny_module, progress=False, only_windows=[0])
    assert res.info["executor"]["tasks"]["0"]["attempts"] == 2


def test_fault_plan_crash_spec():
    plan = X.FaultPlan.from_env({X.FAULT_ENV: "2:crash", X.FAULT_DIR_ENV: "/tmp/unused"})
    assert plan.crash == {2: 1} and plan.fail == {}


# ---------------------------------------------------------------- token authentication (issue 13, item 15)
# the refusal Ray 2.60 gives a process without the cluster's token (its text, verbatim)
REFUSAL = ("Failed to connect to GCS. Last connection error: ray.exceptions.AuthenticationError: RPC error: "
           "InvalidAuthToken: Authentication token is missing or incorrect. Note: RAY_AUTH_MODE is currently "
           "'disabled' (not 'token').")


def test_an_authentication_refusal_is_named_with_the_fix(monkeypatch, tmp_path):
    from signals.execution import ray_executor as RX

    monkeypatch.delenv("RAY_AUTH_MODE", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN", raising=False)
    monkeypatch.delenv("RAY_AUTH_TOKEN_PATH", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    exc = ConnectionError("Failed to connect to Ray cluster at 10.0.0.1:6379")
    exc.__cause__ = RuntimeError(REFUSAL)
    assert RX.is_auth_failure(exc) and not RX.is_auth_failure(ConnectionError("Connection refused"))
    msg = RX.auth_failure_message("10.0.0.1:6379")
    assert "requires token authentication" in msg and "RAY_AUTH_MODE is unset" in msg and "no token" in msg
    assert "RAY_AUTH_MODE=token" in msg and "RAY_AUTH_TOKEN=<token>" in msg and "ray get-auth-token" in msg
    monkeypatch.setenv("RAY_AUTH_TOKEN", "s3cret-value")
    assert "s3cret-value" not in RX.auth_failure_message("h:1")  # the token itself is never shown


@pytest.mark.slow
def test_joining_a_token_cluster_without_the_token_fails_fast_and_says_so(tmp_path):
    """A real head started with RAY_AUTH_MODE=token on a loopback port; a driver without its token
    is told it is authentication within seconds (Ray alone waits ~20 s and reports a connection
    failure), and with RAY_AUTH_MODE=token and RAY_AUTH_TOKEN it joins."""
    import os
    import shutil
    import socket
    import subprocess
    import sys
    import time

    pytest.importorskip("ray")
    import psutil

    ray_bin = shutil.which("ray", path=os.path.dirname(sys.executable))
    if ray_bin is None:
        pytest.skip("the ray command is not installed beside this Python")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    head_home, drv_home = tmp_path / "head", tmp_path / "driver"
    for d in (head_home, drv_home):
        d.mkdir()
    tmp = Path("/tmp") / f"csi300-auth-{os.getpid()}"  # Ray's socket paths must stay short
    env = {**os.environ, "HOME": str(head_home), "RAY_AUTH_MODE": "token"}
    subprocess.run([ray_bin, "get-auth-token", "--generate"], env=env, capture_output=True, check=True, timeout=60)
    token = (head_home / ".ray" / "auth_token").read_text().strip()
    try:
        subprocess.run([ray_bin, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}", "--num-cpus=1",
                        f"--temp-dir={tmp}", "--include-dashboard=false", "--disable-usage-stats"],
                       env=env, capture_output=True, check=True, timeout=120)
        code = ("from signals.execution.ray_executor import RayExecutor\n"
                "from data_store.errors import ConfigError\n"
                f"ex = RayExecutor(address='127.0.0.1:{port}')\n"
                "try:\n    ex.ray(); print('JOINED'); ex.shutdown()\n"
                "except ConfigError as e:\n    print('REFUSED', e)\n")
        base = {k: v for k, v in os.environ.items() if not k.startswith("RAY_AUTH")}
        root = Path(__file__).resolve().parents[2]
        t0 = time.perf_counter()
        bad = subprocess.run([sys.executable, "-c", code], env={**base, "HOME": str(drv_home)}, cwd=root,
                             capture_output=True, text=True, timeout=120)
        took = time.perf_counter() - t0
        assert "REFUSED" in bad.stdout and "requires token authentication" in bad.stdout, bad.stderr[-2000:]
        assert took < 15, took
        good = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, timeout=120,
                              env={**base, "HOME": str(drv_home), "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": token})
        assert "JOINED" in good.stdout, good.stdout + good.stderr[-2000:]
    finally:  # stop only the processes of this head (their command lines name its folder), by pid
        for p in psutil.process_iter(["pid", "cmdline"]):
            if str(tmp) in " ".join(p.info["cmdline"] or []):
                with contextlib.suppress(psutil.Error):
                    p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------- Ray's node id (issue 22, item 13b)
def test_ray_records_the_node_id_of_each_window(md_small, tiny_module, ray_local):
    """Host and IP cannot tell two nodes on one host apart (a loopback test cluster); Ray's node id can."""
    res = signals.run_walk_forward(md_small, executor=RayExecutor(), **tiny_module, progress=False, only_windows=[0, 1])
    node_id = ray_local.get_runtime_context().get_node_id()
    tasks = res.info["executor"]["tasks"]
    assert len(node_id) == 56 and all(t["node_id"] == node_id for t in tasks.values())
    assert all(t["node"].endswith(f"({ray_local.util.get_node_ip_address()})") for t in tasks.values())


# ---------------------------------------------------------------- a local Ray on a loaded machine (item 14)
STARTUP_TIMEOUT = ("The current node timed out during startup. This could happen because some of the raylet failed "
                   "to startup or the GCS has become overloaded.")


@pytest.fixture
def fake_ray(monkeypatch):
    """Ray's module with ``init`` recorded (and made to fail the first ``fails`` times); nothing starts."""
    ray = pytest.importorskip("ray")
    from signals.execution import ray_executor as RX

    calls: list[dict] = []
    state = {"fails": 0}

    def init(**kw):
        calls.append(kw)
        if len(calls) <= state["fails"]:
            raise Exception(STARTUP_TIMEOUT)  # what Ray 2.60's driver raises

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    return RX, calls, state


def test_a_local_ray_starts_with_the_timeouts_of_a_loaded_machine(fake_ray):
    RX, calls, _ = fake_ray
    RX.start_local_ray(num_cpus=2, _system_config={"health_check_failure_threshold": 20})
    (kw,) = calls
    assert kw["num_cpus"] == 2 and kw["include_dashboard"] is False
    cfg = kw["_system_config"]
    assert cfg["raylet_start_wait_time_s"] >= 120 and cfg["worker_register_timeout_seconds"] >= 300
    assert cfg["health_check_failure_threshold"] == 20  # the caller's value wins
    assert int(os.environ["RAY_gcs_server_request_timeout_seconds"]) >= 120


def test_a_local_ray_that_times_out_is_started_again(fake_ray, caplog):
    RX, calls, state = fake_ray
    state["fails"] = 2
    with caplog.at_level("WARNING", logger="signals.execution"):
        RX.RayExecutor().ray()
    assert len(calls) == 3
    tries = [r.getMessage() for r in caplog.records if "did not start" in r.getMessage()]
    assert len(tries) == 2 and "attempt 1 of 3" in tries[0] and "load average" in tries[0]


def test_a_local_ray_that_never_starts_says_so(fake_ray):
    RX, calls, state = fake_ray
    state["fails"] = 99
    with pytest.raises(RX.RayStartError) as ei:
        RX.RayExecutor(start_attempts=2).ray()
    msg = str(ei.value)
    assert len(calls) == 2 and isinstance(ei.value, OSError)
    assert msg.startswith("cannot start a local Ray: it did not come up in 2 attempt(s) (load average")
    assert "timed out during startup" in msg and "--executor local" in msg


def test_a_bad_ray_argument_is_not_retried(fake_ray, monkeypatch):
    RX, calls, _ = fake_ray
    import ray

    def init(**kw):
        calls.append(kw)
        raise TypeError("init() got an unexpected keyword argument 'bogus'")

    monkeypatch.setattr(ray, "init", init)
    with pytest.raises(TypeError, match="bogus"):
        RX.start_local_ray(bogus=1)
    assert len(calls) == 1

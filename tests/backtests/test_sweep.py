"""``python -m backtests.sweep``: the grid, one run folder per point, the comparison table, and the
same predictions on the local and the Ray executor."""

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from backtests import sweep as S
from core.errors import ConfigError

TINY = [
    "--symbols", "SH600519,SH600036,SH601318,SZ000858",
    "--start", "2021-01-01", "--end", "2022-12-31", "--test-start", "2022-07-01",
    "--set", "walk_forward.train_days=120", "--set", "walk_forward.val_days=20",
    "--set", "walk_forward.test_days=121", "--set", "walk_forward.max_train_samples=all",
    "--set", "model.hidden_size=4", "--set", "model.max_epochs=1",
    "--set", "strategy.topk.k=2", "--set", "strategy.topk.max_replace=1", "--set", "output.checkpoints=false",
    "--device", "cpu", "-q", "--threads", "1",
]


def _sweep(tmp_path, *extra):
    out = tmp_path / "runs"
    rc = S.main(["--out", str(out), *TINY, *extra])
    folders = sorted(p for p in out.iterdir() if not p.name.startswith(".")) if out.exists() else []
    return rc, out, folders


def test_grid_keys_resolve_or_name_the_fix():
    assert S.resolve_key("lookback") == "features.lookback"
    assert S.resolve_key("model") == "model.kind"
    assert S.resolve_key("model.hidden_size") == "model.hidden_size"
    with pytest.raises(ConfigError, match=r"'kind' is in several sections .*write it as model\.kind"):
        S.resolve_key("kind")
    with pytest.raises(ConfigError, match="'lookbak' is unknown: use section.field"):
        S.resolve_key("lookbak")
    with pytest.raises(ConfigError, match="must look like KEY=V1,V2"):
        S.parse_grid(["lookback"])
    with pytest.raises(ConfigError, match="sets features.lookback twice"):
        S.parse_grid(["lookback=5", "features.lookback=10"])


def test_grid_points_are_the_product_first_key_slowest():
    grid = S.parse_grid(["lookback=20,40", "model=lstm,gru"])
    pts = S.grid_points(grid)
    assert pts == [{"features.lookback": "20", "model.kind": "lstm"}, {"features.lookback": "20", "model.kind": "gru"},
                   {"features.lookback": "40", "model.kind": "lstm"}, {"features.lookback": "40", "model.kind": "gru"}]
    assert [S.point_tag(p) for p in pts] == ["lookback20-lstm", "lookback20-gru", "lookback40-lstm", "lookback40-gru"]


def test_a_bad_grid_value_exits_2_and_writes_nothing(tmp_path, capsys):
    rc, out, folders = _sweep(tmp_path, "--grid", "lookback=1,10")
    assert rc == 2 and folders == []
    assert "grid point features.lookback=1: features.lookback = 1 is out of range" in capsys.readouterr().err


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("local")
    rc, out, folders = _sweep(tmp, "--grid", "model=lstm,gru", "--name", "s")
    assert rc == 0
    return out, folders


def test_local_sweep_writes_a_run_folder_per_point_and_a_table(local_sweep):
    out, folders = local_sweep
    runs = [f for f in folders if not f.name.endswith("-comparison")]
    assert sorted(f.name.split("-", 2)[2] for f in runs) == ["s-gru", "s-lstm"]
    for f in runs:
        assert (f / "tearsheet.html").is_file() and (f / "predictions.parquet").is_file()
    (cmpdir,) = [f for f in folders if f.name.endswith("-comparison")]
    table = pd.read_csv(cmpdir / "comparison.csv", index_col=0)
    assert sorted(table.columns) == sorted(f.name for f in runs)
    assert sorted(table.loc["model"]) == ["gru", "lstm"]
    points = pd.read_csv(cmpdir / "points.csv")
    assert list(points["model.kind"]) == ["lstm", "gru"] and set(points["status"]) == {"ok"}
    # the best point against having tried both: deflated Sharpe and SPA, in numbers and words
    import json

    mt = json.loads((cmpdir / "multiple_testing.json").read_text())
    assert mt["trials"] == 2 and mt["best"] in {f.name for f in runs}
    assert 0.0 <= mt["deflated_sharpe"]["dsr"] <= 1.0 and 0.0 <= mt["spa"]["p_spa"] <= 1.0
    assert mt["spa"]["seed"] == 0 and mt["survives"] in (True, False)
    text = (cmpdir / "comparison.txt").read_text()
    assert "deflated Sharpe ratio is" in text and "Hansen's SPA p =" in text and "survive" in text


def test_ray_sweep_gives_the_local_predictions(local_sweep, tmp_path):
    ray = pytest.importorskip("ray")
    from signals.execution.ray_executor import RayStartError, start_local_ray

    try:  # the timeouts of a loaded machine, and retries; a start that still fails is not what this test checks
        start_local_ray(num_cpus=2)
    except RayStartError as exc:
        pytest.skip(f"a local Ray did not start on this machine: {exc}")
    try:
        rc, out, folders = _sweep(tmp_path, "--grid", "model=lstm,gru", "--name", "s", "--executor", "ray")
    finally:
        ray.shutdown()
    assert rc == 0
    local = {f.name.split("-", 2)[2]: f for f in local_sweep[1] if not f.name.endswith("-comparison")}
    remote = {f.name.split("-", 2)[2]: f for f in folders if not f.name.endswith("-comparison")}
    assert sorted(remote) == sorted(local) == ["s-gru", "s-lstm"]
    for name in local:  # bit for bit: same seeds, same torch and BLAS thread counts
        a = pd.read_parquet(local[name] / "predictions.parquet")
        b = pd.read_parquet(remote[name] / "predictions.parquet")
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        assert (remote[name] / "tearsheet.html").is_file()


def test_a_failing_point_is_named_and_the_others_finish(tmp_path, capsys):
    """train_days=2000 passes validation but the first window cannot fit in the data."""
    rc, out, folders = _sweep(tmp_path, "--grid", "walk_forward.train_days=120,2000")
    err = capsys.readouterr().err
    assert rc == 1
    assert "the sweep is INCOMPLETE: 1 point(s) failed" in err and "walk_forward.train_days=2000" in err
    runs = [f for f in folders if not f.name.endswith("-comparison")]
    assert len(runs) == 1 and runs[0].name.endswith("train_days120")
    (cmpdir,) = [f for f in folders if f.name.endswith("-comparison")]
    points = pd.read_csv(cmpdir / "points.csv")
    assert list(points["status"]) == ["ok", "failed"] and points["error"].iloc[1].startswith("ConfigError")


def test_run_with_a_window_that_always_fails_is_incomplete_and_writes_nothing(tmp_path):
    """``python -m backtests.run --executor ray``: window 0 fails on every attempt (test hook), so
    the run names it, says it is incomplete, exits 1 and leaves no run folder or tearsheet."""
    pytest.importorskip("ray")
    root = Path(__file__).resolve().parents[2]
    env = {**os.environ, "CSI300_FAULT_WINDOWS": "0:always", "CSI300_FAULT_DIR": str(tmp_path / "faults")}
    args = [a for a in TINY if a != "--threads" and a != "1"]
    proc = subprocess.run([sys.executable, "-m", "backtests.run", "--out", str(tmp_path / "runs"), *args,
                           "--executor", "ray", "--set", "execution.max_retries=1",
                           "--set", "execution.threads=1"],
                          capture_output=True, text=True, cwd=root, env=env, timeout=600)
    started = ray_start_failure(proc.stderr)
    if started is not None:  # Ray never ran a window: the planted failure was not reached
        pytest.skip(f"a local Ray did not start on this machine (not the planted failure): {started}")
    assert proc.returncode == 1, proc.stderr[-3000:]
    assert "the walk-forward run is incomplete: 1 of 2 windows failed" in proc.stderr
    assert "window 0: train" in proc.stderr and "InjectedFault" in proc.stderr and "after 2 attempts" in proc.stderr
    assert "INCOMPLETE: no run folder and no tearsheet were written" in proc.stderr
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())
    assert len(list((tmp_path / "faults").glob("attempt-w0-*"))) == 2


def ray_start_failure(stderr: str) -> str | None:
    """The error line of a run whose local Ray did not start (its own message, exit 1), else None."""
    return next((line for line in stderr.splitlines() if "RayStartError: cannot start a local Ray" in line), None)


def test_a_run_whose_ray_does_not_start_says_so_and_is_told_from_a_planted_failure(tmp_path, monkeypatch, capsys):
    """A local Ray that does not come up (a loaded machine) ends the run with its own one-line error,
    exit 1 and no run folder; the planted-failure test above recognises it and does not fail."""
    ray = pytest.importorskip("ray")
    from backtests import run as R

    tries = []

    def init(**kw):
        tries.append(kw)
        raise Exception("The current node timed out during startup. This could happen because some of the raylet "
                        "failed to startup or the GCS has become overloaded.")

    monkeypatch.setattr(ray, "is_initialized", lambda: False)
    monkeypatch.setattr(ray, "init", init)
    monkeypatch.setattr(ray, "shutdown", lambda: None)
    out = tmp_path / "runs"
    rc = R.main(["--out", str(out), *TINY, "--executor", "ray"])
    err = capsys.readouterr().err
    assert rc == 1 and len(tries) == 3
    line = ray_start_failure(err)
    assert line is not None and "did not come up in 3 attempt(s)" in line and "(no run folder was written)" in line
    assert ray_start_failure("the walk-forward run is incomplete: 1 of 2 windows failed") is None
    assert not out.exists() or not [p for p in out.iterdir() if not p.name.startswith(".")]

"""How a run ends: SIGTERM like Ctrl-C, folders of killed runs reported and cleaned, Ctrl-C in the
middle of an import, one exit code per kind of failure, and a command line that answers at once."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from backtests import runfolder as RF

from .conftest import ROOT, SMALL_ARGS

HEAVY = ("torch", "sklearn", "backtrader", "ray", "matplotlib", "quantstats")


def _default_sigint():
    # as in a terminal: a shell that starts pytest in the background hands it SIGINT ignored
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start(out, *args, env=None):
    return subprocess.Popen([sys.executable, "-m", "backtests.run", "--out", str(out), "-q", *args], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            preexec_fn=_default_sigint)


def _run(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "backtests.run", *args], cwd=ROOT, capture_output=True, text=True,
                          env=env, timeout=timeout, preexec_fn=_default_sigint)


def _wait_for_incomplete(out, proc, limit=180):
    deadline = time.time() + limit
    while time.time() < deadline and proc.poll() is None:
        if out.exists() and any(p.name.startswith(RF.INCOMPLETE_PREFIX) for p in out.iterdir()):
            return
        time.sleep(0.2)
    raise AssertionError(f"no incomplete run folder appeared (exit {proc.poll()})")


# ---------------------------------------------------------------- 1. SIGTERM and SIGKILL
@pytest.mark.slow
def test_sigterm_is_handled_like_ctrl_c(tmp_path):
    out = tmp_path / "runs"
    proc = _start(out, *SMALL_ARGS)
    _wait_for_incomplete(out, proc)
    time.sleep(1)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-2000:]
    assert "stopped by SIGTERM: no run folder was written" in err
    assert not out.exists() or not list(out.iterdir())


def _swallowed_sigterm():
    """What logging's at-fork callback does to a signal that lands while a worker process starts:
    the Interrupted raised by the handler is printed as 'Exception ignored' and dropped."""
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.5)  # the handler runs here
    except KeyboardInterrupt:
        pass


def test_a_swallowed_signal_is_raised_again_at_the_next_checkpoint():
    from backtests.lifecycle import Interrupted, SignalGuard, checkpoint

    checkpoint()  # no command running: nothing to do
    with SignalGuard() as guard:
        checkpoint()  # no signal yet
        with pytest.raises(Interrupted), guard.held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.5)
            checkpoint()  # held back: the import finishes first, then held() raises it
    with SignalGuard():
        _swallowed_sigterm()  # the handler's own Interrupted was dropped: the checkpoint raises it
        with pytest.raises(Interrupted) as exc:
            checkpoint()
        assert exc.value.exit_code == 143
    checkpoint()  # uninstalled: a no-op again


@pytest.mark.slow
def test_a_run_whose_interrupt_was_swallowed_stops_before_its_folder_is_committed(tmp_path, monkeypatch):
    """The CI failure: SIGTERM landed while a worker process forked, logging swallowed the
    Interrupted, the run went on and exited 0. It now stops at the end of the stage (143, no folder)."""
    import signals
    from backtests import pipeline
    from backtests.config import load_config, parse_override
    from backtests.lifecycle import Interrupted, SignalGuard

    real = signals.run_walk_forward

    def swallowing(*a, **k):
        _swallowed_sigterm()
        return real(*a, **k)

    monkeypatch.setattr(signals, "run_walk_forward", swallowing)
    cfg = load_config("quick", None, [parse_override(s) for s in (
        "universe.symbols=SH600519,SH600036,SZ000001", "universe.start=2022-01-01", "universe.end=2023-12-31",
        "walk_forward.test_start=2023-10-09", "walk_forward.train_days=242", "walk_forward.val_days=40",
        "model.max_epochs=1", "model.hidden_size=8", "features.factors=", "report.audit=false",
        "execution.threads=1", "output.checkpoints=false", f"output.runs_dir={tmp_path / 'runs'}")])
    with SignalGuard(), pytest.raises(Interrupted) as exc:
        pipeline.run(cfg, progress=False)
    assert exc.value.exit_code == 143
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # the incomplete folder was removed
    assert any(f.name == "checkpoint" for f in exc.traceback)  # stopped by the checkpoint after the stage


@pytest.mark.slow
def test_a_killed_run_is_reported_by_the_next_run_and_removed_by_clean(tmp_path):
    out = tmp_path / "runs"
    proc = _start(out, *SMALL_ARGS)
    _wait_for_incomplete(out, proc)
    proc.kill()  # SIGKILL: nothing can clean up
    proc.communicate(timeout=60)
    (left,) = list(out.iterdir())
    assert left.name.startswith(RF.INCOMPLETE_PREFIX)
    later = _run("--out", str(out), "--symbols", "SH999999")  # a later run (stopped by its own bad input)
    assert later.returncode == 2
    assert "1 incomplete run folder(s) left by runs that were killed" in later.stderr and left.name in later.stderr
    cleaned = _run("--out", str(out), "--clean")
    assert cleaned.returncode == 0 and f"removed {left}" in cleaned.stdout
    assert not left.exists()


def test_only_folders_whose_process_is_gone_are_stale(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    gone = tmp_path / f"{RF.INCOMPLETE_PREFIX}20250101-000000-a-{dead.pid}"
    gone.mkdir()
    mine = tmp_path / f"{RF.INCOMPLETE_PREFIX}20250101-000000-b-{os.getpid()}"
    mine.mkdir()
    RF.mark_owner(mine)  # this very process: still running
    reused = tmp_path / f"{RF.INCOMPLETE_PREFIX}20250101-000000-c-{os.getpid()}"
    reused.mkdir()
    RF.mark_owner(reused)
    owner = json.loads((reused / RF.OWNER_FILE).read_text())
    (reused / RF.OWNER_FILE).write_text(json.dumps({**owner, "start_time": "1"}))  # same pid, another process
    other_host = tmp_path / f"{RF.INCOMPLETE_PREFIX}20250101-000000-d-1"
    other_host.mkdir()
    (other_host / RF.OWNER_FILE).write_text(json.dumps({"pid": 1, "host": "elsewhere", "start_time": None}))
    assert sorted(RF.stale_folders(tmp_path)) == sorted([gone, reused])
    assert sorted(RF.remove_stale(tmp_path)) == sorted([gone, reused])
    assert mine.exists() and other_host.exists() and not gone.exists()


# ---------------------------------------------------------------- 2. Ctrl-C whenever it is pressed
HOOK = '''
import os, signal, sys
_TARGET = os.environ.get("CSI300_TEST_SIGINT_AT_IMPORT")
if _TARGET:
    class _Hook:
        fired = False
        def find_spec(self, name, path=None, target=None):
            if not _Hook.fired and name == _TARGET:
                _Hook.fired = True
                os.kill(os.getpid(), signal.SIGINT)  # "the key is pressed" as this module starts to import
            return None
    sys.meta_path.insert(0, _Hook())
'''


@pytest.mark.slow
@pytest.mark.parametrize("module", [
    "sympy.polys",  # inside torch's lazy first import (its compiler stack): used to give AttributeError, exit 1
    "torch",        # torch's first import
    "pandas",       # while the configuration loads
])
def test_ctrl_c_during_an_import_exits_130(tmp_path, module):
    (tmp_path / "hook").mkdir()
    (tmp_path / "hook" / "sitecustomize.py").write_text(HOOK, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "hook"), "CSI300_TEST_SIGINT_AT_IMPORT": module}
    out = tmp_path / "runs"
    proc = _run("--out", str(out), "-q", *SMALL_ARGS, env=env)
    assert proc.returncode == 130, proc.stderr[-3000:]
    assert proc.stderr.strip().splitlines()[-1].startswith("interrupted:"), proc.stderr[-2000:]
    assert "Error" not in proc.stderr and "Traceback" not in proc.stderr
    assert not out.exists() or not list(out.iterdir())


# ---------------------------------------------------------------- 3. one exit code per kind of failure
def _one_error_line(proc):
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    return lines[0]


def test_a_damaged_cache_exits_2_with_one_line(tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "manifest.json").write_text('{"format": 1, "files": {"bars/SH6', encoding="utf-8")
    out = tmp_path / "runs"
    proc = _run("--out", str(out), "--set", "data.use_cache=true", "--set", f"data.cache_dir={cache}")
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "manifest.json is unusable" in _one_error_line(proc)
    assert not out.exists()


def test_an_output_folder_that_cannot_be_written_exits_2_before_anything_runs(tmp_path):
    if os.geteuid() == 0:  # root writes through permission bits: use a folder no one may create
        out = Path("/sys/csi300-test-runs")
    else:
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o555)
        out = ro / "runs"
    t0 = time.perf_counter()
    proc = _run("--out", str(out))
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert f"cannot write run folders under '{out}'" in _one_error_line(proc)
    assert time.perf_counter() - t0 < 60  # refused before the data load and the training
    assert not out.exists()


# ---------------------------------------------------------------- 4. answers that need no data
@pytest.mark.parametrize("args", [["--help"], ["--print-config"], ["--set", "model.hidden_size=-3"],
                                  ["--symbols", "SH600519,sh600519"]])
def test_help_print_config_and_config_errors_import_no_heavy_library(args):
    code = ("import runpy, sys\n"
            f"sys.argv = ['backtests.run', *{args!r}]\n"
            "try:\n    runpy.run_module('backtests.run', run_name='__main__')\n"
            "except SystemExit as e:\n    code = e.code\n"
            f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules), 'EXIT', code)\n")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("HEAVY [] EXIT"), (last, proc.stderr[-2000:])
    assert last.endswith("EXIT 0" if args[0] in ("--help", "--print-config") else "EXIT 2")


def test_every_option_has_help_text():
    from backtests.run import build_parser

    missing = [a.dest for a in build_parser()._actions if not a.help]
    assert missing == []
    text = build_parser().format_help()
    assert "auto = CUDA when available" in text and "threshold: one stock" in text and "Exit codes" in text


# ---------------------------------------------------------------- 7. a failed audit
@pytest.mark.slow
def test_a_failed_audit_writes_the_run_leads_the_verdict_and_exits_3(tmp_path):
    """A split without embargo (allowed only to demonstrate the audit): the audit fails, the run
    folder is still written, its verdict starts with the failure, and the exit code is 3."""
    out = tmp_path / "runs"
    proc = _run("--out", str(out), "-q", *SMALL_ARGS, "--audit", "--set", "report.audit_symbols=4",
                "--set", "walk_forward.embargo_days=0", "--set", "walk_forward.allow_leakage=true", timeout=900)
    assert proc.returncode == 3, proc.stderr[-3000:]
    (run_dir,) = [p for p in out.iterdir() if not p.name.startswith(".")]
    m = json.loads((run_dir / "metrics.json").read_text())
    assert m["audit_passed"] is False and m["verdict"].startswith("LEAKAGE AUDIT FAILED")
    assert "LOOK-AHEAD" in m["audit"] and "fits a label ending" in m["audit"]
    assert (run_dir / "audit.csv").is_file() and (run_dir / "tearsheet.html").is_file()
    assert "LEAKAGE AUDIT FAILED" in proc.stdout and "the leakage audit FAILED" in proc.stderr
    html = (run_dir / "tearsheet.html").read_text(encoding="utf-8")
    assert html.index("LEAKAGE AUDIT FAILED") < html.index('id="verdict"')


def test_the_lazy_package_exports_all_resolve():
    import signals
    import strategies

    for pkg in (signals, strategies):
        missing = [n for n in pkg.__all__ if getattr(pkg, n, None) is None]
        assert missing == [], (pkg.__name__, missing)
        assert set(pkg.__all__) <= set(dir(pkg))
    assert signals.errors.LookaheadError is signals.LookaheadError  # a submodule by attribute, as before
    with pytest.raises(AttributeError):
        signals.no_such_name  # noqa: B018

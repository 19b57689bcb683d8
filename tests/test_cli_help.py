"""Every command line of the project answers ``--help`` at once and starts nothing: it exits 0 with its
usage, writes nothing, and imports none of the heavy libraries (torch alone takes seconds to import),
whether it is a module's CLI or a script of bench/, scripts/ or examples/."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
#: libraries whose import alone costs a large part of a second or more
HEAVY = {"torch", "sklearn", "lightgbm", "backtrader", "quantstats", "matplotlib", "scipy", "statsmodels", "arch",
         "ray", "akshare", "tushare"}
SCRIPTS = sorted(p for folder in ("bench", "scripts", "examples") for p in (ROOT / folder).glob("*.py")
                 if 'if __name__ == "__main__":' in p.read_text(encoding="utf-8"))
MODULES = [["backtests.run"], ["backtests.evaluate"], ["backtests.sweep"], ["backtests.compare"], ["data_store"],
           ["data_store", "info"], ["data_store", "symbols"], ["data_store", "update"]]


def _help(cmd, cwd):
    """Run ``cmd --help`` with the worktree's packages first; (process, top-level modules it imported)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.run([sys.executable, "-X", "importtime", *cmd, "--help"], capture_output=True, text=True,
                          cwd=cwd, env=env, timeout=300)
    imported = {ln.rsplit("|", 1)[-1].strip().split(".")[0] for ln in proc.stderr.splitlines()
                if ln.startswith("import time:")}
    return proc, imported


def test_the_scripts_are_found_and_a_heavy_import_would_be_seen(tmp_path):
    names = {p.name for p in SCRIPTS}
    assert {"bench_run.py", "membership_agreement.py", "choose_topk_defaults.py", "tutorial_a_akshare.py",
            "single_stock_threshold.py"} <= names
    _, imported = _help(["-c", "import scipy"], tmp_path)
    assert "scipy" in imported


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_script_answers_help_at_once_and_starts_nothing(script, tmp_path):
    proc, imported = _help([str(script)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage:"), proc.stdout[:500]
    assert sorted(imported & HEAVY) == []
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("module", MODULES, ids=" ".join)
def test_every_module_cli_answers_help_at_once(module, tmp_path):
    proc, imported = _help(["-m", *module], tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("usage:"), proc.stdout[:500]
    assert sorted(imported & HEAVY) == []
    assert list(tmp_path.iterdir()) == []

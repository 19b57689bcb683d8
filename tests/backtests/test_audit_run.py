"""The leakage audit as a run makes it (``--audit``, :func:`backtests.pipeline.run_audit`): every model
the run reports is audited, a small quiet universe is audited to the end, an audit that stops keeps
the finished run, and a run that allowed look-ahead says so before anything else."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backtests import build, pipeline
from backtests.config import load_config, parse_override
from signals.inputs.features import FeaturePanel

ROOT = Path(__file__).resolve().parents[2]
QUIET = "SH600519,SH600036,SZ000001"


def _cfg(*settings):
    return load_config("quick", None, [parse_override(s) for s in settings])


def _next_day_table(self, d_idx, s_idx):
    """A planted leak in a tabular baseline's own input: each row holds the NEXT day's features
    (the sequence models and the feature panel itself stay honest)."""
    d = np.minimum(np.asarray(d_idx, dtype=np.int64) + 1, self.day.shape[0] - 1)
    return np.ascontiguousarray(self.day[d, np.asarray(s_idx, dtype=np.int64), 6:])


def test_run_audit_audits_the_baselines_the_run_reports(monkeypatch):
    """A LightGBM baseline fed rows that read the next day: only its predictions move, so only an
    audit that reruns the run's baselines sees it (the audit used to rerun the logistic alone)."""
    monkeypatch.setattr(FeaturePanel, "tabular", _next_day_table)
    cfg = _cfg("universe.symbols=SH600000,SH600036,SH600519,SH601318,SZ000001,SZ000333,SZ000858,SH600030",
               "universe.start=2020-01-01", "universe.end=2022-12-31", "walk_forward.test_start=2022-07-01",
               "walk_forward.train_days=200", "walk_forward.val_days=30", "walk_forward.test_days=40",
               "features.factors=", "features.lookback=10", "model.hidden_size=8", "model.max_epochs=1",
               "model.baselines=lightgbm", "report.audit_symbols=8", "report.audit_cuts=2022-07-28",
               "execution.threads=1")
    md, _ = build.load_market(cfg)
    out = pipeline.run_audit(md, cfg)
    assert not out.passed, out.text
    bad = out.details[~out.details["passed"]]
    assert set(bad["check"]) == {"predictions"}  # the features and labels are honest
    assert all(str(e).startswith("lightgbm ") for e in bad["example"])
    assert "predictions of lstm, lightgbm rerun" in out.text


@pytest.mark.slow
def test_audit_of_a_small_quiet_universe_finishes_and_says_which_days_it_covered(tmp_path):
    """The command of the report that stopped with 'zero-size array to reduction operation maximum'."""
    out = tmp_path / "runs"
    proc = subprocess.run(
        [sys.executable, "-m", "backtests.run", "--symbols", QUIET, "--start", "2021-01-01", "--end", "2023-12-31",
         "--test-start", "2023-01-01", "--set", "walk_forward.train_days=242", "--set", "walk_forward.val_days=40",
         "--set", "model.max_epochs=1", "--audit", "--out", str(out), "-q"],
        capture_output=True, text=True, cwd=ROOT, timeout=900)
    assert proc.returncode == 0, proc.stderr[-3000:]
    (run,) = list(out.iterdir())
    m = json.loads((run / "metrics.json").read_text())
    assert m["audit_passed"] is True
    assert re.search(r"cut dates from \d{4}-\d\d-\d\d to 2023-12-28 .*test span 2023-01-03\.\.2023-12-29 to its end",
                     m["audit"]), m["audit"]


@pytest.fixture(scope="module")
def leaky_run(tmp_path_factory):
    """A run that lets look-ahead through (allow_leakage with no embargo) and whose audit stops on
    an error (planted): the run folder is still written."""
    def broken_audit(*_a, **_k):
        raise ValueError("planted failure of the audit")

    cfg = _cfg(f"universe.symbols={QUIET}", "universe.start=2021-01-01", "universe.end=2023-12-31",
               "walk_forward.test_start=2023-07-03", "walk_forward.train_days=242", "walk_forward.val_days=40",
               "walk_forward.embargo_days=0", "walk_forward.allow_leakage=true", "model.max_epochs=1",
               "model.hidden_size=8", "features.factors=", "report.audit=true", "execution.threads=1",
               "evaluation.bootstrap_reps=200", "output.checkpoints=false",
               f"output.runs_dir={tmp_path_factory.mktemp('runs')}")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "run_audit", broken_audit)
        folder = pipeline.run(cfg, progress=False)
    return folder, json.loads((folder / "metrics.json").read_text()), (folder / "tearsheet.html").read_text()


def test_an_audit_that_stops_keeps_the_finished_run(leaky_run):
    folder, m, page = leaky_run
    assert folder.is_dir() and (folder / "predictions.parquet").is_file() and (folder / "audit.csv").is_file()
    assert m["audit_passed"] is False
    assert m["audit"].startswith("LEAKAGE AUDIT DID NOT FINISH") and "planted failure of the audit" in m["audit"]
    assert "LEAKAGE AUDIT DID NOT FINISH" in m["verdict"]


def test_allowed_look_ahead_leads_the_tearsheet_and_metrics(leaky_run):
    _, m, page = leaky_run
    # the one alarm leads the warnings; after it only what the small universe makes of the money figures
    assert m["warnings"][0].startswith("LOOK-AHEAD ALLOWED")
    assert all(w.startswith("small universe") for w in m["warnings"][1:])
    assert "walk_forward.embargo_days = 0" in m["warnings"][0]
    assert m["verdict"].startswith("LOOK-AHEAD ALLOWED")
    section = page[page.index('<div id="accuracy-vs-returns">'):]
    first = re.search(r"<p [^>]*>", section)
    assert first is not None and 'id="alarm-0"' in first.group(0)
    assert section.index('id="alarm-0"') < section.index('id="verdict"')
    title = re.search(r"<title>(.*?)</title>", page).group(1)
    assert title.startswith("LOOK-AHEAD ALLOWED - LEAKAGE AUDIT DID NOT FINISH - ")

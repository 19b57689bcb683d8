"""One run: data -> walk-forward signals -> A-share backtests -> (audit) -> run folder.

:func:`run` is the one place that wires the layers together; the command line
(:mod:`backtests.run`) and the sweep (:mod:`backtests.sweep`) both call it. Everything it calls
is usable on its own from a research script (see ``examples/``).
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pandas as pd

import data_store
import signals
from core.resources import Timings
from signals.execution.ray_executor import RayExecutor

from . import build, runfolder
from .config import RunConfig
from .evidence import tradeoff
from .evidence.outcomes import backtest_models, margin_over_lightgbm
from .outputs import AuditOutcome, reference_for, write_outputs
from .runfolder import RunFolder

__all__ = ["run", "run_audit"]

log = logging.getLogger("backtests.run")


def run(cfg: RunConfig, market: tuple[data_store.MarketData, int] | None = None, *, progress: bool = True) -> Path:
    """Run the whole pipeline for ``cfg`` and return the finished run folder.

    ``market``: the :func:`backtests.build.load_market` result when the caller already has it (a
    sweep loads the data once for all its points). ``progress``: progress bars (off in workers and
    with ``--quiet``). Raises :class:`signals.IncompleteRunError` (and writes no run folder) when a
    walk-forward window failed for good, :class:`~backtests.runfolder.RunFolderError` at once when
    the output folder cannot be written. A failed leakage audit is a finding, not an error: the
    folder is written and its metrics say so (``audit_passed``)."""
    runfolder.check_writable(cfg.output.runs_dir)
    runfolder.report_stale(cfg.output.runs_dir)
    total = 5 if cfg.report.audit else 4
    timings = Timings()
    t_start = time.perf_counter()
    with timings.stage("data", 1, total):
        md, ppy = market if market is not None else build.load_market(cfg)
        log.info("      %d symbols, %s..%s, %d trading days", len(md.symbols), md.start.date(), md.end.date(),
                 len(md.calendar))
    # every object built from the config is made, and the windows laid out, before the run
    # folder exists, so a bad value writes nothing
    executor = build.window_executor(cfg)
    estimator = build.estimator(cfg, executor.threads)
    windows = list(cfg.walk_forward.split(md.calendar, cfg.labels))
    log.info("      %d walk-forward windows, tests %s..%s", len(windows),
             windows[0].test_start.date(), windows[-1].test_end.date())
    scfg = build.strategy_config(cfg)
    baselines = build.baselines(cfg)
    if isinstance(executor, RayExecutor):
        executor.ray()  # start or join Ray before the run folder exists: a bad address writes nothing
    with RunFolder(cfg.output.runs_dir, cfg.run_name) as rf:
        with timings.stage("signals (walk-forward)", 2, total):
            sig = signals.run_walk_forward(
                md, features=cfg.features, labels=cfg.labels, splitter=cfg.walk_forward, estimator=estimator,
                model_name=cfg.model.kind, baselines=baselines, executor=executor, progress=progress,
                checkpoint_dir=rf.path("checkpoints") if cfg.output.checkpoints else None)
            sig.save(rf.tmp)
        preds, wm = sig.predictions, sig.window_metrics
        with timings.stage("backtests", 3, total):
            outcomes = backtest_models(md, preds, wm, [cfg.model.kind, *baselines], build.traded_models(cfg), scfg,
                                       cfg.costs, cfg.strategy.initial_cash, ppy, progress=progress)
            main = outcomes[cfg.model.kind]
            if main.backtest is not None:  # the main model's frontier and capacity
                ref = reference_for(cfg, md, main.backtest.returns.index).returns
                main.tradeoff = tradeoff.for_outcome(md, main, scfg, cfg.costs, cfg.strategy.initial_cash, ppy, ref,
                                                     cfg.tradeoff, cfg.evaluation.confidence)
        audit = None
        margin = margin_over_lightgbm(outcomes, cfg.model.kind)
        if margin:
            log.info("      %s", margin)
        if cfg.report.audit:
            with timings.stage("leakage audit", 4, total):
                try:
                    audit = run_audit(md, cfg, estimator)
                except Exception as exc:  # a bug of the audit must not throw the finished run away
                    log.exception("the leakage audit stopped")
                    audit = AuditOutcome(passed=False, finished=False, text=(
                        f"DID NOT FINISH ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
                        "nothing shows that the predictions are free of look-ahead; the traceback is in the log"))
            audit.details.to_csv(rf.path("audit.csv"), index=False, float_format="%.6g")
            if not audit.passed:
                log.warning("LEAKAGE AUDIT FAILED: %s", audit.text)
        with timings.stage("report", total, total):
            write_outputs(rf, cfg, md, sig, outcomes, ppy, audit, timings, t_start)
    log.info("run folder: %s", rf.final)
    return rf.final


def run_audit(md: data_store.MarketData, cfg: RunConfig, estimator: object | None = None) -> AuditOutcome:
    """The leakage audit of ``cfg`` on the ``report.audit_symbols`` most often tradable names, at
    ``report.audit_cuts`` (default: a cut in every window), of every model the run reports (the
    model and its baselines); the estimator keeps the run's threads."""
    start = pd.Timestamp(cfg.walk_forward.test_start)
    counts = md.tradable_mask().loc[start:].sum()
    syms = sorted(counts.nlargest(cfg.report.audit_symbols).index)
    rep = signals.leakage_audit(md.slice(symbols=syms), features=cfg.features, labels=cfg.labels,
                                splitter=cfg.walk_forward, estimator=estimator or signals.build_model(cfg.model),
                                baselines=build.baselines(cfg), model_name=cfg.model.kind,
                                cut_dates=cfg.report.cut_dates)
    return AuditOutcome(passed=rep.passed, text=f"{'PASSED' if rep.passed else 'FAILED'} on {len(syms)} symbols: "
                        f"{rep.message}", details=rep.details)

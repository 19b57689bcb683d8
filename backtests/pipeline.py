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
from core.errors import ConfigError
from core.resources import Timings
from signals.execution.ray_executor import RayExecutor

from . import build, runfolder
from .config import RunConfig
from .evidence import tradeoff
from .evidence.outcomes import backtest_models, margin_over_lightgbm
from .evidence.styles import StyleContext, add_style_baselines, apply_neutral_scores, style_context
from .lifecycle import checkpoint
from .outputs import AuditOutcome, reference_for, write_outputs
from .runfolder import RunFolder

__all__ = ["MIN_CROSS_SECTION", "run", "run_audit"]

#: the fewest tradable names a day (median over the test days) a run measures styles on
MIN_CROSS_SECTION = 30

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
    styles = run_styles(cfg, md)  # a bad style name or table is refused here, before the run folder exists
    if isinstance(executor, RayExecutor):
        executor.ray()  # start or join Ray before the run folder exists: a bad address writes nothing
    with RunFolder(cfg.output.runs_dir, cfg.run_name) as rf:
        with timings.stage("signals (walk-forward)", 2, total):
            sig = signals.run_walk_forward(
                md, features=cfg.features, labels=cfg.labels, splitter=cfg.walk_forward, estimator=estimator,
                model_name=cfg.model.kind, baselines=baselines, executor=executor, progress=progress,
                checkpoint_dir=rf.path("checkpoints") if cfg.output.checkpoints else None)
            sig.save(rf.tmp)
        checkpoint()  # a signal swallowed by a library during the stage stops the run here
        preds, wm = sig.predictions, sig.window_metrics
        with timings.stage("backtests", 3, total):
            preds, wm, style_models = with_styles(cfg, styles, preds, wm, cfg.model.kind)
            outcomes = backtest_models(md, preds, wm, [cfg.model.kind, *baselines, *style_models],
                                       build.traded_models(cfg) + style_traded(cfg, style_models), scfg, cfg.costs,
                                       cfg.strategy.initial_cash, ppy, progress=progress,
                                       net_only=tuple(style_models), workers=cfg.strategy.backtest_workers)
            main = outcomes[cfg.model.kind]
            if main.backtest is not None:  # the main model's frontier and capacity
                ref = reference_for(cfg, md, main.backtest.returns.index).returns
                main.tradeoff = tradeoff.for_outcome(md, main, scfg, cfg.costs, cfg.strategy.initial_cash, ppy, ref,
                                                     cfg.tradeoff, cfg.evaluation.confidence,
                                                     None if styles is None else styles.factors)
        checkpoint()
        audit = None
        margin = margin_over_lightgbm(outcomes, cfg.model.kind)
        if margin:
            log.info("      %s", margin)
        if cfg.report.audit:
            with timings.stage("leakage audit", 4, total):
                try:
                    audit = run_audit(md, cfg, estimator, styles)
                except Exception as exc:  # a bug of the audit must not throw the finished run away
                    log.exception("the leakage audit stopped")
                    audit = AuditOutcome(passed=False, finished=False, text=(
                        f"DID NOT FINISH ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}): "
                        "nothing shows that the predictions are free of look-ahead; the traceback is in the log"))
            audit.details.to_csv(rf.path("audit.csv"), index=False, float_format="%.6g")
            if not audit.passed:
                log.warning("LEAKAGE AUDIT FAILED: %s", audit.text)
        checkpoint()
        with timings.stage("report", total, total):
            write_outputs(rf, cfg, md, sig, outcomes, ppy, audit, timings, t_start, styles=styles)
        checkpoint()  # the last chance before the folder is committed
    log.info("run folder: %s", rf.final)
    return rf.final


def run_styles(cfg: RunConfig, md: data_store.MarketData) -> StyleContext | None:
    """The run's styles (:func:`backtests.evidence.styles.style_context`), None for a study of fewer
    than :data:`MIN_CROSS_SECTION` tradable names a day (a single stock, a small basket: too few to
    regress on the styles; the verdict then keeps the index-only rule). Refuses neutral-score
    styles the run lacks."""
    if len(cfg.universe.symbols) == 1:
        return None
    tradable = md.tradable_mask()
    names = float(tradable.loc[tradable.index >= pd.Timestamp(cfg.walk_forward.test_start)].sum(axis=1).median())
    if names < MIN_CROSS_SECTION:
        if cfg.styles.neutral_scores:
            raise ConfigError(f"styles.neutral_scores needs a cross-section of at least {MIN_CROSS_SECTION} stocks a "
                              f"day, the universe has {names:.0f}: leave it empty or give more symbols")
        log.info("      no style evidence: %.0f tradable names a day, the styles need %d", names, MIN_CROSS_SECTION)
        return None
    ctx = style_context(md, cfg.styles, cfg.walk_forward.test_start, held=cfg.strategy.topk.k)
    if cfg.styles.neutral_scores:
        ctx.panel.subset(list(cfg.styles.neutral_scores))
    return ctx


def with_styles(cfg: RunConfig, styles: StyleContext | None, preds: pd.DataFrame, wm: pd.DataFrame,
                main: str) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """The predictions the backtests trade: the main model's scores made style-neutral when
    ``styles.neutral_scores`` asks (its window metrics recomputed), and the style baselines added
    when ``styles.baselines`` (returns the names of those models)."""
    if styles is None:
        return preds, wm, []
    if cfg.styles.neutral_scores:
        names = list(cfg.styles.neutral_scores)
        log.info("      %s's scores made neutral to %s before the strategy ranks them", main, ", ".join(names))
        preds, wm = apply_neutral_scores(preds, wm, main, styles.panel, names)
    if not cfg.styles.baselines:
        return preds, wm, []
    return add_style_baselines(preds, wm, styles, main)


def style_traded(cfg: RunConfig, style_models: list[str]) -> list[str]:
    """The style baselines that are traded (all of them, unless baselines are not traded at all)."""
    return list(style_models) if cfg.strategy.baseline_backtests else []


def run_audit(md: data_store.MarketData, cfg: RunConfig, estimator: object | None = None,
              styles: StyleContext | None = None) -> AuditOutcome:
    """The leakage audit of ``cfg`` on the ``report.audit_symbols`` most often tradable names, at
    ``report.audit_cuts`` (default: a cut in every window), of every model the run reports (the
    model and its baselines); the estimator keeps the run's threads. The run's library styles (and
    the neutralisation on them) are audited too; the columns of a user's ``styles.table`` are fixed
    before the run and cannot be."""
    start = pd.Timestamp(cfg.walk_forward.test_start)
    counts = md.tradable_mask().loc[start:].sum()
    syms = sorted(counts.nlargest(cfg.report.audit_symbols).index)
    names = [s.name for s in styles.panel.styles if s.needs not in ("table", "function")] if styles else []
    rep = signals.leakage_audit(md.slice(symbols=syms), features=cfg.features, labels=cfg.labels,
                                splitter=cfg.walk_forward, estimator=estimator or signals.build_model(cfg.model),
                                baselines=build.baselines(cfg), model_name=cfg.model.kind,
                                cut_dates=cfg.report.cut_dates, styles=names)
    return AuditOutcome(passed=rep.passed, text=f"{'PASSED' if rep.passed else 'FAILED'} on {len(syms)} symbols: "
                        f"{rep.message}", details=rep.details)

"""The latest window: the run's configuration laid out to end on the decision day, and its fit.

:func:`predict_config` turns a run's :class:`~backtests.config.RunConfig` into the configuration of
one prediction: the data end on the decision day, and the walk-forward windows are the run's own
layout (``signals.WalkForwardSplit``: the same train, validation and test lengths, step and embargo)
placed so that the last window tests the decision day alone and the ``record`` windows before it
end the day before. The last window's validation span ends on the last day whose label is complete
before the decision day, as in every window of a run (the embargo: a label of day t reads the open
of t + 1 + horizon). :func:`fit_latest` fits them all with the run's walk-forward
(:func:`signals.run_walk_forward`), and :func:`latest_scores` reads the decision day's scores.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

import data_store
from core.errors import ConfigError, ToolkitError

from .. import build
from ..config import RunConfig

if TYPE_CHECKING:  # torch: loaded when the fit starts, after the data and the days are checked
    from signals.walk_forward import WalkForwardResult

__all__ = ["earlier_scores", "fit_latest", "latest_scores", "predict_config"]

log = logging.getLogger("backtests.predict")


def predict_config(cfg: RunConfig, calendar: pd.DatetimeIndex, decision: pd.Timestamp, record: int) -> RunConfig:
    """``cfg`` for a prediction decided after the close of ``decision`` with ``record`` walk-forward
    windows before it (``calendar``: the data's trading days). Raises ConfigError, with the numbers,
    when the data from ``universe.start`` are too short for the windows."""
    wf = cfg.walk_forward
    cal = pd.DatetimeIndex(calendar)
    cal = cal[cal >= cfg.universe.start]
    if decision not in cal:
        raise ConfigError(f"universe.start = {cfg.universe.start.date()} is after the decision day {decision.date()}: "
                          "start the data earlier (--start)")
    pos = int(cal.get_loc(decision))
    emb = wf.embargo_for(cfg.labels)
    before = wf.train_days + wf.val_days + 2 * emb
    first = pos - record * wf.step
    if first < before:
        raise ConfigError(
            f"predicting after {decision.date()} with --record {record} needs {before + record * wf.step} trading "
            f"days of data from universe.start = {cfg.universe.start.date()} (train_days {wf.train_days} + val_days "
            f"{wf.val_days} + 2 x embargo {emb}, plus {record} x {wf.step} for the record windows) but there are "
            f"{pos}: start the data earlier (--start) or lower --record")
    report = cfg.report
    if report.audit and not report.audit_cuts:
        if record < 1:
            raise ConfigError("--audit reruns windows tested before the decision day with the data after a cut "
                              "changed: it needs --record 1 or more (or cut dates: --set report.audit_cuts=...)")
        mids = [cal[first + k * wf.step + (wf.test_days - 1) // 2] for k in range(record)]
        report = dataclasses.replace(report, audit_cuts=tuple(str(d.date()) for d in mids if d < decision))
    return dataclasses.replace(
        cfg, universe=dataclasses.replace(cfg.universe, end=decision),
        walk_forward=dataclasses.replace(wf, test_start=cal[first], test_end=decision), report=report)


def fit_latest(cfg: RunConfig, md: data_store.MarketData, *, progress: bool,
               checkpoint_dir: Path | None) -> WalkForwardResult:
    """The run's walk-forward over ``cfg``'s windows (the record windows, then the decision day's)."""
    import signals
    from signals.execution.ray_executor import RayExecutor

    executor = build.window_executor(cfg)
    estimator = build.estimator(cfg, executor.threads)
    if isinstance(executor, RayExecutor):
        executor.ray()
    return signals.run_walk_forward(
        md, features=cfg.features, labels=cfg.labels, splitter=cfg.walk_forward, estimator=estimator,
        model_name=cfg.model.kind, baselines=build.baselines(cfg), executor=executor, progress=progress,
        checkpoint_dir=checkpoint_dir)


def latest_scores(sig: WalkForwardResult, model: str, decision: pd.Timestamp) -> tuple[pd.Series, dict[str, Any]]:
    """The decision day's ``p_up`` by symbol from the last window, and that window's fit facts.

    Raises :class:`~core.errors.ToolkitError` when the day has no tradable member, and a
    :class:`signals.LookaheadError` should the window's fitted labels reach the decision day (the
    splitter's embargo makes that impossible; the check keeps it so)."""
    from signals.errors import LookaheadError

    last = max(w.index for w in sig.windows)
    p = sig.predictions
    day = p[(p["window"] == last) & (p["model"] == model) & (p["date"] == decision)]
    if day.empty:
        raise ToolkitError(f"no tradable CSI-300 member on {decision.date()} in the configured universe: nothing to "
                           "score (a day without trading, or symbols all suspended)")
    wm = sig.window_metrics
    row = wm[(wm["window"] == last) & (wm["model"] == model)].iloc[0]
    fit_end = pd.Timestamp(row["fit_label_end"])
    if fit_end >= decision:
        raise LookaheadError(f"the window that scores {decision.date()} was fitted on labels ending {fit_end.date()}: "
                             "not before the decision day")
    w = sig.windows[last]
    facts = {"window": last, "train": [str(w.train_start.date()), str(w.train_end.date())],
             "validation": [str(w.val_start.date()), str(w.val_end.date())], "fit_label_end": str(fit_end.date()),
             "embargo_days": w.embargo, "train_samples": int(row.get("train_samples", 0)),
             "best_epoch": row.get("best_epoch")}
    return day.set_index("symbol")["p_up"].astype(float), facts


def earlier_scores(predictions: pd.DataFrame, model: str, decision: pd.Timestamp) -> pd.DataFrame:
    """``date, symbol, p_up`` of ``model`` before the decision day (the record windows' out-of-sample
    scores): the history TopK's score smoothing and cost-aware slope read, as a backtest reads its
    earlier days (:func:`backtests.predict.plan.plan_next_session`)."""
    p = predictions[(predictions["model"] == model) & (predictions["date"] < pd.Timestamp(decision))]
    return p[["date", "symbol", "p_up"]].reset_index(drop=True)

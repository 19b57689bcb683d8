"""The numbers of a run's report: what each model produced, pooled and by window.

:func:`backtest_models` trades each model's predictions twice, after every cost and gross (the same
strategy without costs); :func:`summarise` computes the figures the tearsheet and ``metrics.json``
show from the run's tables (window metrics, returns, the backtest summaries), so the two cannot
disagree. A run and ``python -m backtests.evaluate`` both call them.
"""

from __future__ import annotations

import logging
import sys
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

import data_store
import strategies
from signals.metrics import best_constant_accuracy, pooled
from strategies.result import BacktestResult
from strategies.rules import CostModel
from strategies.targets import ThresholdConfig, TopKConfig

from . import analysis as an

__all__ = ["GROSS_COSTS", "MODEL_LABELS", "ModelOutcome", "backtest_models", "label", "margin_over_lightgbm",
           "summarise", "with_figures"]

log = logging.getLogger("backtests.run")

#: the costs of a gross backtest: none at all (same rules otherwise: lots, T+1, limits, suspension,
#: the default participation cap); a run's gross twin is its own ``costs.gross()``
GROSS_COSTS = CostModel().gross()

MODEL_LABELS = {
    "lstm": "LSTM", "gru": "GRU", "attention": "Attention-LSTM", "logistic": "Logistic",
    "always_up": "Always-up", "yesterday": "Yesterday's direction", "lightgbm": "LightGBM",
    "index": "Buy-and-hold CSI-300",
}

#: per-window prediction metrics pooled over windows (sample-weighted)
POOLED = ("accuracy", "balanced_accuracy", "roc_auc", "ic", "rank_ic", "base_rate", "log_loss", "brier")
WINDOW_COLUMNS = ["window", "test_start", "test_end", "n", "accuracy", "balanced_accuracy", "roc_auc", "ic",
                  "base_rate", "best_constant_accuracy"]
#: backtest figures carried into a model's row
BACKTEST_KEYS = ("fees", "commission", "stamp_duty", "turnover", "annual_turnover", "trades", "rejected")


def label(model: str) -> str:
    """The display name of a model (``lstm`` -> ``LSTM``; a style's baseline ``style_volatility`` ->
    ``Style: low volatility``)."""
    if model in MODEL_LABELS:
        return MODEL_LABELS[model]
    if str(model).startswith("style_"):
        from signals.styles.library import STYLES

        name = str(model)[len("style_"):]
        return f"Style: {STYLES[name].title if name in STYLES else name}"
    return model


@dataclass
class ModelOutcome:
    """What one model produced: its window metrics, its predictions (``date, symbol, p_up, label,
    ret``) and, when traded, its backtest after costs and the same strategy without costs (gross)."""

    model: str
    window_metrics: pd.DataFrame
    backtest: BacktestResult | None = None
    summary: dict[str, Any] = field(default_factory=dict)
    predictions: pd.DataFrame | None = None
    gross: BacktestResult | None = None
    tradeoff: Any = None  # backtests.evidence.tradeoff.Tradeoff of the main model, when measured

    def attach(self, res: BacktestResult, periods_per_year: int, gross: BacktestResult | None = None) -> None:
        """Take a backtest (its summary annualised on ``periods_per_year``) and its gross twin."""
        self.backtest, self.summary, self.gross = res, res.summary(periods_per_year), gross

    @property
    def returns(self) -> pd.Series | None:
        return None if self.backtest is None else self.backtest.returns


def backtest_models(md: data_store.MarketData, predictions: pd.DataFrame, window_metrics: pd.DataFrame,
                    models: list[str], traded: list[str], strategy: TopKConfig | ThresholdConfig, costs: CostModel,
                    initial_cash: float, periods_per_year: int, *, progress: bool = True,
                    net_only: tuple[str, ...] = (), workers: int = 1) -> dict[str, ModelOutcome]:
    """Each model's outcome, in the order of ``models``: its rows of ``predictions`` (a table with a
    ``model`` column) and ``window_metrics``; each model in ``traded`` is backtested with ``costs``
    and again with ``costs.gross()`` (same strategy, same rules and fill limits, no costs; the
    cost-aware swap rule still weighs ``costs``, so both make the same decisions), except those in
    ``net_only`` (the style baselines: after costs only). ``workers`` > 1 runs the backtests in that
    many processes (:func:`run_backtests`; the results are the same)."""
    out: dict[str, ModelOutcome] = {}
    #: (key, table, costs, the costs its decisions weigh: None = its own)
    jobs: list[tuple[str, pd.DataFrame, CostModel, CostModel | None]] = []
    for model in models:
        rows = predictions.loc[predictions["model"] == model]
        out[model] = ModelOutcome(model=model, window_metrics=window_metrics[window_metrics["model"] == model],
                                  predictions=rows[["date", "symbol", "p_up", "label", "ret"]].reset_index(drop=True))
        if model in traded:
            table = rows[["date", "symbol", "p_up"]].reset_index(drop=True)
            jobs.append((f"{model}\tnet", table, costs, None))
            if model not in net_only:
                jobs.append((f"{model}\tgross", table, costs.gross(), costs))
    if jobs:
        log.info("      %d backtests (%s)%s", len(jobs), ", ".join(label(m) for m in traded),
                 f" on {min(workers, len(jobs))} processes" if workers > 1 else "")
    done = run_backtests(md, jobs, strategy, initial_cash, periods_per_year, workers=workers, progress=progress)
    for model in traded:
        out[model].attach(done[f"{model}\tnet"], periods_per_year, done.get(f"{model}\tgross"))
    return out


#: the market data of a backtest worker process (set once per process by :func:`_init_worker`)
_WORKER_MD: data_store.MarketData | None = None


def _init_worker(md: data_store.MarketData) -> None:
    global _WORKER_MD
    _WORKER_MD = md
    logging.getLogger().setLevel(logging.WARNING)


def _one_backtest(job: tuple[str, pd.DataFrame, CostModel, CostModel | None], strategy: TopKConfig | ThresholdConfig,
                  cash: float, ppy: int, md: data_store.MarketData | None = None,
                  progress: bool = False) -> BacktestResult:
    data = md if md is not None else _WORKER_MD
    assert data is not None
    _, table, costs, decision_costs = job
    return strategies.run_backtest(data, table, strategy=strategy, costs=costs, initial_cash=cash, progress=progress,
                                   periods_per_year=ppy, decision_costs=decision_costs)


def run_backtests(md: data_store.MarketData, jobs: list[tuple[str, pd.DataFrame, CostModel, CostModel | None]],
                  strategy: TopKConfig | ThresholdConfig, initial_cash: float, periods_per_year: int, *,
                  workers: int = 1, progress: bool = True) -> dict[str, BacktestResult]:
    """``strategies.run_backtest`` of each ``(key, table, costs, decision_costs)`` job, by key. With ``workers`` > 1
    and more than one job they run in that many worker processes, the longest tables first; a
    backtest is deterministic, so the results are those of one process.

    On Linux the workers are forked (they inherit the market data; they run only Backtrader, numpy
    and pandas, never torch, so the training threads of this process do not matter to them, and a
    script that calls a run needs no ``if __name__ == "__main__"`` guard); elsewhere they are
    spawned, which needs that guard in a script, and each receives the market data once."""
    if workers <= 1 or len(jobs) <= 1:
        return {job[0]: _one_backtest(job, strategy, initial_cash, periods_per_year, md, progress) for job in jobs}
    import dataclasses
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    order = sorted(jobs, key=lambda j: -len(j[1]))
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    ctx = multiprocessing.get_context(method)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=ctx, initializer=_init_worker,
                             initargs=(md if method == "fork" else dataclasses.replace(md, _memo={}),)) as pool:
        futures = {j[0]: pool.submit(_one_backtest, j, strategy, initial_cash, periods_per_year) for j in order}
        return {job[0]: futures[job[0]].result() for job in jobs}


def margin_over_lightgbm(outcomes: dict[str, ModelOutcome], main: str) -> str | None:
    """One sentence: did the main model's IC and rank IC beat the LightGBM baseline's (same windows
    and samples)? None when LightGBM was not fitted."""
    if "lightgbm" not in outcomes or main not in outcomes or main == "lightgbm":
        return None
    a, b = outcomes[main].window_metrics, outcomes["lightgbm"].window_metrics
    ic, ric = pooled(a, "ic") - pooled(b, "ic"), pooled(a, "rank_ic") - pooled(b, "rank_ic")
    won = "beat" if ic > 0 and ric > 0 else "did not beat" if ic <= 0 and ric <= 0 else "split with"
    return (f"{label(main)} {won} the LightGBM baseline on the same samples: IC {pooled(a, 'ic'):.4f} vs "
            f"{pooled(b, 'ic'):.4f} ({ic:+.4f}), rank IC {pooled(a, 'rank_ic'):.4f} vs {pooled(b, 'rank_ic'):.4f} "
            f"({ric:+.4f}).")


def summarise(outcomes: dict[str, ModelOutcome], benchmark: pd.Series, calendar: pd.DatetimeIndex,
              periods_per_year: int, passive: dict[str, pd.Series] | None = None,
              reference_model: str = "index") -> tuple[pd.DataFrame, pd.DataFrame]:
    """(per-model summary, per-window table) for every model, the ``benchmark`` held without costs
    (its row named ``reference_model``: ``index`` for the CSI-300, ``Buy-and-hold SH600519`` in a
    single-stock study) and any other ``passive`` return series; excess returns are over the
    ``benchmark``."""
    model_rows, window_rows = [], []
    bench_days = None
    for name, oc in outcomes.items():
        wm = oc.window_metrics.sort_values("window")
        row: dict[str, Any] = {"model": name, **{c: pooled(wm, c) for c in POOLED}, "n": int(wm["n"].sum())}
        # the best constant guess over the whole sample is one constant: always-up or always-down
        row["best_constant_accuracy"] = best_constant_accuracy(row["base_rate"])
        per_win = wm[WINDOW_COLUMNS].copy()
        per_win.insert(0, "model", name)
        if oc.returns is not None and len(oc.returns):
            row.update(an.performance(oc.returns, benchmark, periods_per_year))
            wr = an.window_returns(oc.returns, benchmark, wm[["window", "test_start", "test_end"]], calendar)
            per_win = per_win.merge(wr, on="window", how="left")
            row.update({k: oc.summary[k] for k in BACKTEST_KEYS if k in oc.summary})
            bench_days = oc.returns.index if bench_days is None else bench_days
        model_rows.append(row)
        window_rows.append(per_win)
    if bench_days is not None:
        b = benchmark.reindex(bench_days).fillna(0.0)
        model_rows.append({"model": reference_model, **an.performance(b, benchmark, periods_per_year),
                           "annual_excess_return": 0.0})
        for name, ret in (passive or {}).items():
            model_rows.append({"model": name,
                               **an.performance(ret.reindex(bench_days).fillna(0.0), benchmark, periods_per_year)})
    return pd.DataFrame(model_rows), pd.concat(window_rows, ignore_index=True)


def with_figures(models: pd.DataFrame, figures: dict[str, dict[str, float]]) -> pd.DataFrame:
    """:func:`summarise`'s per-model table with each model's evidence (``figures``, from
    :func:`backtests.evidence.assess.assess`) in its row: what the verdict reads. Existing columns
    are overwritten, new ones joined at once (not one by one); models without figures get NaN."""
    if not figures:
        return models
    fig = pd.DataFrame.from_dict(figures, orient="index")
    rows = models["model"].map({m: i for i, m in enumerate(fig.index)})
    have = rows.notna().to_numpy()
    pos = rows[have].astype(int).to_numpy()
    models = models.copy()
    for key in [c for c in fig.columns if c in models.columns]:
        models.loc[have, key] = fig[key].to_numpy()[pos]
    new = [c for c in fig.columns if c not in models.columns]
    extra = pd.DataFrame(np.nan, index=models.index, columns=new, dtype=object)
    extra.loc[have, new] = fig[new].to_numpy()[pos]
    return pd.concat([models, extra.infer_objects()], axis=1)

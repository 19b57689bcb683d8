"""Walk-forward training and out-of-sample prediction over a (point-in-time) universe."""

from __future__ import annotations

import contextlib
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from core.atomic import atomic_write
from core.errors import ToolkitError
from data_store.market import MarketData

from .errors import ConfigError
from .execution.local import LocalExecutor
from .execution.ray_executor import RayExecutor
from .execution.runtime import is_cpu_estimator, local_threads, pin_threads, resolve_device
from .inputs.features import FeatureConfig
from .inputs.labels import LabelConfig
from .inputs.prepared import Prepared, prepare
from .inputs.scaling import SequenceScaler
from .models.config import BASELINES, DEFAULT_BASELINES
from .models.registry import model_name as default_model_name
from .models.sequence import LSTMClassifier
from .split import WalkForwardSplit, Window
from .window import WindowJob, WindowOutput, fit_predict_window, window_memory_mb

__all__ = ["IncompleteRunError", "PRED_COLUMNS", "WalkForwardResult", "WindowFailure", "combine_results",
           "run_walk_forward"]

log = logging.getLogger(__name__)

PRED_COLUMNS = ["date", "symbol", "p_up", "label", "ret", "target", "window", "model"]
_PRED_DTYPES = ["datetime64[ns]", object, float, float, float, float, np.int64, object]


@dataclass
class WalkForwardResult:
    """Out-of-sample predictions of every model and window, and per-window metrics.

    ``predictions``: one row per (date, symbol, model) for every test day on which the stock is a
    point-in-time member and tradable: ``date`` (decision day t: uses data up to the close of t; the
    trade fills at the open of t+1), ``symbol``, ``p_up`` (the probability of the target's event),
    ``label`` (1/0: did the traded return rise; NaN when unknown), ``ret`` (the traded open-to-open
    return, whatever the target), ``target`` (the training target's value), ``window``, ``model``.
    ``window_metrics``: one row per (window, model) with the window's dates, the metrics of
    :func:`signals.metrics.classification_metrics` and fit information.
    ``info``: channels, model, baselines and the executor that ran the windows."""

    predictions: pd.DataFrame
    window_metrics: pd.DataFrame
    windows: list[Window]
    device: str = "cpu"
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Metrics per model, pooled over windows (sample-weighted means)."""
        from .metrics import pooled

        cols = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier", "ic", "rank_ic", "base_rate",
                "best_constant_accuracy"]
        rows = []
        for model, g in self.window_metrics.groupby("model", sort=False):
            rows.append({"model": model, "windows": len(g), "n": int(g["n"].sum()),
                         **{c: pooled(g, c) for c in cols}})
        return pd.DataFrame(rows).set_index("model")

    def save(self, folder: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``predictions.parquet`` and ``window_metrics.csv`` into ``folder``, each atomically
        (a temporary file in the same folder, then a rename): a reader never sees half a file."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = {"predictions": folder / "predictions.parquet", "window_metrics": folder / "window_metrics.csv"}
        atomic_write(out["predictions"], lambda p: self.predictions.to_parquet(p, index=False))
        atomic_write(out["window_metrics"], lambda p: self.window_metrics.to_csv(p, index=False, float_format="%.10g"))
        return out


@dataclass(frozen=True)
class WindowFailure:
    """A window that failed for good: its index, its description (dates), the error, the attempts."""

    window: int
    name: str
    error: str
    attempts: int

    def __str__(self) -> str:
        return f"{self.name}: {self.error} (after {self.attempts} attempt{'s' if self.attempts != 1 else ''})"


class IncompleteRunError(ToolkitError, RuntimeError):
    """Some windows failed after their retries: the walk-forward result is incomplete.

    ``failures``: the :class:`WindowFailure` of each failed window; ``partial``: the result of the
    windows that finished (in window order), or None when none did."""

    def __init__(self, failures: Sequence[WindowFailure], partial: WalkForwardResult | None, total: int) -> None:
        self.failures = list(failures)
        self.partial = partial
        lines = "\n".join(f"  - {f}" for f in self.failures)
        super().__init__(
            f"the walk-forward run is incomplete: {len(self.failures)} of {total} windows failed after their "
            f"retries:\n{lines}\nNo result covers those windows; fix the cause (or raise max_retries for a "
            "flaky cluster) and run again")


def _write_bytes(path: Path, data: bytes) -> None:
    def write(p: Path) -> None:
        p.write_bytes(data)

    atomic_write(path, write)


def _window_task(shared: tuple[Prepared, WindowJob], window: Window) -> WindowOutput:
    prepared, job = shared
    return fit_predict_window(prepared, window, job)


def combine_results(outputs: Sequence[WindowOutput], windows: list[Window], device: str, seconds: float,
                    info: dict[str, Any]) -> WalkForwardResult:
    """One result from per-window outputs, in window order."""
    outs = sorted(outputs, key=lambda o: o.window)
    preds = [o.predictions for o in outs if o.predictions is not None]
    if preds:
        pred = pd.concat(preds, ignore_index=True)[PRED_COLUMNS]
        pred["symbol"] = pred["symbol"].astype(str)
        pred["window"] = pred["window"].astype(np.int64)
    else:
        pred = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(PRED_COLUMNS, _PRED_DTYPES, strict=True)})
    wm = pd.DataFrame([m for o in outs for m in o.metrics])
    return WalkForwardResult(predictions=pred, window_metrics=wm, windows=windows, device=device, seconds=seconds,
                             info=info)


def run_walk_forward(md: MarketData, features: FeatureConfig | None = None, labels: LabelConfig | None = None,
                     splitter: WalkForwardSplit | None = None, estimator: Any = None,
                     model_name: str | None = None, baselines: Sequence[str] = DEFAULT_BASELINES,
                     symbols: Sequence[str] | None = None, checkpoint_dir: str | os.PathLike[str] | None = None,
                     progress: bool = True, scaler: SequenceScaler | None = None,
                     only_windows: Sequence[int] | None = None, prepared: Prepared | None = None,
                     executor: LocalExecutor | RayExecutor | None = None) -> WalkForwardResult:
    """Train ``estimator`` (and the baselines) in every walk-forward window and predict its test span.

    Per window (:func:`signals.window.fit_predict_window`): the scaler is fitted on the window's
    training rows only; the estimator (a fresh ``sklearn.base.clone``) is fitted on the training
    rows with early stopping on the validation rows; every model predicts every test row
    (point-in-time member and tradable on the day). The windows run on ``executor`` (default: one
    after the other in this process; ``LocalExecutor(workers=N)``: N worker processes at once,
    which needs the ``if __name__ == "__main__":`` guard in a script); the result is the same on
    any executor.

    Args:
        md: :class:`data_store.MarketData` (its calendar and symbols define the grid).
        features: the inputs (:class:`FeatureConfig`).
        labels: the target (:class:`LabelConfig`).
        splitter: the windows (:class:`WalkForwardSplit`).
        estimator: a sequence classifier (default ``LSTMClassifier()``) or a :class:`LogisticBaseline`.
        model_name: the ``model`` value of its rows (default from the class: lstm, gru, attention, ...).
        baselines: any of ``"logistic", "always_up", "yesterday"``, fitted on the same samples.
        symbols: restrict to these symbols (default: all symbols of ``md``).
        checkpoint_dir: write ``window_XXX_<model>.pt`` per window (state dict, hyperparameters,
            scaler; load with :func:`signals.load_checkpoint`, which uses ``weights_only=True``).
        progress: tqdm bars (windows, and epochs inside a window).
        scaler: the per-window scaler template (default standard scaling, clip 10).
        only_windows: run just these window indices (the leakage audit uses it).
        prepared: precomputed :func:`signals.prepare` output for ``md`` (to share it between runs).
        executor: a :class:`signals.execution.local.LocalExecutor` (default: one process) or ``RayExecutor``.

    Raises :class:`IncompleteRunError` when a window still fails after its retries (the other
    windows are finished first and their result rides on the error, ``.partial``); an error of this
    toolkit inside a window (too few samples, ...) is raised as it is.
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    splitter = splitter or WalkForwardSplit()
    executor = executor or LocalExecutor()
    estimator = pin_threads(estimator if estimator is not None else LSTMClassifier())
    name = model_name or default_model_name(estimator)
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise ConfigError(f"baselines {bad} unknown: choose from {list(BASELINES)}")
    if symbols is not None:
        md = md.slice(symbols=list(symbols))
    if prepared is None:
        t0 = time.perf_counter()
        prepared = prepare(md, features, labels)
        log.info("features and labels for %d days x %d symbols in %.1f s", len(prepared.calendar),
                 len(prepared.symbols), time.perf_counter() - t0)
    else:
        prepared.check_matches(md, features, labels)
    windows = list(splitter.split(prepared.calendar, labels))
    run_ids = [w.index for w in windows] if only_windows is None else sorted(set(only_windows))
    unknown = [i for i in run_ids if i >= len(windows) or i < 0]
    if unknown:
        raise ConfigError(f"only_windows {unknown} out of range: the split has windows 0..{len(windows) - 1}")
    torch_model = hasattr(estimator, "device") and hasattr(estimator, "num_threads")
    device = str(resolve_device(estimator.device)) if torch_model else "cpu"
    if torch_model:
        log.info("training %s on %s%s", name, device,
                 f" with {estimator.num_threads} thread(s)" if is_cpu_estimator(estimator) else "")
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)
    job = WindowJob(features=prepared.features, labels=prepared.label_config, splitter=splitter, estimator=estimator,
                    model_name=name, baselines=tuple(b for b in baselines if b != name), scaler=scaler,
                    progress=progress and executor.in_process, checkpoints=ckpt is not None)
    outputs: list[WindowOutput] = []
    failures: list[WindowFailure] = []
    bar = tqdm(total=len(run_ids), desc=f"walk-forward {name}", unit="window",
               disable=None if progress else True)  # None: off when stderr is no terminal
    task_mb = max(window_memory_mb(prepared, windows[k], splitter) for k in run_ids) if run_ids else None
    results = executor.map(_window_task, [windows[k] for k in run_ids], shared=(prepared.portable(), job),
                           keys=run_ids, name=lambda k: str(windows[k]), threads=local_threads(estimator),
                           device=str(getattr(estimator, "device", "cpu")), task_mb=task_mb)
    with contextlib.closing(results), bar:
        for r in results:
            bar.update(1)
            if not r.ok:
                failures.append(WindowFailure(r.key, str(windows[r.key]), r.error or "unknown error", r.attempts))
                log.error("%s failed for good after %d attempt(s): %s", windows[r.key], r.attempts, r.error)
                continue
            out: WindowOutput = r.value
            log.log(logging.WARNING if out.predictions is None else logging.INFO, "%s", out.message)
            if ckpt is not None:
                for fname, data in out.checkpoints.items():
                    _write_bytes(ckpt / fname, data)
            out.checkpoints = {}
            outputs.append(out)
    secs = time.perf_counter() - t_start
    info = {"channels": list(features.channels), "model": name, "baselines": list(job.baselines),
            "executor": executor.describe()}
    result = combine_results(outputs, windows, device, secs, info)
    if failures:
        failures.sort(key=lambda f: f.window)
        raise IncompleteRunError(failures, result if outputs else None, len(run_ids))
    log.info("walk-forward %s: %d windows, %d predictions in %.1f s", name, len(run_ids), len(result.predictions), secs)
    return result

"""Walk-forward training and out-of-sample prediction over a (point-in-time) universe."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from sklearn.base import clone

from data_store.atomic import atomic_write

from .baselines import BASELINES, LogisticBaseline, make_baseline
from .errors import ConfigError
from .features import FeatureConfig, FeaturePanel, build_feature_panel
from .labels import LabelConfig, Labels, make_labels
from .metrics import classification_metrics
from .models import LSTMClassifier, _SequenceBase, default_threads, resolve_device
from .scaling import SequenceScaler
from .split import WalkForwardSplit, Window

__all__ = ["run_walk_forward", "WalkForwardResult", "prepare", "Prepared", "load_checkpoint"]

log = logging.getLogger(__name__)

PRED_COLUMNS = ["date", "symbol", "p_up", "label", "ret", "window", "model"]


@dataclass
class WalkForwardResult:
    """Out-of-sample predictions of every model and window, and per-window metrics.

    ``predictions``: one row per (date, symbol, model) for every test day on which the stock is a
    point-in-time member and tradable: ``date`` (decision day t: uses data up to the close of t; the
    trade fills at the open of t+1), ``symbol``, ``p_up``, ``label`` (1/0, NaN when unknown),
    ``ret`` (the realised return the label is the sign of), ``window``, ``model``.
    ``window_metrics``: one row per (window, model) with the window's dates, the metrics of
    :func:`signals.metrics.classification_metrics` and fit information."""

    predictions: pd.DataFrame
    window_metrics: pd.DataFrame
    windows: list[Window]
    device: str = "cpu"
    seconds: float = 0.0
    info: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> pd.DataFrame:
        """Metrics per model, pooled over windows (sample-weighted means)."""
        wm = self.window_metrics
        cols = ["accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier", "ic", "rank_ic", "base_rate",
                "always_up_accuracy"]
        rows = []
        for model, g in wm.groupby("model", sort=False):
            w = g["n"].to_numpy(float)
            row = {"model": model, "windows": len(g), "n": int(w.sum())}
            for c in cols:
                v = g[c].to_numpy(float)
                ok = np.isfinite(v) & (w > 0)
                row[c] = float((v[ok] * w[ok]).sum() / w[ok].sum()) if ok.any() else float("nan")
            rows.append(row)
        return pd.DataFrame(rows).set_index("model")

    def save(self, folder: str | os.PathLike[str]) -> dict[str, Path]:
        """Write ``predictions.parquet`` and ``window_metrics.csv`` into ``folder``, each atomically
        (a temporary file in the same folder, then a rename): a reader never sees half a file."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        out = {"predictions": folder / "predictions.parquet", "window_metrics": folder / "window_metrics.csv"}
        _atomic(out["predictions"], lambda p: self.predictions.to_parquet(p, index=False))
        _atomic(out["window_metrics"], lambda p: self.window_metrics.to_csv(p, index=False, float_format="%.10g"))
        return out


def _atomic(path: Path, write: Any) -> None:
    atomic_write(path, lambda p: write(str(p)))


@dataclass
class Prepared:
    """Feature panel, labels and eligibility of one MarketData (reusable across models)."""

    panel: FeaturePanel
    labels: Labels
    eligible: np.ndarray
    calendar: pd.DatetimeIndex
    symbols: list[str]
    label_config: LabelConfig = field(default_factory=LabelConfig)


def prepare(md: Any, features: FeatureConfig | None = None, labels: LabelConfig | None = None) -> Prepared:
    """Build the per-day feature channels, the labels and the eligibility mask (member AND tradable)."""
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    panel = build_feature_panel(md, features)
    io = md.index["open"].to_numpy(dtype=float) if labels.excess else None
    lab = make_labels(md.panel("open", adjusted=True), md.panel("volume"), labels, index_open=io)
    eligible = md.tradable_mask().to_numpy(dtype=bool)
    return Prepared(panel=panel, labels=lab, eligible=eligible, calendar=md.calendar, symbols=list(md.symbols),
                    label_config=labels)


def pin_threads(estimator: Any) -> Any:
    """A clone of a CPU sequence estimator with ``num_threads`` resolved now (see
    :func:`signals.models.default_threads`), so that all windows train alike; others unchanged."""
    if isinstance(estimator, _SequenceBase) and estimator.num_threads is None \
            and resolve_device(estimator.device).type == "cpu":
        return clone(estimator).set_params(num_threads=default_threads())
    return estimator


def _model_name(est: Any) -> str:
    if isinstance(est, LogisticBaseline):
        return "logistic"
    return getattr(est, "_kind", type(est).__name__.lower())


def run_walk_forward(md: Any, features: FeatureConfig | None = None, labels: LabelConfig | None = None,
                     splitter: WalkForwardSplit | None = None, estimator: Any = None,
                     model_name: str | None = None, baselines: Sequence[str] = BASELINES,
                     symbols: Sequence[str] | None = None, checkpoint_dir: str | os.PathLike[str] | None = None,
                     progress: bool = True, scaler: SequenceScaler | None = None,
                     only_windows: Sequence[int] | None = None, prepared: Prepared | None = None) -> WalkForwardResult:
    """Train ``estimator`` (and the baselines) in every walk-forward window and predict its test span.

    Per window: the scaler is fitted on the window's training rows only; the estimator (a fresh
    ``sklearn.base.clone``) is fitted on the training rows with early stopping on the validation
    rows; every model predicts every test row (point-in-time member and tradable on the day).

    Args:
        md: :class:`data_store.MarketData` (its calendar and symbols define the grid).
        features, labels, splitter: the configuration (see their classes).
        estimator: a sequence classifier (default ``LSTMClassifier()``) or a :class:`LogisticBaseline`.
        model_name: the ``model`` value of its rows (default from the class: lstm, gru, attention, ...).
        baselines: any of ``"logistic", "always_up", "yesterday"``, fitted on the same samples.
        symbols: restrict to these symbols (default: all symbols of ``md``).
        checkpoint_dir: write ``window_XXX_<model>.pt`` per window (state dict, hyperparameters,
            scaler; load with :func:`load_checkpoint`, which uses ``torch.load(weights_only=True)``).
        progress: tqdm bars (windows, and epochs inside a window).
        scaler: the per-window scaler template (default standard scaling, clip 10).
        only_windows: run just these window indices (the leakage audit uses it).
        prepared: precomputed :func:`prepare` output for ``md`` (to share it between runs).
    """
    from tqdm.auto import tqdm

    t_start = time.perf_counter()
    features = features or FeatureConfig()
    labels = labels or LabelConfig()
    splitter = splitter or WalkForwardSplit()
    if estimator is None:
        estimator = LSTMClassifier()
    name = model_name or _model_name(estimator)
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise ConfigError(f"baselines {bad} unknown: choose from {list(BASELINES)}")
    baselines = [b for b in baselines if b != name]
    if symbols is not None:
        md = md.slice(symbols=list(symbols))
    if prepared is None:
        t0 = time.perf_counter()
        prepared = prepare(md, features, labels)
        log.info("features and labels for %d days x %d symbols in %.1f s", len(prepared.calendar),
                 len(prepared.symbols), time.perf_counter() - t0)
    elif (prepared.panel.config != features or prepared.label_config != labels
          or prepared.symbols != list(md.symbols) or not prepared.calendar.equals(md.calendar)):
        raise ConfigError("prepared= was built for other data or settings than md/features/labels; build it with "
                          "prepare(md, features, labels) for exactly these arguments, or leave it out")
    windows = list(splitter.split(prepared.calendar, labels.horizon))
    run_ids = [w.index for w in windows] if only_windows is None else sorted(set(only_windows))
    unknown = [i for i in run_ids if i >= len(windows) or i < 0]
    if unknown:
        raise ConfigError(f"only_windows {unknown} out of range: the split has windows 0..{len(windows) - 1}")
    estimator = pin_threads(estimator)
    device = str(resolve_device(getattr(estimator, "device", "cpu"))) if isinstance(estimator, _SequenceBase) else "cpu"
    if isinstance(estimator, _SequenceBase):
        log.info("training %s on %s%s", name, device,
                 f" with {estimator.num_threads} thread(s)" if device == "cpu" else "")
    label_known = np.isfinite(prepared.labels.label)
    cal = prepared.calendar
    syms = np.asarray(prepared.symbols, dtype=object)
    ckpt = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt is not None:
        ckpt.mkdir(parents=True, exist_ok=True)
    preds: list[pd.DataFrame] = []
    rows_m: list[dict[str, Any]] = []
    end_off = prepared.labels.end_offset
    bar = tqdm([windows[i] for i in run_ids], desc=f"walk-forward {name}", unit="window",
               disable=None if progress else True)  # None: off when stderr is no terminal
    for w in bar:
        rows = splitter.rows(w, prepared.eligible, label_known)
        n_tr, n_va, n_te = len(rows.train[0]), len(rows.val[0]), len(rows.test[0])
        if n_te == 0:
            log.warning("%s: no tradable member day in the test span; skipped", w)
            continue
        if n_tr == 0 or n_va == 0:
            raise ConfigError(f"{w}: {n_tr} training and {n_va} validation samples; the window cannot be fitted "
                              "(too few symbols or days): widen train_days/val_days or add symbols")
        t0 = time.perf_counter()
        Xtr_raw = prepared.panel.samples(*rows.train)
        Xva_raw = prepared.panel.samples(*rows.val)
        Xte_raw = prepared.panel.samples(*rows.test)
        ytr = prepared.labels.label[rows.train]
        yva = prepared.labels.label[rows.val]
        sc = SequenceScaler(scaler.method, scaler.clip) if scaler is not None else SequenceScaler()
        sc.fit(Xtr_raw)
        # training and validation tensors are scaled in place (they are the big ones); the raw test
        # tensor is kept for the baselines that read raw values (yesterday's direction)
        Xtr, Xva, Xte = sc.transform(Xtr_raw, copy=False), sc.transform(Xva_raw, copy=False), sc.transform(Xte_raw)
        t_feat = time.perf_counter() - t0
        # the last label end (calendar position) of any sample used in fitting: the audit checks it
        fit_end = int(max(rows.train[0].max(), rows.val[0].max())) + end_off
        fit_label_end = cal[fit_end] if fit_end < len(cal) else cal[-1] + pd.offsets.BDay(fit_end - len(cal) + 1)
        te_d, te_s = rows.test
        base = pd.DataFrame({"date": cal[te_d], "symbol": syms[te_s],
                             "label": prepared.labels.label[te_d, te_s], "ret": prepared.labels.ret[te_d, te_s]})
        models: list[tuple[str, Any]] = [(name, clone(estimator))] + [(b, make_baseline(b, getattr(estimator, "seed", 0)))
                                                                     for b in baselines]
        for mname, model in models:
            t1 = time.perf_counter()
            scaled = getattr(model, "needs_scaling", True)
            # the raw-reading baselines are fitted without looking at X (always-up, yesterday)
            fit_X, val_X, test_X = (Xtr, Xva, Xte) if scaled else (Xtr, Xva, Xte_raw)
            if isinstance(model, _SequenceBase):
                model.set_params(progress=progress)
            model.fit(fit_X, ytr, eval_set=(val_X, yva))
            p = model.predict_proba(test_X)[:, 1].astype(np.float64)
            fit_s = time.perf_counter() - t1
            preds.append(base.assign(p_up=p, window=w.index, model=mname))
            met = classification_metrics(base["label"].to_numpy(), p, base["ret"].to_numpy(), te_d)
            info = {"train_samples": n_tr, "val_samples": n_va, "test_samples": n_te,
                    "epochs": getattr(model, "n_epochs_", np.nan), "best_epoch": getattr(model, "best_epoch_", np.nan),
                    "best_val_loss": getattr(model, "best_val_loss_", np.nan), "fit_seconds": round(fit_s, 3),
                    "feature_seconds": round(t_feat, 3), "fit_label_end": fit_label_end}
            rows_m.append({**w.as_dict(), "model": mname, **met, **info})
            if ckpt is not None and isinstance(model, _SequenceBase):
                save_checkpoint(ckpt / f"window_{w.index:03d}_{mname}.pt", model, sc, w, features, labels)
        bar.set_postfix(train=n_tr, test=n_te)
        log.info("%s: %d train / %d val / %d test samples in %.1f s", w, n_tr, n_va, n_te, time.perf_counter() - t0)
        del Xtr_raw, Xva_raw, Xte_raw, Xtr, Xva, Xte
    if preds:
        pred = pd.concat(preds, ignore_index=True)[PRED_COLUMNS]
        pred["symbol"] = pred["symbol"].astype(str)
        pred["window"] = pred["window"].astype(np.int64)
    else:
        pred = pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(PRED_COLUMNS, ["datetime64[ns]", object, float, float,
                                                                                    float, np.int64, object], strict=True)})
    wm = pd.DataFrame(rows_m)
    secs = time.perf_counter() - t_start
    log.info("walk-forward %s: %d windows, %d predictions in %.1f s", name, len(run_ids), len(pred), secs)
    return WalkForwardResult(predictions=pred, window_metrics=wm, windows=windows, device=device, seconds=secs,
                             info={"channels": list(features.channels), "model": name, "baselines": list(baselines)})


# ----------------------------------------------------------------------------- checkpoints
def save_checkpoint(path: Path, model: _SequenceBase, scaler: SequenceScaler, window: Window,
                    features: FeatureConfig, labels: LabelConfig) -> None:
    """State dict + hyperparameters + the window's scaler, only tensors and plain values (so that
    ``torch.load(path, weights_only=True)`` reads it), written atomically."""
    st = {**model.checkpoint_state(), "scaler": scaler.state(),
          "window": {k: str(v.date()) if isinstance(v, pd.Timestamp) else v for k, v in window.as_dict().items()},
          "channels": list(features.channels), "lookback": features.lookback,
          "label_horizon": labels.horizon, "label_excess": labels.excess}
    _atomic(path, lambda p: torch.save(st, p))


def load_checkpoint(path: str | os.PathLike[str]) -> tuple[_SequenceBase, SequenceScaler, dict[str, Any]]:
    """Load a window checkpoint with ``torch.load(weights_only=True)``: (fitted estimator, fitted
    scaler, the rest: window dates, channels, label settings). Built-in classes only."""
    from . import models as M

    st = torch.load(path, map_location="cpu", weights_only=True)
    cls = {"LSTMClassifier": M.LSTMClassifier, "GRUClassifier": M.GRUClassifier,
           "AttentionLSTMClassifier": M.AttentionLSTMClassifier}.get(st["class"])
    if cls is None:
        raise ConfigError(f"checkpoint {path} holds a {st['class']}; rebuild that model yourself and call "
                          "load_checkpoint_state(torch.load(path, weights_only=True))")
    est = cls(**st["hyperparameters"]).load_checkpoint_state(st)
    rest = {k: v for k, v in st.items() if k not in ("state_dict", "scaler", "hyperparameters")}
    return est, SequenceScaler.from_state(st["scaler"]), rest

"""Causal sequence classifiers with scikit-learn's estimator contract.

``fit(X, y, eval_set=(X_val, y_val))`` takes X shaped (samples, lookback, channels) and binary y
(1 = up). Only unidirectional recurrent layers are allowed: a bidirectional RNN reads the window
backwards from its LAST step, so the representation of every step depends on later steps; for
sequences that end at the decision day that is harmless in theory, but the same module applied to
any sequence extending past the decision day (a centred window, a multi-step target, a stateful
rollout) reads the future, and it is the classic look-ahead of LSTM stock tutorials. The toolkit
refuses it outright, with :class:`LookaheadError`, both as a flag and inside a user module.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

import numpy as np
import torch
import torch.utils.deterministic
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from .errors import ConfigError, LookaheadError, NotFittedError

__all__ = ["LSTMClassifier", "GRUClassifier", "AttentionLSTMClassifier", "SequenceClassifier",
           "check_causal", "resolve_device", "default_threads", "train_network"]

log = logging.getLogger(__name__)


# ----------------------------------------------------------------------------- causality check
def check_causal(module: nn.Module, where: str = "the model") -> None:
    """Raise :class:`LookaheadError` if ``module`` contains a bidirectional recurrent layer."""
    for name, sub in module.named_modules():
        if isinstance(sub, nn.RNNBase) and sub.bidirectional:
            raise LookaheadError(
                f"{where} contains a bidirectional {type(sub).__name__} ({name or 'the module itself'}): its backward "
                "direction runs from the end of the sequence towards the start, so every step's output depends on "
                "LATER steps; on price sequences that is look-ahead (the future leaks into the signal). Use "
                "bidirectional=False (a unidirectional RNN reads only steps <= t)")


# ----------------------------------------------------------------------------- devices, threads
def cpu_cores() -> int:
    """Cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """A sensible CPU thread count for training: the cores this process may use, less the ones
    other processes keep busy (1-minute load average), at least 1.

    On a shared machine two OpenMP threads competing with other jobs for two cores are several
    times SLOWER than one thread (they spin-wait on each other); on an idle machine all cores are
    used. :func:`run_walk_forward` and :func:`leakage_audit` resolve this once per run and pin it, so
    that every window (and every audit rerun) trains with the same thread count and the same
    floating-point rounding."""
    cores = cpu_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; ``'cuda'`` without CUDA raises ConfigError."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device = {device!r} but CUDA is not available here; use device='auto' or 'cpu'")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ConfigError(f"device = {device!r} must be 'auto', 'cpu' or 'cuda[:n]'")
    return torch.device(device)


@contextlib.contextmanager
def _torch_session(seed: int, device: torch.device, threads: int | None) -> Iterator[None]:
    """Seeded, deterministic torch settings for one fit, restoring the caller's global state after."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    det_mod: Any = torch.utils.deterministic  # the attribute is missing from torch's stubs
    old_fill = det_mod.fill_uninitialized_memory
    devices = ([torch.cuda.current_device() if device.index is None else device.index]
               if device.type == "cuda" else [])
    try:
        if device.type == "cpu":
            torch.set_num_threads(threads or default_threads())
        torch.use_deterministic_algorithms(True, warn_only=True)
        # deterministic mode also NaN-fills every new uninitialised tensor, which costs ~25% of a
        # small LSTM's CPU step and changes no result: switched off
        det_mod.fill_uninitialized_memory = False
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        det_mod.fill_uninitialized_memory = old_fill


# ----------------------------------------------------------------------------- networks
class RecurrentNet(nn.Module):
    """Unidirectional LSTM/GRU over the window; the last step's output -> one logit."""

    def __init__(self, cell: str, n_features: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        rnn = nn.LSTM if cell == "lstm" else nn.GRU
        self.rnn = rnn(n_features, hidden_size, num_layers=num_layers, batch_first=True,
                       dropout=dropout if num_layers > 1 else 0.0, bidirectional=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(self.drop(out[:, -1])).squeeze(-1)


class AttentionLSTMNet(nn.Module):
    """Unidirectional LSTM; additive attention over its outputs at every step of the lookback
    window (all steps are <= the decision day), context + last output -> one logit."""

    def __init__(self, n_features: int, hidden_size: int, num_layers: int, dropout: float) -> None:
        super().__init__()
        self.rnn = nn.LSTM(n_features, hidden_size, num_layers=num_layers, batch_first=True,
                           dropout=dropout if num_layers > 1 else 0.0, bidirectional=False)
        self.proj = nn.Linear(hidden_size, hidden_size)
        self.score = nn.Linear(hidden_size, 1, bias=False)
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(2 * hidden_size, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)                                  # (n, L, h)
        w = torch.softmax(self.score(torch.tanh(self.proj(out))), dim=1)  # (n, L, 1)
        ctx = (w * out).sum(dim=1)
        return self.head(self.drop(torch.cat([ctx, out[:, -1]], dim=1))).squeeze(-1)


# ----------------------------------------------------------------------------- training loop
def train_network(net: nn.Module, X: torch.Tensor, y: torch.Tensor, X_val: torch.Tensor | None,
                  y_val: torch.Tensor | None, *, lr: float, batch_size: int, max_epochs: int, patience: int,
                  weight_decay: float, grad_clip: float, generator: torch.Generator,
                  progress: bool = False, desc: str = "fit") -> dict[str, Any]:
    """Mini-batch Adam on BCE-with-logits; early stopping on validation loss, best weights restored.

    Every sample is used every epoch (the last batch may be smaller). Returns the history."""
    from tqdm.auto import tqdm

    opt = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
    loss_fn = nn.BCEWithLogitsLoss()
    n = X.shape[0]
    history: list[dict[str, float]] = []
    best_loss, best_epoch, best_state, bad = math.inf, 0, None, 0
    bar = tqdm(range(1, max_epochs + 1), desc=desc, leave=False, disable=None if progress else True, unit="epoch")  # None: off when stderr is no terminal
    for epoch in bar:
        t_ep = time.perf_counter()
        net.train()
        perm = torch.randperm(n, generator=generator).to(X.device)
        total = 0.0
        for i in range(0, n, batch_size):
            idx = perm[i: i + batch_size]
            xb, yb = X[idx], y[idx]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xb), yb)
            loss.backward()
            if grad_clip and grad_clip > 0:
                nn.utils.clip_grad_norm_(net.parameters(), grad_clip)
            opt.step()
            total += loss.detach() * len(idx)
        rec = {"epoch": epoch, "train_loss": float(total) / n, "train_seconds": time.perf_counter() - t_ep}
        if X_val is not None and y_val is not None and len(X_val):
            t_val = time.perf_counter()
            rec["val_loss"] = evaluate_loss(net, X_val, y_val, batch_size=max(batch_size, 4096))
            rec["val_seconds"] = time.perf_counter() - t_val
            if rec["val_loss"] < best_loss - 1e-7:
                best_loss, best_epoch, bad = rec["val_loss"], epoch, 0
                best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
            else:
                bad += 1
        history.append(rec)
        bar.set_postfix({k: f"{v:.4f}" for k, v in rec.items() if k.endswith("loss")})
        if best_state is not None and bad > patience:
            break
    if best_state is not None:
        net.load_state_dict(best_state)
    else:
        best_epoch = len(history)
        best_loss = history[-1].get("val_loss", math.nan) if history else math.nan
    return {"history": history, "best_epoch": best_epoch, "best_val_loss": best_loss, "epochs_run": len(history)}


@torch.no_grad()
def evaluate_loss(net: nn.Module, X: torch.Tensor, y: torch.Tensor, batch_size: int = 8192) -> float:
    net.eval()
    tot = 0.0
    for i in range(0, X.shape[0], batch_size):
        tot += float(nn.functional.binary_cross_entropy_with_logits(net(X[i: i + batch_size]), y[i: i + batch_size],
                                                                    reduction="sum"))
    return tot / max(1, X.shape[0])


@torch.no_grad()
def predict_logits(net: nn.Module, X: torch.Tensor, batch_size: int = 8192) -> torch.Tensor:
    net.eval()
    return torch.cat([net(X[i: i + batch_size]) for i in range(0, X.shape[0], batch_size)]) if X.shape[0] else \
        torch.zeros(0, device=X.device)


# ----------------------------------------------------------------------------- estimators
def _check_xy(X: Any, y: Any = None) -> tuple[np.ndarray, np.ndarray | None]:
    X = np.asarray(X, dtype=np.float32)
    if X.ndim != 3:
        raise ConfigError(f"X must be shaped (samples, lookback, features); got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ConfigError("X contains NaN/inf: scale it first (SequenceScaler maps masked values to 0)")
    if y is None:
        return X, None
    y = np.asarray(y, dtype=np.float32).ravel()
    if len(y) != len(X):
        raise ConfigError(f"y has {len(y)} labels but X has {len(X)} samples")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ConfigError("y must be binary 0/1 (1 = up); drop unknown (NaN) labels before fitting")
    return X, y


class _SequenceBase(ClassifierMixin, BaseEstimator):
    """Shared fit/predict of the torch sequence classifiers (see the subclasses)."""

    _kind = "base"

    def __init__(self, hidden_size: int = 32, num_layers: int = 1, dropout: float = 0.0, bidirectional: bool = False,
                 lr: float = 1e-3, batch_size: int = 1024, max_epochs: int = 20, patience: int = 3,
                 weight_decay: float = 0.0, grad_clip: float = 1.0, device: str = "auto", seed: int = 0,
                 num_threads: int | None = None, progress: bool = False) -> None:
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.dropout = dropout
        self.bidirectional = bidirectional
        self.lr = lr
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.patience = patience
        self.weight_decay = weight_decay
        self.grad_clip = grad_clip
        self.device = device
        self.seed = seed
        self.num_threads = num_threads
        self.progress = progress
        if bidirectional:  # refuse as early as possible; fit checks again (set_params)
            self._refuse_bidirectional()

    def _refuse_bidirectional(self) -> None:
        raise LookaheadError(
            f"{type(self).__name__}(bidirectional=True) is refused: a bidirectional RNN also reads the sequence "
            "backwards from its last step, so each step's output depends on LATER steps; on price sequences that "
            "lets the future leak into the signal. Use bidirectional=False")

    def _validate(self) -> None:
        if self.bidirectional:
            self._refuse_bidirectional()
        checks = [("hidden_size", self.hidden_size, 1), ("num_layers", self.num_layers, 1),
                  ("batch_size", self.batch_size, 1), ("max_epochs", self.max_epochs, 1), ("patience", self.patience, 0)]
        for name, v, lo in checks:
            if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
                raise ConfigError(f"{type(self).__name__}.{name} = {v!r} must be an integer >= {lo}")
        if not 0.0 <= float(self.dropout) < 1.0:
            raise ConfigError(f"{type(self).__name__}.dropout = {self.dropout!r} must be in [0, 1)")
        if not float(self.lr) > 0:
            raise ConfigError(f"{type(self).__name__}.lr = {self.lr!r} must be > 0")
        if float(self.grad_clip) < 0 or float(self.weight_decay) < 0:
            raise ConfigError(f"{type(self).__name__}: grad_clip = {self.grad_clip!r} and weight_decay = "
                              f"{self.weight_decay!r} must be >= 0 (0 = off)")

    def _build(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """JSON/torch-safe parameters for checkpoints (callables and modules left out)."""
        return {k: v for k, v in self.get_params().items() if isinstance(v, (int, float, str, bool)) or v is None}

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None) -> _SequenceBase:
        """Fit on X (samples, lookback, features), y in {0, 1}; early-stop on ``eval_set``."""
        self._validate()
        X, y = _check_xy(X, y)
        Xv = yv = None
        if eval_set is not None:
            Xv, yv = _check_xy(*eval_set)
            if Xv.shape[1:] != X.shape[1:]:
                raise ConfigError(f"eval_set X has shape {Xv.shape[1:]} per sample but X has {X.shape[1:]}")
        dev = resolve_device(self.device)
        t0 = time.perf_counter()
        with _torch_session(int(self.seed), dev, self.num_threads):
            net = self._build(X.shape[2])
            check_causal(net, type(self).__name__)
            net = net.to(dev)
            gen = torch.Generator().manual_seed(int(self.seed))
            tX, ty = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
            tXv = torch.from_numpy(Xv).to(dev) if Xv is not None else None
            tyv = torch.from_numpy(yv).to(dev) if yv is not None else None
            info = train_network(net, tX, ty, tXv, tyv, lr=float(self.lr), batch_size=int(self.batch_size),
                                 max_epochs=int(self.max_epochs), patience=int(self.patience),
                                 weight_decay=float(self.weight_decay), grad_clip=float(self.grad_clip),
                                 generator=gen, progress=bool(self.progress), desc=type(self).__name__)
        self.net_ = net.eval()
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = int(X.shape[2])
        self.lookback_ = int(X.shape[1])
        self.device_ = str(dev)
        self.history_ = info["history"]
        self.best_epoch_ = info["best_epoch"]
        self.best_val_loss_ = info["best_val_loss"]
        self.n_epochs_ = info["epochs_run"]
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet: call fit(X, y) first")

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, 2) probabilities of down and up."""
        self._check_fitted()
        X, _ = _check_xy(X)
        if X.shape[2] != self.n_features_in_:
            raise ConfigError(f"X has {X.shape[2]} features but {type(self).__name__} was fitted on {self.n_features_in_}")
        dev = next(self.net_.parameters()).device
        threads = self.num_threads or default_threads()
        old = torch.get_num_threads()
        try:
            if dev.type == "cpu":
                torch.set_num_threads(threads)
            p = torch.sigmoid(predict_logits(self.net_, torch.from_numpy(X).to(dev))).double().cpu().numpy()
        finally:
            torch.set_num_threads(old)
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

    # checkpoints ---------------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """State dict + hyperparameters, loadable with ``torch.load(weights_only=True)``."""
        self._check_fitted()
        return {"kind": self._kind, "class": type(self).__name__, "hyperparameters": self.hyperparameters(),
                "n_features": self.n_features_in_, "lookback": self.lookback_,
                "state_dict": {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}}

    def load_checkpoint_state(self, st: dict[str, Any]) -> _SequenceBase:
        net = self._build(int(st["n_features"]))
        check_causal(net, type(self).__name__)
        net.load_state_dict(st["state_dict"])
        self.net_ = net.eval()
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = int(st["n_features"])
        self.lookback_ = int(st["lookback"])
        self.device_ = "cpu"
        return self


class LSTMClassifier(_SequenceBase):
    """Unidirectional (stacked when ``num_layers > 1``) LSTM; the last step's output -> P(up).

    Parameters: ``hidden_size``, ``num_layers``, ``dropout`` (between layers and before the head),
    ``lr``, ``batch_size``, ``max_epochs``, ``patience`` (epochs without a better validation loss
    before stopping), ``weight_decay``, ``grad_clip`` (max gradient norm, 0 = off), ``device``
    (``'auto'``/``'cpu'``/``'cuda'``), ``seed``, ``num_threads`` (CPU; None = cores available),
    ``progress``. ``bidirectional=True`` raises :class:`LookaheadError`."""

    _kind = "lstm"

    def _build(self, n_features: int) -> nn.Module:
        return RecurrentNet("lstm", n_features, int(self.hidden_size), int(self.num_layers), float(self.dropout))


class GRUClassifier(_SequenceBase):
    """Unidirectional GRU; same parameters as :class:`LSTMClassifier`."""

    _kind = "gru"

    def _build(self, n_features: int) -> nn.Module:
        return RecurrentNet("gru", n_features, int(self.hidden_size), int(self.num_layers), float(self.dropout))


class AttentionLSTMClassifier(_SequenceBase):
    """Unidirectional LSTM with attention over its outputs at every step of the lookback window;
    same parameters as :class:`LSTMClassifier`."""

    _kind = "attention"

    def _build(self, n_features: int) -> nn.Module:
        return AttentionLSTMNet(n_features, int(self.hidden_size), int(self.num_layers), float(self.dropout))


class SequenceClassifier(_SequenceBase):
    """Train a user-supplied network with the same loop.

    ``module`` is an ``nn.Module`` (deep-copied and re-initialised at each fit) or a callable
    ``n_features -> nn.Module``; it maps (batch, lookback, features) to one logit per sample.
    A module containing a bidirectional RNN raises :class:`LookaheadError` here and in ``fit``."""

    _kind = "custom"

    def __init__(self, module: nn.Module | Callable[[int], nn.Module] | None = None, lr: float = 1e-3,
                 batch_size: int = 1024, max_epochs: int = 20, patience: int = 3, weight_decay: float = 0.0,
                 grad_clip: float = 1.0, device: str = "auto", seed: int = 0, num_threads: int | None = None,
                 progress: bool = False) -> None:
        self.module = module
        super().__init__(lr=lr, batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                         weight_decay=weight_decay, grad_clip=grad_clip, device=device, seed=seed,
                         num_threads=num_threads, progress=progress)
        if isinstance(module, nn.Module):
            check_causal(module, "SequenceClassifier(module=...)")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("module", "lr", "batch_size", "max_epochs", "patience", "weight_decay",
                                               "grad_clip", "device", "seed", "num_threads", "progress")}

    def _validate(self) -> None:
        if self.module is None:
            raise ConfigError("SequenceClassifier(module=None): pass an nn.Module or a callable n_features -> nn.Module")
        super()._validate()

    def _build(self, n_features: int) -> nn.Module:
        if isinstance(self.module, nn.Module):
            net = copy.deepcopy(self.module)
            check_causal(net, "SequenceClassifier(module=...)")
            for m in net.modules():  # fresh, seeded initial weights at every fit
                reset = getattr(m, "reset_parameters", None)
                if m is not net and callable(reset):
                    reset()
            return net
        factory = cast(Callable[[int], Any], self.module)
        net = factory(n_features)
        if not isinstance(net, nn.Module):
            raise ConfigError(f"SequenceClassifier: module({n_features}) returned {type(net).__name__}, not an nn.Module")
        return net

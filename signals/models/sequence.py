"""Causal sequence classifiers with scikit-learn's estimator contract, and their configuration.

``fit(X, y, eval_set=(X_val, y_val))`` takes X shaped (samples, lookback, channels) and binary y
(1 = up). Only unidirectional recurrent layers are allowed: a bidirectional RNN reads the window
backwards from its LAST step, so the representation of every step depends on later steps; for
sequences that end at the decision day that is harmless in theory, but the same module applied to
any sequence extending past the decision day (a centred window, a multi-step target, a stateful
rollout) reads the future, and it is the classic look-ahead of LSTM stock tutorials. The toolkit
refuses it outright, with :class:`LookaheadError`, both as a flag and inside a user module.

:class:`ModelConfig` (:mod:`signals.models.config`, free of torch) is the one definition of the model
settings (range, meaning, default): the estimators take their defaults from it and check their
parameters against it, and the command line builds it from ``[model]``. The networks are in
:mod:`signals.models.networks`, the training loop in :mod:`signals.models.training`, threads and devices in
:mod:`signals.execution.runtime`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import Any, cast

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from torch import nn

from core.settings import check_field

from ..errors import ConfigError, LookaheadError, NotFittedError
from ..execution.runtime import inference_threads, resolve_device, torch_session
from .calibration import ScoredEnsemble, platt
from .config import ModelConfig
from .networks import AttentionLSTMNet, RecurrentNet, check_causal
from .tags import ModelTags
from .training import predict_logits, train_network

__all__ = ["AttentionLSTMClassifier", "GRUClassifier", "LSTMClassifier", "SequenceClassifier", "SequenceEstimator"]

_D = ModelConfig()
#: the estimator parameters that are ModelConfig settings (checked against it in ``fit``)
_CHECKED = frozenset(("hidden_size", "num_layers", "dropout", "lr", "batch_size", "max_epochs", "patience",
                      "weight_decay", "grad_clip", "device", "seed", "objective", "early_stop", "n_seeds"))


def _check_xy(X: Any, y: Any = None, binary: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
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
    if binary and not np.isin(y, (0.0, 1.0)).all():
        raise ConfigError("y must be binary 0/1 (1 = up) for objective 'bce'; drop unknown (NaN) labels before "
                          "fitting, or train a continuous target with objective 'mse' or 'ic'")
    if not np.isfinite(y).all():
        raise ConfigError("y contains NaN/inf: drop samples with an unknown target before fitting")
    return X, y


class SequenceEstimator(ClassifierMixin, BaseEstimator):
    """Shared fit/predict of the torch sequence classifiers (see the subclasses)."""

    _kind = "base"

    def __model_tags__(self) -> ModelTags:
        return ModelTags(name=self._kind, network=True)

    def __init__(self, hidden_size: int = _D.hidden_size, num_layers: int = _D.num_layers, dropout: float = _D.dropout,
                 bidirectional: bool = False, lr: float = _D.lr, batch_size: int = _D.batch_size,
                 max_epochs: int = _D.max_epochs, patience: int = _D.patience, weight_decay: float = _D.weight_decay,
                 grad_clip: float = _D.grad_clip, device: str = _D.device, seed: int = _D.seed,
                 num_threads: int | None = None, progress: bool = False, objective: str = _D.objective,
                 early_stop: str = _D.early_stop, n_seeds: int = _D.n_seeds) -> None:
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
        self.objective = objective
        self.early_stop = early_stop
        self.n_seeds = n_seeds
        if bidirectional:  # refuse as early as possible; fit checks again (set_params)
            self._refuse_bidirectional()

    def _refuse_bidirectional(self) -> None:
        raise LookaheadError(
            f"{type(self).__name__}(bidirectional=True) is refused: a bidirectional RNN also reads the sequence "
            "backwards from its last step, so each step's output depends on LATER steps; on price sequences that "
            "lets the future leak into the signal. Use bidirectional=False")

    def _validate(self) -> None:
        """Check every hyperparameter against its :class:`ModelConfig` setting (the one rule)."""
        if self.bidirectional:
            self._refuse_bidirectional()
        owner = type(self).__name__
        for name, value in self.get_params(deep=False).items():
            if name in _CHECKED:
                check_field(ModelConfig, name, value, owner)
        if self.num_threads is not None and (not isinstance(self.num_threads, (int, np.integer))
                                             or isinstance(self.num_threads, bool) or self.num_threads < 1):
            raise ConfigError(f"{owner}.num_threads = {self.num_threads!r} must be None (automatic) or an integer >= 1")

    def _build(self, n_features: int) -> nn.Module:
        raise NotImplementedError

    def hyperparameters(self) -> dict[str, Any]:
        """JSON/torch-safe parameters for checkpoints (callables and modules left out)."""
        return {k: v for k, v in self.get_params().items() if isinstance(v, (int, float, str, bool)) or v is None}

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None, *, groups: Any = None,
            eval_groups: Any = None, eval_returns: Any = None) -> SequenceEstimator:
        """Fit on X (samples, lookback, features) and the target y (0/1 for ``objective='bce'``,
        any finite values for ``mse``/``ic``); early-stop on ``eval_set``.

        ``groups`` / ``eval_groups``: the decision day of each training / validation sample (the
        ``ic`` objective's day batches, validation IC); ``eval_returns``: the validation rows'
        target return (early stopping on ``ic``/``rank_ic``; its sign is the event ``p_up`` is
        calibrated to; default: ``y`` of ``eval_set``)."""
        self._validate()
        binary = self.objective == "bce"
        X, y = _check_xy(X, y, binary)
        Xv = yv = None
        if eval_set is not None:
            Xv, yv = _check_xy(*eval_set, binary=binary)
            if Xv.shape[1:] != X.shape[1:]:
                raise ConfigError(f"eval_set X has shape {Xv.shape[1:]} per sample but X has {X.shape[1:]}")
        g = None if groups is None else np.asarray(groups)
        gv = None if eval_groups is None else np.asarray(eval_groups)
        rv = None if eval_returns is None else np.asarray(eval_returns, dtype=np.float64)
        if rv is None and yv is not None:
            rv = yv.astype(np.float64)
        if self.objective == "ic" and g is None:
            raise ConfigError("objective 'ic' needs the decision day of every training sample (groups=...)")
        if self.objective == "mse":  # standardised with the training rows only
            mu, sd = float(y.mean()), float(y.std()) or 1.0
            y = ((y - mu) / sd).astype(np.float32)
            yv = None if yv is None else ((yv - mu) / sd).astype(np.float32)
        dev = resolve_device(self.device)
        t0 = time.perf_counter()
        members, infos = [], []
        with torch_session(int(self.seed), dev, self.num_threads):
            tX, ty = torch.from_numpy(X).to(dev), torch.from_numpy(y).to(dev)
            tXv = torch.from_numpy(Xv).to(dev) if Xv is not None else None
            tyv = torch.from_numpy(yv).to(dev) if yv is not None else None
            for k in range(int(self.n_seeds)):
                seed = int(self.seed) + k
                torch.manual_seed(seed)
                net = self._build(X.shape[2])
                check_causal(net, type(self).__name__)
                net = net.to(dev)
                gen = torch.Generator().manual_seed(seed)
                infos.append(train_network(
                    net, tX, ty, tXv, tyv, lr=float(self.lr), batch_size=int(self.batch_size),
                    max_epochs=int(self.max_epochs), patience=int(self.patience),
                    weight_decay=float(self.weight_decay), grad_clip=float(self.grad_clip), generator=gen,
                    progress=bool(self.progress), desc=type(self).__name__, objective=self.objective, groups=g,
                    early_stop=self.early_stop, val_days=gv, val_returns=rv))
                members.append(net.eval())
            self.net_ = members[0] if binary and len(members) == 1 else self._ensemble(members, tX, tXv, y, rv)
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = int(X.shape[2])
        self.lookback_ = int(X.shape[1])
        self.device_ = str(dev)
        self.history_ = [dict(rec, member=k) for k, info in enumerate(infos) for rec in info["history"]] \
            if len(infos) > 1 else infos[0]["history"]
        self.best_epoch_ = float(np.mean([i["best_epoch"] for i in infos]))
        self.best_val_loss_ = float(np.mean([i["best_val_loss"] for i in infos]))
        self.n_epochs_ = float(np.mean([i["epochs_run"] for i in infos]))
        self.fit_seconds_ = time.perf_counter() - t0
        return self

    def _ensemble(self, members: list[nn.Module], tX: torch.Tensor, tXv: torch.Tensor | None, y: np.ndarray,
                  rv: np.ndarray | None) -> ScoredEnsemble:
        """The members as one calibrated scorer (:mod:`signals.models.calibration`): standardised on the
        validation rows (training rows without an eval set), Platt-calibrated unless BCE."""
        ref = tXv if tXv is not None and len(tXv) else tX
        event = (rv > 0).astype(np.float64) if tXv is not None and rv is not None else (y > 0).astype(np.float64)
        if self.objective == "bce":
            return ScoredEnsemble(members).eval()
        outs = [predict_logits(m, ref).double().cpu().numpy() for m in members]
        center = [float(o.mean()) for o in outs]
        scale = [float(o.std()) or 1.0 for o in outs]
        ens = ScoredEnsemble(members, center, scale).eval()  # calib (1, 0): the output is the score
        score = predict_logits(ens, ref).double().cpu().numpy()
        ens.set_calibration(*platt(score, event))
        return ens

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet: call fit(X, y) first")

    def predict_proba(self, X: Any) -> np.ndarray:
        """(n, 2) probabilities of down and up."""
        self._check_fitted()
        X, _ = _check_xy(X)
        if X.shape[2] != self.n_features_in_:
            raise ConfigError(f"X has {X.shape[2]} features but {type(self).__name__} was fitted on "
                              f"{self.n_features_in_}")
        dev = next(self.net_.parameters()).device
        with inference_threads(dev, self.num_threads):
            p = torch.sigmoid(predict_logits(self.net_, torch.from_numpy(X).to(dev))).double().cpu().numpy()
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

    # checkpoints ---------------------------------------------------------------------------------
    def checkpoint_state(self) -> dict[str, Any]:
        """State dict + hyperparameters, loadable with ``torch.load(weights_only=True)``."""
        self._check_fitted()
        return {"kind": self._kind, "class": type(self).__name__, "hyperparameters": self.hyperparameters(),
                "n_features": self.n_features_in_, "lookback": self.lookback_,
                "members": len(self.net_.members) if isinstance(self.net_, ScoredEnsemble) else 0,
                "state_dict": {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}}

    def load_checkpoint_state(self, st: dict[str, Any]) -> SequenceEstimator:
        k = int(st.get("members", 0))
        net = self._build(int(st["n_features"])) if k == 0 else \
            ScoredEnsemble([self._build(int(st["n_features"])) for _ in range(k)])
        check_causal(net, type(self).__name__)
        net.load_state_dict(st["state_dict"])
        self.net_ = net.eval()
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = int(st["n_features"])
        self.lookback_ = int(st["lookback"])
        self.device_ = "cpu"
        return self


class LSTMClassifier(SequenceEstimator):
    """Unidirectional (stacked when ``num_layers > 1``) LSTM; the last step's output -> P(up).

    Parameters: ``hidden_size``, ``num_layers``, ``dropout`` (between layers and before the head),
    ``lr``, ``batch_size``, ``max_epochs``, ``patience`` (epochs without a better validation loss
    before stopping), ``weight_decay``, ``grad_clip`` (max gradient norm, 0 = off), ``device``
    (``'auto'``/``'cpu'``/``'cuda'``), ``seed``, ``num_threads`` (CPU; None = the fixed default of
    :func:`signals.execution.runtime.default_threads`, 1), ``progress``. ``bidirectional=True``
    raises :class:`LookaheadError`."""

    _kind = "lstm"

    def _build(self, n_features: int) -> nn.Module:
        return RecurrentNet("lstm", n_features, int(self.hidden_size), int(self.num_layers), float(self.dropout))


class GRUClassifier(SequenceEstimator):
    """Unidirectional GRU; same parameters as :class:`LSTMClassifier`."""

    _kind = "gru"

    def _build(self, n_features: int) -> nn.Module:
        return RecurrentNet("gru", n_features, int(self.hidden_size), int(self.num_layers), float(self.dropout))


class AttentionLSTMClassifier(SequenceEstimator):
    """Unidirectional LSTM with attention over its outputs at every step of the lookback window;
    same parameters as :class:`LSTMClassifier`."""

    _kind = "attention"

    def _build(self, n_features: int) -> nn.Module:
        return AttentionLSTMNet(n_features, int(self.hidden_size), int(self.num_layers), float(self.dropout))


class SequenceClassifier(SequenceEstimator):
    """Train a user-supplied network with the same loop.

    ``module`` is an ``nn.Module`` (deep-copied and re-initialised at each fit) or a callable
    ``n_features -> nn.Module``; it maps (batch, lookback, features) to one logit per sample.
    A module containing a bidirectional RNN raises :class:`LookaheadError` here and in ``fit``."""

    _kind = "custom"

    def __init__(self, module: nn.Module | Callable[[int], nn.Module] | None = None, lr: float = _D.lr,
                 batch_size: int = _D.batch_size, max_epochs: int = _D.max_epochs, patience: int = _D.patience,
                 weight_decay: float = _D.weight_decay, grad_clip: float = _D.grad_clip, device: str = _D.device,
                 seed: int = _D.seed, num_threads: int | None = None, progress: bool = False,
                 objective: str = _D.objective, early_stop: str = _D.early_stop, n_seeds: int = _D.n_seeds) -> None:
        self.module = module
        super().__init__(lr=lr, batch_size=batch_size, max_epochs=max_epochs, patience=patience,
                         weight_decay=weight_decay, grad_clip=grad_clip, device=device, seed=seed,
                         num_threads=num_threads, progress=progress, objective=objective, early_stop=early_stop,
                         n_seeds=n_seeds)
        if isinstance(module, nn.Module):
            check_causal(module, "SequenceClassifier(module=...)")

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {k: getattr(self, k) for k in ("module", "lr", "batch_size", "max_epochs", "patience", "weight_decay",
                                               "grad_clip", "device", "seed", "num_threads", "progress", "objective",
                                               "early_stop", "n_seeds")}

    def _validate(self) -> None:
        if self.module is None:
            raise ConfigError("SequenceClassifier(module=None): pass an nn.Module or a callable "
                              "n_features -> nn.Module")
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
            raise ConfigError(f"SequenceClassifier: module({n_features}) returned {type(net).__name__}, "
                              "not an nn.Module")
        return net

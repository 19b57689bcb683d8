"""The strong non-recurrent baseline: LightGBM on the decision day's factors (tabular inputs).

It reads the same per-day channels as the sequence models (engineered features, the factor
library, extra features), but only their values on the decision day, unscaled (trees need no
scaling; NaN is LightGBM's "missing"). A binary target is fitted with the binary log loss and its
probability is ``p_up``; a continuous target with L2 regression, whose score is Platt-calibrated
on the validation rows (:func:`signals.models.calibration.platt`). Early stopping on the validation
rows' loss. Deterministic for a given thread count (``deterministic=True``, row-wise histograms).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from ..errors import ConfigError, NotFittedError
from .calibration import platt
from .tags import ModelTags

__all__ = ["LightGBMBaseline"]


class LightGBMBaseline(ClassifierMixin, BaseEstimator):
    """Gradient-boosted trees (LightGBM) on tabular X (samples, features).

    Parameters are LightGBM's (``n_estimators`` the most rounds, early stopping after
    ``early_stopping_rounds`` without a better validation loss); ``num_threads`` None = the
    process's default (:func:`signals.execution.runtime.default_threads`)."""

    def __model_tags__(self) -> ModelTags:
        return ModelTags(name="lightgbm", input="tabular", scaled_input=False)

    def __init__(self, n_estimators: int = 400, learning_rate: float = 0.05, num_leaves: int = 63,
                 min_child_samples: int = 200, subsample: float = 0.8, colsample_bytree: float = 0.8,
                 reg_lambda: float = 10.0, early_stopping_rounds: int = 40, seed: int = 0,
                 num_threads: int | None = None) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.early_stopping_rounds = early_stopping_rounds
        self.seed = seed
        self.num_threads = num_threads

    def _params(self, binary: bool) -> dict[str, Any]:
        from ..execution.runtime import default_threads

        return {"objective": "binary" if binary else "regression", "learning_rate": float(self.learning_rate),
                "num_leaves": int(self.num_leaves), "min_child_samples": int(self.min_child_samples),
                "subsample": float(self.subsample), "subsample_freq": 1,
                "colsample_bytree": float(self.colsample_bytree), "reg_lambda": float(self.reg_lambda),
                "seed": int(self.seed), "num_threads": int(self.num_threads or default_threads()),
                "deterministic": True, "force_row_wise": True, "verbosity": -1}

    def fit(self, X: Any, y: Any, eval_set: tuple[Any, Any] | None = None, *, groups: Any = None,
            eval_groups: Any = None, eval_returns: Any = None) -> LightGBMBaseline:
        """Fit on X (samples, features) and the target y; ``eval_set`` for early stopping and (for a
        continuous target) calibration to the sign of ``eval_returns`` (default: of its y)."""
        import lightgbm as lgb

        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ConfigError(f"LightGBMBaseline: X must be (samples, features), got shape {X.shape}")
        y = np.asarray(y, dtype=np.float64).ravel()
        if len(y) != len(X) or not np.isfinite(y).all():
            raise ConfigError("LightGBMBaseline: y must be finite with one value per sample")
        binary = bool(np.isin(y, (0.0, 1.0)).all())
        self.binary_ = binary
        params = self._params(binary)
        train = lgb.Dataset(X, y, free_raw_data=True)
        valid: list[Any] = []
        callbacks: list[Any] = []
        Xv = yv = None
        if eval_set is not None and len(eval_set[0]):
            Xv = np.asarray(eval_set[0], dtype=np.float32)
            yv = np.asarray(eval_set[1], dtype=np.float64).ravel()
            valid = [lgb.Dataset(Xv, yv, reference=train)]
            callbacks = [lgb.early_stopping(int(self.early_stopping_rounds), verbose=False)]
        self.booster_ = lgb.train(params, train, num_boost_round=int(self.n_estimators), valid_sets=valid,
                                  callbacks=callbacks)
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())
        self.n_epochs_ = self.best_iteration_
        self.calib_ = (1.0, 0.0)
        if not binary:
            ref, ret = (X, y) if Xv is None or yv is None else (Xv, yv)
            if Xv is not None and eval_returns is not None:
                ret = np.asarray(eval_returns, dtype=np.float64)
            self.calib_ = platt(self._score(ref), np.asarray(ret > 0, dtype=np.float64))
        self.classes_ = np.array([0, 1])
        self.n_features_in_ = int(X.shape[1])
        return self

    def _score(self, X: np.ndarray) -> np.ndarray:
        raw = not self.binary_
        return np.asarray(self.booster_.predict(X, num_iteration=self.best_iteration_, raw_score=raw),
                          dtype=np.float64)

    def predict_proba(self, X: Any) -> np.ndarray:
        if not hasattr(self, "booster_"):
            raise NotFittedError("LightGBMBaseline is not fitted yet: call fit(X, y) first")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise ConfigError(f"LightGBMBaseline was fitted on {self.n_features_in_} features, got shape {X.shape}")
        s = self._score(X)
        p = s if self.binary_ else 1.0 / (1.0 + np.exp(-(self.calib_[0] * s + self.calib_[1])))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

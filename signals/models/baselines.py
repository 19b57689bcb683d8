"""Baselines fitted and scored on exactly the same windows and samples as the sequence models."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.linear_model import LogisticRegression

from ..errors import ConfigError, NotFittedError
from .tags import ModelTags

__all__ = ["AlwaysUpBaseline", "LogisticBaseline", "YesterdayBaseline"]


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """scikit-learn logistic regression on the flattened (scaled) lookback window.

    The default solver is Newton-Cholesky: with a few hundred inputs and tens of thousands of rows
    it converges in a handful of iterations (lbfgs needs hundreds and is ~30x slower here).

    ``eval_set`` is accepted for a common signature and ignored (no early stopping). It reads the
    raw and engineered channels of the lookback window only (not the factor library: the
    tutorials' linear model) and is fitted on the binary event of any target."""

    def __model_tags__(self) -> ModelTags:
        # newton-cholesky is deterministic: the seed decides nothing (seeded=False)
        return ModelTags(name="logistic", linear_channels_only=True, event_target=True, seeded=False)

    def __init__(self, C: float = 1.0, solver: str = "newton-cholesky", max_iter: int = 100, seed: int = 0) -> None:
        self.C = C
        self.solver = solver
        self.max_iter = max_iter
        self.seed = seed

    def fit(self, X: Any, y: Any, eval_set: Any = None, **_: Any) -> LogisticBaseline:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 3:
            raise ConfigError(f"LogisticBaseline: X must be (samples, lookback, features), got shape {X.shape}")
        y = np.asarray(y).astype(int).ravel()
        self.model_ = LogisticRegression(C=self.C, solver=self.solver, max_iter=self.max_iter, random_state=self.seed)
        self.model_.fit(X.reshape(len(X), -1), y)
        self.classes_ = self.model_.classes_
        self.n_iter_ = int(np.max(self.model_.n_iter_))
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        if not hasattr(self, "model_"):
            raise NotFittedError("LogisticBaseline is not fitted yet: call fit(X, y) first")
        X = np.asarray(X, dtype=np.float32)
        p = self.model_.predict_proba(X.reshape(len(X), -1))
        if p.shape[1] == 1:  # trained on one class only
            only = p[:, 0]
            p = np.column_stack([1.0 - only, only]) if self.classes_[0] == 1 else np.column_stack([only, 1 - only])
        return p

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)


class AlwaysUpBaseline(ClassifierMixin, BaseEstimator):
    """Predicts "up" for every sample with certainty (p_up = 1): its accuracy is the share of up
    labels, the number any classifier must beat. AUC is 0.5 and IC undefined (constant forecast)."""

    def __model_tags__(self) -> ModelTags:
        return ModelTags(name="always_up", scaled_input=False, trains=False, seeded=False)

    def fit(self, X: Any, y: Any, eval_set: Any = None, **_: Any) -> AlwaysUpBaseline:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        if not hasattr(self, "classes_"):
            raise NotFittedError("AlwaysUpBaseline is not fitted yet: call fit(X, y) first")
        n = len(X)
        return np.column_stack([np.zeros(n), np.ones(n)])

    def predict(self, X: Any) -> np.ndarray:
        return np.ones(len(X), dtype=int)


class YesterdayBaseline(ClassifierMixin, BaseEstimator):
    """Persistence: predicts the direction of the decision day's own close-to-close move
    (adjusted close(t) / close(t-1)); p_up = 1 if it rose, 0 if it fell, 0.5 if flat or unknown.

    Reads the UNSCALED sample tensor: channel ``close_channel`` holds log(close / last close), so
    step L-2 is -log(close(t) / close(t-1))."""

    def __model_tags__(self) -> ModelTags:
        return ModelTags(name="yesterday", scaled_input=False, trains=False, seeded=False)

    def __init__(self, close_channel: int = 3) -> None:
        self.close_channel = close_channel

    def fit(self, X: Any, y: Any, eval_set: Any = None, **_: Any) -> YesterdayBaseline:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: Any) -> np.ndarray:
        if not hasattr(self, "classes_"):
            raise NotFittedError("YesterdayBaseline is not fitted yet: call fit(X, y) first")
        X = np.asarray(X)
        prev = X[:, -2, self.close_channel].astype(np.float64)  # log(close(t-1)/close(t))
        p = np.where(np.isnan(prev) | (prev == 0), 0.5, np.where(prev < 0, 1.0, 0.0))
        return np.column_stack([1.0 - p, p])

    def predict(self, X: Any) -> np.ndarray:
        return (self.predict_proba(X)[:, 1] > 0.5).astype(int)

"""One contract, held by every model and baseline of the registry (scikit-learn's ``check_estimator``
is the pattern): declared tags, the estimator protocol, fit/predict shapes, not-fitted errors,
determinism for a seed, pickling (Ray ships models between processes), the refusal of a
bidirectional network, and causality under the leakage audit on the real data.

A model added to :mod:`signals.models.registry` is checked here without a line of new test code.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from torch import nn

import signals
from core.errors import ConfigError
from signals.models.registry import BASELINE_FACTORIES, SEQUENCE_MODELS
from signals.models.tags import ModelTags, get_tags

N_TRAIN, N_VAL, N_TEST, LOOKBACK, CHANNELS = 240, 60, 50, 6, 4


class _CausalNet(nn.Module):
    """A user's own unidirectional network (the ``SequenceClassifier(module=...)`` path)."""

    def __init__(self, n_features: int = CHANNELS) -> None:
        super().__init__()
        self.rnn = nn.GRU(n_features, 5, batch_first=True)
        self.head = nn.Linear(5, 1)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1]).squeeze(-1)


def _small(kind: str, seed: int = 0):
    """Every model of the registry, small enough to fit in a second."""
    if kind in SEQUENCE_MODELS:
        return SEQUENCE_MODELS[kind](hidden_size=6, max_epochs=3, batch_size=64, seed=seed, num_threads=1,
                                     device="cpu")
    if kind == "custom":
        return signals.SequenceClassifier(module=_CausalNet(), max_epochs=3, batch_size=64, seed=seed,
                                          num_threads=1, device="cpu")
    model = BASELINE_FACTORIES[kind](seed, 1)
    if kind == "lightgbm":
        model.set_params(n_estimators=30, min_child_samples=10)
    return model


KINDS = [*SEQUENCE_MODELS, "custom", *BASELINE_FACTORIES]


def _data(tags: ModelTags, seed: int = 0):
    """A learnable pattern: the target is the sign of the last step of channel 0 (plus noise)."""
    rng = np.random.default_rng(seed)
    n = N_TRAIN + N_VAL + N_TEST
    X = rng.standard_normal((n, LOOKBACK, CHANNELS)).astype(np.float32)
    y = (X[:, -1, 0] + 0.3 * rng.standard_normal(n) > 0).astype(np.float32)
    if tags.input == "tabular":
        X = X[:, -1, :].copy()
    tr, va = slice(0, N_TRAIN), slice(N_TRAIN, N_TRAIN + N_VAL)
    te = slice(N_TRAIN + N_VAL, n)
    return X[tr], y[tr], X[va], y[va], X[te], y[te]


def _fit_predict(model):
    Xtr, ytr, Xva, yva, Xte, _ = _data(get_tags(model))
    fitted = model.fit(Xtr, ytr, eval_set=(Xva, yva))
    return fitted, fitted.predict_proba(Xte)


@pytest.mark.parametrize("kind", KINDS)
def test_declares_its_tags_and_its_name(kind):
    tags = get_tags(_small(kind))
    assert isinstance(tags, ModelTags)
    assert tags.name == kind
    assert tags.network == (kind in SEQUENCE_MODELS or kind == "custom")
    assert signals.ModelConfig().baselines  # the config's names are the registry's names
    assert set(signals.models.config.BASELINES) == set(BASELINE_FACTORIES)
    assert set(signals.models.config.ModelConfig.__dataclass_fields__["kind"].metadata["spec"].choices) <= \
        {*SEQUENCE_MODELS, *BASELINE_FACTORIES}


@pytest.mark.parametrize("kind", KINDS)
def test_init_stores_parameters_only_and_clones(kind):
    model = _small(kind)
    assert not [a for a in vars(model) if a.endswith("_") and not a.startswith("_")], "fitted attributes before fit"
    twin = clone(model)
    assert type(twin) is type(model)
    assert {k: v for k, v in twin.get_params().items() if k != "module"} == \
        {k: v for k, v in model.get_params().items() if k != "module"}


@pytest.mark.parametrize("kind", KINDS)
def test_predict_before_fit_raises_not_fitted(kind):
    model = _small(kind)
    _, _, _, _, Xte, _ = _data(get_tags(model))
    with pytest.raises(signals.NotFittedError):
        model.predict_proba(Xte)


@pytest.mark.parametrize("kind", KINDS)
def test_fit_returns_self_and_predicts_probabilities_of_the_right_shape(kind):
    model = _small(kind)
    fitted, p = _fit_predict(model)
    assert fitted is model
    assert p.shape == (N_TEST, 2) and np.isfinite(p).all()
    assert ((p >= 0) & (p <= 1)).all() and np.allclose(p.sum(axis=1), 1.0)
    _, _, _, _, Xte, _ = _data(get_tags(model))
    pred = model.predict(Xte)
    assert pred.shape == (N_TEST,) and set(np.unique(pred)) <= {0, 1}


@pytest.mark.parametrize("kind", [k for k in KINDS if k not in ("always_up", "yesterday")])
def test_a_trained_model_learns_the_planted_pattern(kind):
    model = _small(kind)
    if get_tags(model).network:
        model.set_params(max_epochs=15, lr=0.01)
    _, p = _fit_predict(model)
    *_, yte = _data(get_tags(model))
    assert np.mean((p[:, 1] > 0.5) == yte) > 0.7


@pytest.mark.parametrize("kind", KINDS)
def test_the_same_seed_gives_the_same_predictions(kind):
    _, a = _fit_predict(_small(kind, seed=3))
    _, b = _fit_predict(_small(kind, seed=3))
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("kind", [k for k in KINDS if get_tags(_small(k)).seeded])
def test_a_seeded_model_depends_on_its_seed(kind):
    _, a = _fit_predict(_small(kind, seed=3))
    _, b = _fit_predict(_small(kind, seed=4))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("kind", KINDS)
def test_pickles_unfitted_and_fitted_with_the_same_predictions(kind):
    model = _small(kind)
    assert type(pickle.loads(pickle.dumps(model))) is type(model)
    fitted, p = _fit_predict(model)
    back = pickle.loads(pickle.dumps(fitted))
    _, _, _, _, Xte, _ = _data(get_tags(model))
    np.testing.assert_array_equal(back.predict_proba(Xte), p)


@pytest.mark.parametrize("kind", list(SEQUENCE_MODELS))
def test_a_bidirectional_network_is_refused(kind):
    with pytest.raises(signals.LookaheadError, match="bidirectional"):
        SEQUENCE_MODELS[kind](bidirectional=True)
    model = _small(kind)
    model.set_params(bidirectional=True)  # set_params skips __init__: fit refuses it again
    Xtr, ytr, Xva, yva, _, _ = _data(get_tags(model))
    with pytest.raises(signals.LookaheadError, match="bidirectional"):
        model.fit(Xtr, ytr, eval_set=(Xva, yva))


def test_a_user_module_with_a_bidirectional_layer_is_refused():
    class Both(nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = nn.Sequential(nn.LSTM(CHANNELS, 4, batch_first=True, bidirectional=True))

        def forward(self, x):
            return self.inner(x)[0][:, -1, 0]

    with pytest.raises(signals.LookaheadError, match="bidirectional"):
        signals.SequenceClassifier(module=Both())


def test_a_model_without_tags_is_refused_with_the_fix():
    class Bare:
        def fit(self, X, y, **kw):
            return self

    with pytest.raises(ConfigError, match="__model_tags__"):
        get_tags(Bare())


@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_causal_under_the_leakage_audit_on_the_real_data(kind, md_small):
    """Each model, traded as the run's model, passes the audit (a rerun on data changed or cut
    after each date moves none of its predictions up to that date)."""
    md = md_small.slice("2021-06-01", "2022-10-31")
    features = signals.FeatureConfig(lookback=8, engineered=("ret_5", "vol_20", "range"),
                                     factors=("ROC5", "STD20") if kind == "lightgbm" else ())
    splitter = signals.WalkForwardSplit(train_days=160, val_days=30, test_days=30, test_start="2022-07-01")
    model = _small(kind)
    if kind == "custom":
        model.set_params(module=_CausalNet(len(features.channels)))
    rep = signals.leakage_audit(md, features=features, labels=signals.LabelConfig(), splitter=splitter,
                                estimator=model, baselines=(), max_windows=1)
    assert rep.passed, rep.message
    pred = rep.details[rep.details["check"] == "predictions"]
    assert len(pred) and (pred["compared"] > 0).all()  # its predictions were rerun and compared

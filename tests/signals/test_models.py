"""Estimators: sklearn contract, bidirectional refusal in both forms, learning a tiny pattern,
determinism without global side effects, checkpoints."""

import numpy as np
import pytest
import torch
from sklearn.base import clone
from torch import nn

import signals
from signals.errors import LookaheadError, NotFittedError

NETS = [signals.LSTMClassifier, signals.GRUClassifier, signals.AttentionLSTMClassifier]


def _pattern(n=1200, L=6, F=3, seed=0):
    """Up iff the first feature rose over the last two steps: needs the order of the sequence."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, L, F)).astype(np.float32)
    y = (X[:, -1, 0] - X[:, -3, 0] > 0).astype(np.float32)
    return X, y


@pytest.mark.parametrize("cls", NETS)
def test_bidirectional_flag_is_refused(cls):
    with pytest.raises(LookaheadError, match="bidirectional RNN also reads the sequence backwards"):
        cls(bidirectional=True)
    est = cls(hidden_size=4, max_epochs=1)
    est.set_params(bidirectional=True)  # bypasses __init__: fit refuses too
    X, y = _pattern(64)
    with pytest.raises(LookaheadError):
        est.fit(X, y)


class _BiNet(nn.Module):
    def __init__(self, n_features=3):
        super().__init__()
        self.inner = nn.Sequential(nn.Identity())
        self.rnn = nn.GRU(n_features, 4, batch_first=True, bidirectional=True)
        self.head = nn.Linear(8, 1)

    def forward(self, x):
        return self.head(self.rnn(x)[0][:, -1]).squeeze(-1)


def test_user_module_with_a_bidirectional_rnn_is_refused():
    with pytest.raises(LookaheadError, match="bidirectional GRU"):
        signals.SequenceClassifier(module=_BiNet())
    est = signals.SequenceClassifier(module=lambda n: _BiNet(n), max_epochs=1)  # a factory: caught in fit
    X, y = _pattern(64)
    with pytest.raises(LookaheadError, match="later steps|LATER steps"):
        est.fit(X, y)
    assert isinstance(LookaheadError("x"), ValueError)


@pytest.mark.parametrize("cls", NETS)
def test_each_model_learns_a_tiny_sequential_pattern(cls):
    X, y = _pattern()
    Xv, yv = _pattern(400, seed=1)
    est = cls(hidden_size=16, max_epochs=40, patience=5, lr=1e-2, batch_size=128, seed=0, num_threads=1).fit(
        X, y, eval_set=(Xv, yv))
    acc = (est.predict(Xv) == yv).mean()
    assert acc > 0.9, acc
    assert est.predict_proba(Xv).shape == (400, 2) and est.n_features_in_ == 3
    assert 1 <= est.best_epoch_ <= est.n_epochs_ <= 40


def test_custom_unidirectional_module_trains():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = nn.LSTM(3, 8, batch_first=True)
            self.head = nn.Linear(8, 1)

        def forward(self, x):
            return self.head(self.rnn(x)[0][:, -1]).squeeze(-1)

    X, y = _pattern()
    est = signals.SequenceClassifier(module=Net(), max_epochs=30, lr=1e-2, batch_size=128, num_threads=1).fit(X, y)
    assert (est.predict(X) == y).mean() > 0.85


def test_logistic_baseline_learns_a_linear_pattern_and_trivial_baselines():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 4, 2)).astype(np.float32)
    y = (X[:, -1, 0] + 0.5 * X[:, 0, 1] > 0).astype(int)
    lb = signals.LogisticBaseline().fit(X, y)
    assert (lb.predict(X) == y).mean() > 0.95
    assert np.all(signals.AlwaysUpBaseline().fit(X, y).predict_proba(X)[:, 1] == 1.0)
    # yesterday: channel 3 holds log(close / last close); step -2 < 0 means the last day rose
    Z = np.zeros((3, 4, 6), dtype=np.float32)
    Z[:, -2, 3] = [-0.01, 0.02, np.nan]
    np.testing.assert_array_equal(signals.YesterdayBaseline().fit(Z, None).predict_proba(Z)[:, 1], [1.0, 0.0, 0.5])


def test_not_fitted_and_sklearn_clone():
    est = signals.LSTMClassifier(hidden_size=4)
    with pytest.raises(NotFittedError):
        est.predict_proba(np.zeros((2, 3, 1), dtype=np.float32))
    with pytest.raises(NotFittedError):
        signals.LogisticBaseline().predict_proba(np.zeros((2, 3, 1)))
    c = clone(est)
    assert c.get_params() == est.get_params() and not hasattr(c, "net_")


def test_seeded_fit_is_reproducible_and_leaves_global_state_alone():
    X, y = _pattern(300)
    torch.manual_seed(123)
    before = torch.get_rng_state().clone()
    threads = torch.get_num_threads()
    det = torch.are_deterministic_algorithms_enabled()
    a = signals.GRUClassifier(hidden_size=8, max_epochs=3, dropout=0.2, num_layers=2, seed=7).fit(X, y, eval_set=(X, y))
    assert torch.equal(torch.get_rng_state(), before)
    assert torch.get_num_threads() == threads and torch.are_deterministic_algorithms_enabled() == det
    b = signals.GRUClassifier(hidden_size=8, max_epochs=3, dropout=0.2, num_layers=2, seed=7).fit(X, y, eval_set=(X, y))
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    c = signals.GRUClassifier(hidden_size=8, max_epochs=3, dropout=0.2, num_layers=2, seed=8).fit(X, y, eval_set=(X, y))
    assert not np.array_equal(a.predict_proba(X), c.predict_proba(X))


def test_early_stopping_restores_the_best_weights():
    X, y = _pattern(400)
    rng = np.random.default_rng(5)
    Xv = rng.normal(size=(200, 6, 3)).astype(np.float32)
    yv = rng.integers(0, 2, 200).astype(np.float32)  # noise: validation loss soon gets worse
    est = signals.LSTMClassifier(hidden_size=16, max_epochs=30, patience=2, lr=3e-2, batch_size=64, seed=0).fit(
        X, y, eval_set=(Xv, yv))
    vals = [h["val_loss"] for h in est.history_]
    assert est.n_epochs_ < 30 and est.best_val_loss_ == pytest.approx(min(vals))
    from signals.models.training import evaluate_loss
    got = evaluate_loss(est.net_, torch.from_numpy(Xv), torch.from_numpy(yv))
    assert got == pytest.approx(min(vals), rel=1e-5)


def test_every_sample_is_used_each_epoch():
    X, y = _pattern(1001)  # not a multiple of the batch size
    seen = []

    class Spy(nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = nn.Linear(3, 1)

        def forward(self, x):
            if self.training:
                seen.append(x.shape[0])
            return self.lin(x[:, -1]).squeeze(-1)

    signals.SequenceClassifier(module=Spy(), max_epochs=2, batch_size=100).fit(X, y)
    assert sum(seen) == 2 * 1001 and seen[-1] == 1


def test_checkpoint_roundtrip_with_weights_only(tmp_path):
    from signals.models.checkpoints import checkpoint_bytes

    X, y = _pattern(200)
    est = signals.AttentionLSTMClassifier(hidden_size=6, max_epochs=2, seed=0).fit(X, y)
    sc = signals.SequenceScaler().fit(X)
    w = next(signals.WalkForwardSplit(train_days=30, val_days=5, test_days=5).split(
        __import__("pandas").bdate_range("2020-01-01", periods=80), 1))
    path = tmp_path / "w.pt"
    path.write_bytes(checkpoint_bytes(est, sc, w, signals.FeatureConfig(lookback=6), signals.LabelConfig()))
    raw = torch.load(path, weights_only=True)
    assert raw["hyperparameters"]["hidden_size"] == 6 and raw["window"]["test_start"] == str(w.test_start.date())
    est2, sc2, rest = signals.load_checkpoint(path)
    np.testing.assert_array_equal(est2.predict_proba(X), est.predict_proba(X))
    np.testing.assert_array_equal(sc2.center_, sc.center_)
    assert rest["class"] == "AttentionLSTMClassifier"


def test_thread_count_is_resolved_once_and_bounded():
    from signals.execution.runtime import cpu_cores, default_threads, pin_threads

    assert 1 <= default_threads() <= cpu_cores()
    pinned = pin_threads(signals.LSTMClassifier(device="cpu"))
    assert 1 <= pinned.num_threads <= cpu_cores()
    assert pin_threads(signals.LSTMClassifier(device="cpu", num_threads=1)).num_threads == 1
    lb = signals.LogisticBaseline()
    assert pin_threads(lb) is lb

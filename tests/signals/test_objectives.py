"""Objectives (BCE, MSE, IC over day batches), early stopping on validation IC, seed ensembles,
Platt calibration and the LightGBM baseline."""

import numpy as np
import pytest
import torch

import signals
from signals.models.calibration import ScoredEnsemble, platt
from signals.models.gbdt import LightGBMBaseline
from signals.models.objectives import batch_indices, ic_loss


def test_ic_loss_is_minus_the_mean_daily_pearson_correlation():
    rng = np.random.default_rng(0)
    out, y = rng.normal(size=30), rng.normal(size=30)
    g = np.repeat([0, 1, 2], 10)
    want = -np.mean([np.corrcoef(out[g == k], y[g == k])[0, 1] for k in range(3)])
    got = float(ic_loss(torch.tensor(out), torch.tensor(y), torch.tensor(g)))
    assert got == pytest.approx(want, abs=1e-9)
    # invariant to the output's scale and daily shift: only the ranking within a day counts
    shifted = torch.tensor(3.0 * out + g * 5.0)
    assert float(ic_loss(shifted, torch.tensor(y), torch.tensor(g))) == pytest.approx(want, abs=1e-9)


def test_day_batches_hold_whole_days_and_cover_every_sample_once():
    groups = np.repeat(np.arange(20), np.arange(5, 25))
    rng = np.random.default_rng(0)
    groups = groups[rng.permutation(len(groups))]
    seen = []
    for idx, gid in batch_indices(len(groups), 60, torch.Generator().manual_seed(0), groups, torch.device("cpu")):
        days = groups[idx.numpy()]
        for k in np.unique(gid.numpy()):
            d = np.unique(days[gid.numpy() == k])
            assert len(d) == 1 and (groups == d[0]).sum() == (gid.numpy() == k).sum()  # a whole day
        seen.append(idx.numpy())
    np.testing.assert_array_equal(np.sort(np.concatenate(seen)), np.arange(len(groups)))


def _ranked_days(days=60, per_day=40, L=5, F=3, seed=0):
    """A cross-sectional pattern: the target ranks by the sum of feature 0 over the window."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(days * per_day, L, F)).astype(np.float32)
    groups = np.repeat(np.arange(days), per_day)
    ret = X[:, :, 0].sum(axis=1) * 0.01 + rng.normal(0, 0.01, len(X)) + groups * 0.001  # plus a daily level
    return X, ret.astype(np.float32), groups


@pytest.mark.parametrize("objective, early_stop", [("ic", "rank_ic"), ("mse", "ic"), ("bce", "rank_ic")])
def test_each_objective_learns_a_cross_sectional_pattern_and_publishes_a_calibrated_p_up(objective, early_stop):
    X, ret, g = _ranked_days()
    Xv, rv, gv = _ranked_days(20, seed=1)
    y = (ret > np.median(ret)).astype(np.float32) if objective == "bce" else ret
    yv = (rv > np.median(rv)).astype(np.float32) if objective == "bce" else rv
    est = signals.LSTMClassifier(hidden_size=8, max_epochs=12, patience=3, lr=1e-2, batch_size=200, seed=0,
                                 num_threads=1, objective=objective, early_stop=early_stop, n_seeds=2)
    est.fit(X, y, eval_set=(Xv, yv), groups=g, eval_groups=gv, eval_returns=rv - np.median(rv))
    p = est.predict_proba(Xv)[:, 1]
    ic = signals.daily_ic(gv, p, rv, "spearman")
    assert ic > 0.5, ic
    assert p.min() >= 0 and p.max() <= 1 and abs(p.mean() - 0.5) < 0.1  # a probability of beating the median
    assert any(f"val_{early_stop}" in h for h in est.history_)
    # the ensemble is one model: it checkpoints and reloads to the same predictions
    st = est.checkpoint_state()
    again = signals.LSTMClassifier(**st["hyperparameters"]).load_checkpoint_state(st)
    np.testing.assert_allclose(again.predict_proba(Xv)[:, 1], p, atol=1e-6)


def test_ic_objective_needs_the_days_and_bce_a_binary_target():
    X, ret, g = _ranked_days(5, 10)
    with pytest.raises(ValueError, match="groups"):
        signals.LSTMClassifier(max_epochs=1, objective="ic").fit(X, ret)
    with pytest.raises(ValueError, match="binary"):
        signals.LSTMClassifier(max_epochs=1).fit(X, ret)
    with pytest.raises(ValueError, match="objective"):
        signals.ModelConfig(objective="hinge")


def test_platt_is_increasing_and_calibrated():
    rng = np.random.default_rng(0)
    s = rng.normal(size=20000)
    e = (rng.random(20000) < 1 / (1 + np.exp(-(0.8 * s - 0.2)))).astype(float)
    a, b = platt(s * 3.0 + 1.0, e)  # any affine score scale is undone
    assert a > 0 and a * 3.0 == pytest.approx(0.8, abs=0.06) and b + a * 1.0 == pytest.approx(-0.2, abs=0.06)
    assert platt(np.ones(10), np.r_[np.ones(3), np.zeros(7)]) == (0.0, pytest.approx(np.log(3 / 7)))
    # a score that ranks backwards on validation is never turned around, nor flattened: p_up sits at the
    # base rate but keeps the score's order (a TopK strategy trades the order)
    a_back, b_back = platt(-s, e)
    p = 1 / (1 + np.exp(-(a_back * -s + b_back)))
    assert a_back > 0 and np.array_equal(np.argsort(p, kind="stable"), np.argsort(-s, kind="stable"))
    assert abs(p.mean() - e.mean()) < 1e-3 and np.ptp(p) < 1e-3


def test_scored_ensemble_averages_standardised_members():
    a, b = torch.nn.Linear(2, 1), torch.nn.Linear(2, 1)

    class _Flat(torch.nn.Module):
        def __init__(self, lin):
            super().__init__()
            self.lin = lin

        def forward(self, x):
            return self.lin(x).squeeze(-1)

    ens = ScoredEnsemble([_Flat(a), _Flat(b)], center=[1.0, -1.0], scale=[2.0, 4.0], calib=(0.5, 0.1))
    x = torch.randn(7, 2)
    want = 0.5 * (((_Flat(a)(x) - 1) / 2 + (_Flat(b)(x) + 1) / 4) / 2) + 0.1
    torch.testing.assert_close(ens(x), want)


def test_lightgbm_baseline_learns_tabular_factors_binary_and_continuous():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6000, 5)).astype(np.float32)
    X[rng.random(X.shape) < 0.05] = np.nan  # missing values are LightGBM's own business
    score = np.nan_to_num(X[:, 0]) - 0.5 * np.nan_to_num(X[:, 1]) ** 2
    ret = score * 0.01 + rng.normal(0, 0.01, len(X))
    tr, va, te = slice(0, 4000), slice(4000, 5000), slice(5000, None)
    for y in ((ret > 0).astype(float), ret):
        m = LightGBMBaseline(n_estimators=200, min_child_samples=20, num_threads=1, seed=0)
        m.fit(X[tr], y[tr], eval_set=(X[va], y[va]), eval_returns=ret[va])
        p = m.predict_proba(X[te])[:, 1]
        assert 0 < p.min() and p.max() < 1
        assert np.corrcoef(p, score[te])[0, 1] > 0.7
        again = LightGBMBaseline(n_estimators=200, min_child_samples=20, num_threads=1, seed=0)
        np.testing.assert_array_equal(again.fit(X[tr], y[tr], eval_set=(X[va], y[va]), eval_returns=ret[va])
                                      .predict_proba(X[te]), m.predict_proba(X[te]))  # deterministic
    with pytest.raises(signals.NotFittedError):
        LightGBMBaseline().predict_proba(X)

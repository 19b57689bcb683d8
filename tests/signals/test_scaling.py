"""The per-window scaler: hand-computed statistics, and fitted on the training rows only."""

import numpy as np
import pytest

import signals


def test_standard_and_robust_scaling_by_hand():
    X = np.array([[[1.0, 10.0], [3.0, np.nan]], [[5.0, 30.0], [7.0, 20.0]]], dtype=np.float32)  # (2, 2, 2)
    sc = signals.SequenceScaler().fit(X)
    np.testing.assert_allclose(sc.center_, [4.0, 20.0])
    np.testing.assert_allclose(sc.scale_, [np.sqrt(5.0), np.sqrt(200 / 3)], rtol=1e-6)
    out = sc.transform(X)
    assert out[0, 1, 1] == 0.0  # masked value -> the training centre
    assert out[0, 0, 0] == pytest.approx(-3 / np.sqrt(5.0))
    rb = signals.SequenceScaler(method="robust").fit(X)
    # channel 0 values 1,3,5,7: median 4, IQR = 5.5 - 2.5 = 3
    assert rb.center_[0] == pytest.approx(4.0) and rb.scale_[0] == pytest.approx(3 / 1.349, rel=1e-6)
    assert signals.SequenceScaler(clip=1.0).fit(X).transform(X).max() <= 1.0


def test_walk_forward_scaler_is_fitted_on_training_rows_only(md_small, tiny, tmp_path):
    res = signals.run_walk_forward(md_small, **tiny, baselines=(), checkpoint_dir=tmp_path, progress=False,
                                   only_windows=[0])
    _, sc, _ = signals.load_checkpoint(tmp_path / "window_000_lstm.pt")
    # recompute the statistics from the window's training rows, independently of the runner
    prep = signals.prepare(md_small, tiny["features"], tiny["labels"])
    sp = tiny["splitter"]
    w = res.windows[0]
    rows = sp.rows(w, prep.eligible, np.isfinite(prep.labels.label))
    Xtr = prep.panel.samples(*rows.train).astype(np.float64)
    flat = Xtr.reshape(-1, Xtr.shape[-1])
    np.testing.assert_allclose(sc.center_, np.nanmean(flat, axis=0), rtol=1e-5, atol=1e-6)
    # ... and NOT on training + test rows
    Xall = np.concatenate([Xtr, prep.panel.samples(*rows.test)]).reshape(-1, Xtr.shape[-1])
    assert not np.allclose(sc.center_, np.nanmean(Xall, axis=0), rtol=1e-5, atol=1e-6)
    assert int(res.window_metrics["train_samples"].iloc[0]) == len(rows.train[0])

"""run_walk_forward on real snapshot data: the predictions contract, metrics, save, checkpoints."""

import numpy as np
import pandas as pd
import pytest
import torch

import signals
from signals.errors import ConfigError


@pytest.fixture(scope="module")
def result(md_small):
    torch.set_num_threads(1)
    cfg = dict(
        features=signals.FeatureConfig(lookback=10, engineered=("ret_5", "vol_20", "range", "gap")),
        labels=signals.LabelConfig(),
        splitter=signals.WalkForwardSplit(train_days=242, val_days=40, test_days=60, test_start="2022-07-01",
                                          test_end="2022-12-31"),
        estimator=signals.GRUClassifier(hidden_size=8, max_epochs=2, batch_size=256, seed=0, num_threads=1),
    )
    return signals.run_walk_forward(md_small, **cfg, progress=False), cfg


def test_predictions_follow_the_contract(result, md_small):
    res, _ = result
    p = res.predictions
    assert list(p.columns) == ["date", "symbol", "p_up", "label", "ret", "target", "window", "model"]
    assert set(p["model"]) == {"gru", "logistic", "always_up", "yesterday"}
    assert not p.duplicated(["date", "symbol", "model"]).any()
    assert p["p_up"].between(0, 1).all() and p["label"].isin([0.0, 1.0]).all()
    # every model predicts exactly the same rows: each tradable member day of the test spans
    keys = {m: set(map(tuple, g[["date", "symbol"]].astype(str).to_numpy())) for m, g in p.groupby("model")}
    assert len({frozenset(k) for k in keys.values()}) == 1
    trad = md_small.tradable_mask().loc["2022-07-01":"2022-12-31"]
    expected = {(str(d.date()), s) for d, s in trad[trad].stack().index}
    got = {(d[:10], s) for d, s in keys["gru"]}
    assert got == expected
    # label is the sign of ret
    np.testing.assert_array_equal(p["label"], (p["ret"] > 0).astype(float))
    assert p["date"].min() == pd.Timestamp("2022-07-01") and p["date"].max() <= pd.Timestamp("2022-12-31")


def test_window_metrics_match_the_predictions(result):
    res, _ = result
    wm = res.window_metrics
    need = {"window", "model", "train_start", "train_end", "val_start", "val_end", "test_start", "test_end", "n",
            "base_rate", "accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier", "ic", "rank_ic",
            "best_constant_accuracy", "fit_label_end"}
    assert need <= set(wm.columns) and len(wm) == 3 * 4
    for _, r in wm.iterrows():
        g = res.predictions[(res.predictions["window"] == r["window"]) & (res.predictions["model"] == r["model"])]
        g = g[g["label"].notna()]
        assert r["n"] == len(g)
        assert r["accuracy"] == pytest.approx(((g["p_up"] > 0.5) == (g["label"] == 1)).mean())
        assert r["base_rate"] == pytest.approx(g["label"].mean())
        assert r["best_constant_accuracy"] == pytest.approx(max(r["base_rate"], 1 - r["base_rate"]))
        assert pd.Timestamp(r["fit_label_end"]) < pd.Timestamp(r["test_start"])
    au = wm[wm["model"] == "always_up"]
    assert (au["accuracy"] == au["base_rate"]).all()  # the base rate is always-up's accuracy
    # honest numbers: on the full windows nobody predicts daily direction far better than chance
    big = wm[(wm["model"] != "always_up") & (wm["n"] >= 300)]
    assert len(big) == 6 and big["balanced_accuracy"].between(0.4, 0.6).all()


def test_save_writes_parquet_and_csv_atomically(result, tmp_path):
    res, _ = result
    out = res.save(tmp_path / "run")
    back = pd.read_parquet(out["predictions"])
    pd.testing.assert_frame_equal(back, res.predictions, check_dtype=False)
    wm = pd.read_csv(out["window_metrics"])
    assert len(wm) == len(res.window_metrics)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["predictions.parquet", "window_metrics.csv"]


def test_rerun_is_identical_and_checkpoints_reproduce_predictions(result, md_small, tmp_path):
    res, cfg = result
    again = signals.run_walk_forward(md_small, **cfg, baselines=(), checkpoint_dir=tmp_path, progress=False)
    a = res.predictions[res.predictions["model"] == "gru"].reset_index(drop=True)
    pd.testing.assert_frame_equal(a, again.predictions.reset_index(drop=True))
    est, sc, rest = signals.load_checkpoint(tmp_path / "window_001_gru.pt")
    prep = signals.prepare(md_small, cfg["features"], cfg["labels"])
    w = res.windows[1]
    rows = cfg["splitter"].rows(w, prep.eligible, np.isfinite(prep.labels.label))
    p = est.predict_proba(sc.transform(prep.panel.samples(*rows.test)))[:, 1]
    np.testing.assert_allclose(p, a.loc[a["window"] == 1, "p_up"].to_numpy(), atol=1e-6)
    assert rest["window"]["test_start"] == str(w.test_start.date()) and rest["channels"][0] == "open"


def test_bad_arguments_name_the_value(md_small, tiny):
    with pytest.raises(ConfigError, match=r"baselines \['coin'\] unknown"):
        signals.run_walk_forward(md_small, **tiny, baselines=("coin",), progress=False)
    with pytest.raises(ConfigError, match=r"unknown symbol"):
        signals.run_walk_forward(md_small, **tiny, symbols=["XX000000"], progress=False)


def test_logistic_as_the_main_model(md_small, tiny):
    cfg = {**tiny, "estimator": signals.LogisticBaseline()}
    res = signals.run_walk_forward(md_small, **cfg, baselines=("logistic", "always_up"), progress=False,
                                   only_windows=[0])
    assert set(res.predictions["model"]) == {"logistic", "always_up"}  # not trained twice
    assert res.device == "cpu" and res.windows[0].index == 0 and set(res.window_metrics["window"]) == {0}

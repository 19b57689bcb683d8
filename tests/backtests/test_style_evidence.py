"""The signal side of skill or style on the real snapshot: a score that is a style is all exposure and
leaves no residual IC, the style baselines' fast metrics equal the toolkit's metrics, and neutral
scores touch only the model they are asked for."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data_store
from backtests.evaluation_config import EvaluationConfig
from backtests.evidence.forward import forward_returns
from backtests.evidence.styles import (
    apply_neutral_scores,
    fast_window_metrics,
    signal_figures,
    style_context,
    style_predictions,
    window_metrics,
)
from signals.styles import StyleConfig

CFG = EvaluationConfig(bootstrap_reps=200)


@pytest.fixture(scope="module")
def setup():
    md = data_store.load(use_cache=False).slice("2021-01-01", "2023-06-30")
    ctx = style_context(md, StyleConfig(), pd.Timestamp("2023-01-01"))
    t = md.tradable_mask().loc["2023-01-03":"2023-06-20"].stack()
    t = t[t].reset_index()
    t.columns = ["date", "symbol", "ok"]
    base = t[["date", "symbol"]].assign(symbol=lambda f: f["symbol"].astype(str))
    d = md.calendar.get_indexer(base["date"])
    s = pd.Index(md.symbols).get_indexer(base["symbol"])
    ret = forward_returns(md, 1, "open").to_numpy()[d, s]
    base = base.assign(ret=ret, label=np.where(np.isfinite(ret), (ret > 0).astype(float), np.nan),
                       window=(base["date"] >= "2023-04-01").astype(int))
    return md, ctx, base, d, s


def test_a_score_that_is_a_style_is_all_exposure_and_leaves_nothing(setup):
    md, ctx, base, d, s = setup
    preds = base.assign(p_up=-ctx.panel.values["volatility"][d, s]).dropna(subset=["p_up"])
    fig = signal_figures(preds, ctx, CFG, full=True)
    assert fig["exposure_volatility"] == pytest.approx(1.0)
    assert np.isnan(fig["residual_ic"]) and np.isnan(fig["residual_rank_ic"])  # nothing left to correlate
    noise = base.assign(p_up=np.random.default_rng(0).random(len(base)))
    fig = signal_figures(noise, ctx, CFG, full=False)
    assert abs(fig["exposure_volatility"]) < 0.02 and fig["residual_rank_ic_lo"] < 0 < fig["residual_rank_ic_hi"]
    assert fig["score_style_r2"] < 0.05


def test_the_fast_metrics_of_the_style_baselines_equal_the_toolkits(setup):
    md, ctx, base, d, s = setup
    preds = style_predictions(base, ctx.panel, ["volatility", "momentum"])
    assert set(preds["model"]) == {"style_volatility", "style_momentum"}
    day = preds[(preds["model"] == "style_volatility") & (preds["date"] == preds["date"].min())]
    assert day["p_up"].max() == 1.0 and day["p_up"].between(0, 1).all()
    fast = fast_window_metrics(preds).set_index(["model", "window"]).sort_index()
    slow = window_metrics(preds).set_index(["model", "window"]).sort_index()
    for col in ("n", "base_rate", "accuracy", "balanced_accuracy", "roc_auc", "log_loss", "brier", "ic", "rank_ic"):
        np.testing.assert_allclose(fast[col].to_numpy(float), slow[col].to_numpy(float), rtol=1e-9, err_msg=col)


def test_neutral_scores_replace_only_the_models_scores(setup):
    md, ctx, base, d, s = setup
    two = pd.concat([base.assign(p_up=np.random.default_rng(1).random(len(base)), model="lstm"),
                     base.assign(p_up=0.5, model="always_up")], ignore_index=True)
    wm = window_metrics(two)
    out, wm2 = apply_neutral_scores(two, wm, "lstm", ctx.panel, ["volatility", "beta"])
    assert out.loc[out["model"] == "always_up", "p_up"].eq(0.5).all()
    changed = out.loc[out["model"] == "lstm", "p_up"].to_numpy() != two.loc[two["model"] == "lstm", "p_up"]
    assert changed.mean() > 0.9
    assert set(wm2["model"]) == {"lstm", "always_up"} and len(wm2) == len(wm)
    fig = signal_figures(out[out["model"] == "lstm"], ctx, CFG, full=False)
    # what is left is ranked again, so it is orthogonal to the styles up to that re-ranking
    assert abs(fig["exposure_volatility"]) < 0.005 and abs(fig["exposure_beta"]) < 0.005

"""The style exposures written beside tomorrow's list measure what they say, on the real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data_store
from backtests.predict.record import style_exposures
from signals.styles.library import compute_styles

DAY = pd.Timestamp("2024-06-28")


@pytest.fixture(scope="module")
def md():
    full = data_store.load(use_cache=False).slice("2023-01-01", "2024-07-31")
    members = [s for s in full.members(DAY) if s in set(full.symbols)]
    return full.slice(symbols=members)


def test_a_score_that_is_low_volatility_has_exposure_one_to_it_and_minus_one_reversed(md):
    panel = compute_styles(md.slice(end=DAY))
    side = pd.Series(panel.premium("volatility")[-1], index=panel.symbols).dropna()
    exp = style_exposures(md, side, DAY).set_index("style")
    assert exp.loc["volatility", "exposure"] == pytest.approx(1.0)
    assert exp.loc["volatility", "names"] == len(side)
    assert exp.loc["volatility", "title"] == panel.style("volatility").title
    back = style_exposures(md, -side, DAY).set_index("style")
    assert back.loc["volatility", "exposure"] == pytest.approx(-1.0)
    # the other styles: the rank correlation of two columns, computed here by hand
    beta = pd.Series(panel.premium("beta")[-1], index=panel.symbols)
    both = pd.concat([side, beta], axis=1, join="inner").dropna()
    ranks = both.rank()
    hand = np.corrcoef(ranks.iloc[:, 0], ranks.iloc[:, 1])[0, 1]
    assert exp.loc["beta", "exposure"] == pytest.approx(hand)


def test_the_exposures_read_no_day_after_the_scores(md):
    """Cutting the data after the day leaves the exposures as they were."""
    rng = np.random.default_rng(0)
    scores = pd.Series(rng.standard_normal(len(md.symbols)), index=md.symbols)
    full = style_exposures(md, scores, DAY)
    cut = style_exposures(md.slice(end=DAY), scores, DAY)
    pd.testing.assert_frame_equal(full, cut)


def test_too_few_names_measure_nothing(md):
    assert style_exposures(md, pd.Series(1.0, index=md.symbols[:10]), DAY) is None

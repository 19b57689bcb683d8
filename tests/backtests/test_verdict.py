"""The verdict's logic and wording, from rows of figures built by hand (the planted cases of
test_planted.py reach the same rules through real backtests)."""

import math
import re

import pandas as pd
import pytest

from backtests.evidence.verdict import CATEGORIES, classify, predictive, verdict

NAN = math.nan


def _row(**over):
    """A traded model with no evidence of anything: every interval straddles zero."""
    row = {"accuracy": 0.538, "base_rate": 0.458, "best_constant_accuracy": 0.542, "n": 250_000,
           "accuracy_edge": -0.004, "accuracy_edge_lo": -0.009, "accuracy_edge_hi": 0.001,
           "ic": -0.005, "ic_lo": -0.012, "ic_hi": 0.002, "rank_ic": -0.004, "rank_ic_lo": -0.011, "rank_ic_hi": 0.003,
           "spread": 0.0002, "spread_lo": -0.0004, "spread_hi": 0.0008,
           "annual_excess_return": -0.089, "gross_annual_excess_return": -0.005, "reference_annual_return": -0.062,
           "alpha": -0.093, "alpha_lo": -0.20, "alpha_hi": 0.02, "alpha_t": -1.6, "beta": 1.12, "beta_lo": 1.08,
           "beta_hi": 1.16, "gross_alpha": -0.01, "gross_alpha_lo": -0.12, "gross_alpha_hi": 0.10,
           "gross_alpha_t": -0.2,
           "cost_drag": 0.084, "daily_turnover": 0.63, "break_even_cost": -0.00003, "cost_per_traded": 0.00055,
           "trades": 16366}
    row.update(over)
    return row


WINDOWS = pd.DataFrame({"accuracy": [0.53, 0.55, 0.52], "best_constant_accuracy": [0.54, 0.54, 0.54],
                        "excess_return": [0.02, -0.05, -0.01]})


@pytest.mark.parametrize(("over", "category"), [
    ({}, "no_evidence"),
    ({"ic_lo": 0.001}, "signal_without_money"),
    ({"alpha": 0.05, "alpha_lo": 0.01, "alpha_t": 2.4, "annual_excess_return": 0.06}, "skill"),
    ({"gross_alpha": 0.05, "gross_alpha_lo": 0.004}, "skill_before_costs"),
    # +26% a year with a beta of 1.36 in a market up 60%: (1.36 - 1) x 0.6 = 0.216 >= 0.26 / 2
    ({"annual_excess_return": 0.26, "beta": 1.36, "reference_annual_return": 0.60, "alpha_t": 0.8}, "exposure"),
    # the same win with a beta of 1.02: exposure explains 1.2% of it, the rest is luck
    ({"annual_excess_return": 0.26, "beta": 1.02, "reference_annual_return": 0.60}, "no_evidence"),
    # a defensive beta of 0.5 in a falling market also "beats" it by exposure
    ({"annual_excess_return": 0.05, "beta": 0.5, "reference_annual_return": -0.2}, "exposure"),
    ({"trades": 0}, "never_traded"),
])
def test_classify(over, category):
    assert classify(_row(**over)) == category
    assert category in CATEGORIES


def test_wording_names_every_figure_with_its_interval():
    text = verdict("LSTM", _row(), WINDOWS)
    assert "accuracy 53.8% vs 45.8% always-up (+8.0 pp)" in text
    assert "best constant guess (always-down) scores 54.2%, an edge of -0.4 pp [-0.9 pp, +0.1 pp] (95% interval" in text
    assert "IC -0.005 [-0.012, +0.002], rank IC -0.004 [-0.011, +0.003]" in text
    assert "top-minus-bottom quantile +2.0 bp [-4.0 bp, +8.0 bp] a period" in text
    assert "Against the CSI-300 it returned -8.9% a year after costs and -0.5% before" in text
    assert "beta 1.12 [1.08, 1.16], alpha after that exposure -9.3% a year [-20.0%, +2.0%] (t = -1.60" in text
    assert "Costs took 8.4% a year at 0.63 of the book traded a day" in text
    assert "no cost is low enough to break even" in text
    assert "beat the best constant guess in 1 of 3 windows; the strategy beat the CSI-300 in 1 of 3" in text
    assert text.endswith("not significant before costs (t = -0.20); after costs it is not significant either "
                         "(t = -1.60).")
    losing = verdict("LSTM", _row(alpha_hi=-0.01, alpha_t=-2.5), WINDOWS)
    assert losing.endswith("after costs it is significantly negative (t = -2.50): costs turn it into a loss.")
    assert not re.search(r"\bnan\b", text) and not re.search(r"-0\.0+(?!\d)", text)  # no NaN, no "-0.0"


def test_wording_of_each_claim():
    skill = verdict("X", _row(alpha=0.05, alpha_lo=0.01, alpha_t=2.4, annual_excess_return=0.06, ic_lo=0.002,
                              break_even_cost=0.0012), WINDOWS)
    assert "Skill: the alpha after the exposure to the CSI-300 is significant (t = 2.40)" in skill
    assert "the IC is above zero beyond noise" in skill and "it breaks even at +12.0 bp per traded CNY" in skill
    expo = verdict("X", _row(annual_excess_return=0.26, beta=1.36, reference_annual_return=0.6, alpha_t=0.8), WINDOWS)
    assert "Exposure, not skill: it beat the CSI-300, but with a beta of 1.36 in a rising market" in expo
    luck = verdict("X", _row(annual_excess_return=0.26, beta=1.02, reference_annual_return=0.6), WINDOWS)
    assert "treat it as luck" in luck
    idle = verdict("X", _row(trades=0), WINDOWS, reference="holding SH600519", single_stock=True)
    assert "never traded" in idle and "holding cash is not beating holding SH600519" in idle
    assert "IC" not in idle  # one stock: no cross-section


def test_single_stock_wording_compares_with_holding_it():
    text = verdict("LSTM", _row(ic=NAN, ic_lo=NAN, ic_hi=NAN, rank_ic=NAN), WINDOWS, reference="holding SH600519",
                   single_stock=True)
    assert "Against holding SH600519 it returned" in text and "beat holding SH600519 in 1 of 3" in text
    assert "rank IC" not in text


def test_predictive_lists_measures_above_zero():
    assert predictive(_row()) == []
    assert predictive(_row(accuracy_edge_lo=0.001, rank_ic_lo=0.002)) == ["accuracy edge", "rank IC"]


def test_a_significantly_negative_alpha_is_called_so_before_and_after_costs():
    """Gross and net alpha both below zero beyond noise: not 'not significant', and not a loss
    that costs made (it lost before costs too)."""
    row = _row(alpha=-0.20, alpha_lo=-0.35, alpha_hi=-0.05, alpha_t=-2.6,
               gross_alpha=-0.15, gross_alpha_lo=-0.28, gross_alpha_hi=-0.02, gross_alpha_t=-2.3)
    assert classify(row) == "no_evidence"
    text = verdict("LSTM", row, pd.DataFrame())
    assert "is significantly negative before costs (t = -2.30)" in text
    assert text.endswith("after costs it is significantly negative (t = -2.60), as before costs.")
    net_only = verdict("LSTM", _row(alpha_hi=-0.05, alpha_t=-2.6), pd.DataFrame())
    assert net_only.endswith("after costs it is significantly negative (t = -2.60): costs turn it into a loss.")
    exposure = _row(annual_excess_return=0.05, reference_annual_return=0.20, beta=1.5, beta_lo=1.4, beta_hi=1.6,
                    alpha=-0.10, alpha_lo=-0.18, alpha_hi=-0.02, alpha_t=-2.3)
    assert classify(exposure) == "exposure"
    assert "the alpha after that exposure is significantly negative (t = -2.30)" in verdict("LSTM", exposure,
                                                                                            pd.DataFrame())


def test_a_significantly_negative_ic_is_called_backwards_not_noise():
    row = _row(ic=-0.099, ic_lo=-0.196, ic_hi=-0.011)
    text = verdict("LSTM", row, WINDOWS)
    assert ("no prediction measure is above zero beyond noise; the IC is BELOW zero beyond noise: the signal ranks "
            "the stocks backwards") in text
    both = verdict("LSTM", _row(ic_hi=-0.001, rank_ic_hi=-0.002), WINDOWS)
    assert "the IC and the rank IC are BELOW zero beyond noise" in both
    assert "backwards" not in verdict("LSTM", _row(), WINDOWS)  # an interval across zero is noise


def _styled(**over):
    """A traded model of a cross-section with its style figures: nothing left after the styles, no alpha
    after them; low volatility paid 5% a year with a loading whose interval excludes zero."""
    row = _row(residual_ic=0.001, residual_ic_lo=-0.004, residual_ic_hi=0.006, residual_rank_ic=0.002,
               residual_rank_ic_lo=-0.003, residual_rank_ic_hi=0.007, score_style_r2=0.41,
               exposure_volatility=0.62, exposure_beta=0.35, exposure_reversal=-0.02,
               style_alpha=0.01, style_alpha_lo=-0.06, style_alpha_hi=0.08, style_alpha_t=0.3,
               gross_style_alpha=0.04, gross_style_alpha_lo=-0.03, gross_style_alpha_hi=0.11,
               gross_style_alpha_t=1.1, loading_volatility=0.8, loading_volatility_lo=0.6, loading_volatility_hi=1.0,
               contrib_volatility=0.05, loading_beta=0.1, loading_beta_lo=-0.2, loading_beta_hi=0.4,
               contrib_beta=0.01, loading_equal_weight=0.9, loading_equal_weight_lo=0.7, loading_equal_weight_hi=1.1,
               contrib_equal_weight=0.02)
    row.update(over)
    return row


@pytest.mark.parametrize(("over", "category"), [
    ({}, "no_evidence"),
    # a significant alpha over the index alone that the styles explain
    ({"alpha": 0.08, "alpha_lo": 0.02, "alpha_t": 2.9, "annual_excess_return": 0.1}, "style_not_skill"),
    ({"gross_alpha": 0.08, "gross_alpha_lo": 0.02}, "style_not_skill"),
    # the alpha survives the styles, but the scores hold nothing beyond them: still not skill
    ({"alpha": 0.08, "alpha_lo": 0.02, "style_alpha": 0.06, "style_alpha_lo": 0.01, "style_alpha_t": 2.2},
     "style_not_skill"),
    # skill beyond styles: residual rank IC above zero AND alpha after styles above zero after costs
    ({"residual_rank_ic_lo": 0.002, "style_alpha": 0.06, "style_alpha_lo": 0.01, "style_alpha_t": 2.2},
     "skill"),
    ({"residual_ic_lo": 0.001, "gross_style_alpha": 0.09, "gross_style_alpha_lo": 0.02}, "skill_before_costs"),
    # a residual signal without money after styles is information, not skill, whatever the index alpha
    ({"residual_rank_ic_lo": 0.002}, "signal_without_money"),
    ({"residual_rank_ic_lo": 0.002, "alpha": 0.08, "alpha_lo": 0.02}, "style_not_skill"),
    ({"trades": 0}, "never_traded"),
])
def test_classify_with_styles(over, category):
    assert classify(_styled(**over)) == category


def test_wording_of_style_not_skill_names_the_styles_that_paid():
    row = _styled(alpha=0.08, alpha_lo=0.02, alpha_hi=0.14, alpha_t=2.9, annual_excess_return=0.1)
    text = verdict("LSTM", row, WINDOWS)
    assert ("Style, not skill: the alpha over the CSI-300 alone is significant after costs (t = 2.90), but after "
            "the style factors it is not significant (t = 0.30 after costs, 1.10 before).") in text
    assert ("The return was carried by low volatility (+5.0% a year), equal weight over the index (smaller names) "
            "(+2.0% a year), which anyone can hold without a model.") in text
    assert text.endswith("The scores hold nothing beyond the styles (residual rank IC +0.002 [-0.003, +0.007], "
                         "residual IC +0.001 [-0.004, +0.006]).")
    assert ("After each day's regression on the styles, residual IC +0.001 [-0.004, +0.006], residual rank IC "
            "+0.002 [-0.003, +0.007]; the styles explain 41.0% of the scores' daily variance; the scores lean most "
            "on low volatility +0.62, low beta +0.35, short-term losers -0.02 (rank correlation).") in text
    assert ("After the CSI-300 and the style factors the alpha is +1.0% a year [-6.0%, +8.0%] (t = 0.30) after costs "
            "and +4.0% (t = 1.10) before; the styles that paid: low volatility +5.0%, equal weight over the index "
            "(smaller names) +2.0% a year.") in text
    skill = verdict("LSTM", _styled(residual_rank_ic_lo=0.002, style_alpha=0.06, style_alpha_lo=0.01,
                                    style_alpha_t=2.2), WINDOWS)
    assert "Skill beyond styles: what is left of the scores after the styles still predicts (residual rank IC" in skill
    assert "the alpha after the CSI-300 and the style factors is significant (t = 2.20) and survives costs." in skill
    assert not re.search(r"\bnan\b", text + skill)

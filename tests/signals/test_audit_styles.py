"""The leakage audit covers the styles and the neutralisation: the library's styles pass, and a style
planted to read tomorrow's close is caught and named, on the real snapshot."""

import numpy as np

import signals


def _tomorrow_close(md):
    """A deliberately LEAKY style: tomorrow's close over today's."""
    close = md.panel("close", adjusted=True)
    return (close.shift(-1) / close).to_numpy()


def _cfg():
    return dict(features=signals.FeatureConfig(lookback=5, engineered=("ret_5",)),
                splitter=signals.WalkForwardSplit(train_days=200, val_days=30, test_days=60, test_start="2022-07-01"),
                predictions=False)


def test_every_library_style_and_the_neutralisation_pass(md_small):
    md = md_small.slice(end="2022-12-31")
    rep = signals.leakage_audit(md, styles=["auto"], **_cfg())
    assert rep.passed, rep.message
    styles = rep.details[rep.details["check"] == "styles"]
    assert len(styles) > 10 and styles["passed"].all()
    assert styles["compared"].min() >= 7 * len(md.symbols)  # every style of the library, every symbol
    assert "every style" in rep.message and rep.leaking_styles == []
    # the neutralisation, on as many styles as 8 stocks can be regressed on (2 names per column)
    rep = signals.leakage_audit(md, labels=signals.LabelConfig(neutral=("volatility", "reversal")),
                                styles=["beta"], **_cfg())
    assert rep.passed, rep.message
    neutral = rep.details[rep.details["check"] == "neutralisation"]
    assert neutral["passed"].all() and neutral["compared"].min() > 0


def test_a_style_that_reads_tomorrow_is_named(md_small):
    md = md_small.slice(end="2022-12-31")
    rep = signals.leakage_audit(md, styles=["beta", "volatility"], style_functions={"tomorrow": _tomorrow_close},
                                **_cfg())
    assert not rep.passed
    assert rep.leaking_styles == ["tomorrow"]
    bad = rep.details[~rep.details["passed"]]
    assert set(bad["check"]) == {"styles", "neutralisation"}
    assert rep.details.loc[rep.details["check"] == "neutralisation", "compared"].min() > 0
    assert set(bad.loc[bad["check"] == "styles", "variant"]) == {"changed", "removed"}
    assert "style(s) tomorrow read data after their day" in rep.message
    first = bad[bad["check"] == "styles"].iloc[0]
    assert first["example"].startswith("style tomorrow of ") and str(first["cut"].date()) in first["example"]
    assert np.isfinite(bad["changed"]).all()


def test_the_styles_of_a_style_neutral_target_are_audited(md_small, monkeypatch):
    """labels.neutral builds the target from styles: those are checked whether listed or not, so a
    style that reads tomorrow is named even though the label itself reads further ahead (a one-day leak
    inside the label's own span moves no label the labels check compares)."""
    from signals.styles import library

    leaky = dict(library._COMPUTE)
    leaky["volatility"] = lambda inp: _tomorrow_close(inp.md)
    monkeypatch.setattr(library, "_COMPUTE", leaky)
    md = md_small.slice(end="2022-12-31")
    rep = signals.leakage_audit(md, labels=signals.LabelConfig(neutral=("volatility",)), **_cfg())
    assert not rep.passed and rep.leaking_styles == ["volatility"]
    assert set(rep.details.loc[~rep.details["passed"], "check"]) == {"styles", "neutralisation"}

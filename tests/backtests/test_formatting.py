"""Numbers are written one way everywhere: the summary, the comparison and the tearsheet."""

import math

import pytest

from backtests.report.formatting import fmt, pct


def test_pct_formatting():
    assert pct(0.0123) == "1.2%"
    assert pct(-0.0123, sign=True) == "-1.2%"
    assert pct(float("nan")) == "n/a" and pct(None) == "n/a"


@pytest.mark.parametrize(("value", "kind", "text"), [
    (-0.00004, "pct", "0.0%"), (-0.00004, "spct", "+0.0%"), (0.0791, "pp", "+7.9 pp"),
    (-0.0004, "f3", "0.000"), (-0.0052, "sf3", "-0.005"), (2_239_512.4, "cny", "2,239,512"),
    (16366, "int", "16,366"), (math.inf, "f2", "n/a"), (None, "cny", "n/a"), ("a<b", "name", "a&lt;b"),
    (0.00021, "bp", "+2.1 bp"), (-0.000004, "bp", "+0.0 bp"), (-0.004, "sf2", "+0.00"), (1.234, "sf2", "+1.23"),
])
def test_fmt_kinds_and_no_negative_zero(value, kind, text):
    assert fmt(value, kind) == text


def test_unknown_kind_is_an_error():
    with pytest.raises(ValueError, match="unknown number kind 'pp2'"):
        fmt(1.0, "pp2")

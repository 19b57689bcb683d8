"""The golden run: the stored predictions, trades, returns and metrics come out again.

A change that moves any of them fails here; if the change is meant, it updates the stored values
in the same commit (``python tests/golden/golden_run.py --update``) and says why in its message.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "golden"))
import golden_run  # noqa: E402


@pytest.fixture(scope="module")
def values(tmp_path_factory):
    return golden_run.extract(golden_run.produce(tmp_path_factory.mktemp("golden")))


def test_the_golden_run_reproduces_its_stored_values(values):
    assert golden_run.compare(values, golden_run.load_expected()) == []


def test_the_comparison_sees_a_moved_number(values):
    """The comparison can fail: one prediction, one trade, one return and one metric moved."""
    expected = golden_run.load_expected()
    for name, move in [
        ("predictions", lambda v: v["predictions"].assign(p_up=v["predictions"]["p_up"] + np.r_[1e-5, np.zeros(
            len(v["predictions"]) - 1)])),
        ("trades", lambda v: v["trades"].assign(shares=v["trades"]["shares"] + np.r_[100, np.zeros(
            len(v["trades"]) - 1, dtype=int)])),
        ("returns", lambda v: v["returns"].assign(strategy=v["returns"]["strategy"] * (1 + 1e-6))),
    ]:
        moved = {**values, name: move(values)}
        assert any(d.startswith(name) for d in golden_run.compare(moved, expected)), name
    key = next(k for k, v in expected["metrics"].items() if isinstance(v, float) and v != 0)
    moved = {**values, "metrics": {**values["metrics"], key: values["metrics"][key] * 1.001}}
    assert any(d.startswith("metrics") for d in golden_run.compare(moved, expected))

"""``scripts/choose_topk_defaults.py``: the rule written down before the test span is read, and the
checked ``--test-start`` that refuses predictions whose trades reach the test span."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import choose_topk_defaults as C  # noqa: E402


def _table(rows):
    cols = ["setting", "sharpe", "turnover", "cost_drag"]
    return pd.DataFrame(rows, columns=cols)


def test_the_rule_keeps_the_budget_then_the_best_sharpe_then_the_least_turnover():
    t = _table([("fast", 1.30, 0.45, 0.06),    # the best Sharpe, but over the turnover budget
                ("a", 1.00, 0.14, 0.020),
                ("b", 0.99, 0.08, 0.012),     # within 0.02 of a: the lower turnover wins
                ("c", 0.97, 0.05, 0.010),     # 0.03 below: not tied
                ("dear", 1.10, 0.12, 0.030)])  # within the turnover budget, over the cost budget
    chosen, within = C.pick(t)
    assert chosen["setting"] == "b" and within
    # nothing within the budget: the highest Sharpe of all (then the least turnover within 0.02)
    chosen, within = C.pick(_table([("x", 1.0, 0.5, 0.05), ("y", 0.99, 0.3, 0.04), ("z", 0.5, 0.2, 0.03)]))
    assert chosen["setting"] == "y" and not within


def test_grid_points_are_the_product():
    assert C.grid_points(["hold_days=1,5", "buffer=0,20"]) == [
        "hold_days=1;buffer=0", "hold_days=1;buffer=20", "hold_days=5;buffer=0", "hold_days=5;buffer=20"]


def _write(tmp_path, last):
    days = pd.bdate_range(end=last, periods=3)
    p = pd.DataFrame([(d, s, 0.5 + 0.1 * k) for d in days for k, s in enumerate(["SH600519", "SH600036", "SH601318"])],
                     columns=["date", "symbol", "p_up"])
    f = tmp_path / "p.csv"
    p.to_csv(f, index=False)
    return f


def test_predictions_that_reach_the_test_span_are_refused(tmp_path, capsys):
    # the first test day of --test-start 2022-01-01 is 2022-01-04; a decision on 2021-12-31 fills then
    f = _write(tmp_path, "2021-12-31")
    rc = C.main([str(f), "--test-start", "2022-01-01", "--settings", "hold_days=1", "--set", "k=1"])
    assert rc == 2
    err = capsys.readouterr().err
    assert "last decision day 2021-12-31 fills on 2022-01-04, on or after --test-start 2022-01-01" in err
    assert "pass --end 2021-12-30" in err
    # --end as the message says: evaluated (the last fill, 2021-12-31, is before the test span)
    rc = C.main([str(f), "--test-start", "2022-01-01", "--end", "2021-12-30", "--settings", "hold_days=1",
                 "--set", "k=1"])
    assert rc == 0
    out = capsys.readouterr()
    assert "last fill 2021-12-31" in out.err and "| 1 |" in out.out


@pytest.mark.parametrize(("args", "message"), [
    (["--test-start", "2022-13-01"], "--test-start '2022-13-01' is not a date"),
    (["--test-start", "2022-01-01", "--settings", "hold_days=x"], "hold_days = 'x' is not a valid int"),
])
def test_bad_input_exits_2_with_one_line(tmp_path, capsys, args, message):
    f = _write(tmp_path, "2021-12-30")
    assert C.main([str(f), *args]) == 2
    assert message in capsys.readouterr().err

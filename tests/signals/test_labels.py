"""The one labelling function: hand-computed values on a crafted frame and on real bars."""

import numpy as np
import pandas as pd
import pytest

import signals
from signals.errors import ConfigError


def _frame(values, cols=("A",)):
    idx = pd.date_range("2024-01-01", periods=len(values), freq="B")
    return pd.DataFrame(np.asarray(values, dtype=float).reshape(len(values), -1), index=idx, columns=list(cols))


def test_default_label_is_next_open_to_following_open():
    opens = _frame([10.0, 11.0, 12.1, 12.1, 11.0])
    vol = _frame([1, 1, 1, 1, 1])
    lab = signals.make_labels(opens, vol)
    # t=0: open(2)/open(1)-1 = 12.1/11 - 1 = 0.1 -> up; t=1: 12.1/12.1-1 = 0 -> not up;
    # t=2: 11/12.1-1 = -0.0909.. -> down; the last 2 days: unknown
    np.testing.assert_allclose(lab.ret[:3, 0], [0.1, 0.0, 11.0 / 12.1 - 1.0])
    assert np.isnan(lab.ret[3:, 0]).all()
    np.testing.assert_array_equal(lab.label[:3, 0], [1.0, 0.0, 0.0])
    assert np.isnan(lab.label[3:, 0]).all()
    assert lab.end_offset == 2


def test_horizon_and_excess():
    opens = _frame([10.0, 10.0, 11.0, 12.0, 9.0, 10.0])
    vol = _frame([1] * 6)
    index_open = np.array([100.0, 100.0, 105.0, 120.0, 80.0, 100.0])
    lab = signals.make_labels(opens, vol, signals.LabelConfig(horizon=2, relative="index"), index_open=index_open)
    # t=0: stock 12/10-1 = 0.2, index 120/100-1 = 0.2 -> excess 0 -> not up
    # t=1: stock 9/11-1 = -0.1818, index 80/105-1 = -0.2381 -> excess +0.0563 -> up;
    # t=2: stock 10/12-1 = -1/6, index 100/120-1 = -1/6 -> 0
    np.testing.assert_allclose(lab.target_ret[:3, 0], [0.0, (9 / 11 - 1) - (80 / 105 - 1), 0.0], atol=1e-12)
    np.testing.assert_array_equal(lab.event[:3, 0], [0.0, 1.0, 0.0])
    np.testing.assert_array_equal(lab.target[:3, 0], [0.0, 1.0, 0.0])
    # the traded return and its direction stay raw whatever the target
    np.testing.assert_allclose(lab.ret[:3, 0], [0.2, 9 / 11 - 1, 10 / 12 - 1])
    np.testing.assert_array_equal(lab.label[:3, 0], [1.0, 0.0, 0.0])
    assert np.isnan(lab.ret[3:, 0]).all() and lab.end_offset == 3


def test_suspended_open_makes_the_label_unknown_not_forward_filled():
    opens = _frame([10.0, 11.0, 11.0, 12.0, 13.0])
    vol = _frame([1, 1, 0, 1, 1])  # day 2 suspended (volume 0): its open is no tradable price
    lab = signals.make_labels(opens, vol)
    assert np.isnan(lab.ret[0, 0]) and np.isnan(lab.ret[1, 0])  # read open(2)
    np.testing.assert_allclose(lab.ret[2, 0], 13.0 / 12.0 - 1.0)


def test_excess_needs_the_index_and_horizon_is_validated():
    with pytest.raises(ConfigError, match="index"):
        signals.make_labels(_frame([1.0, 2.0, 3.0]), _frame([1, 1, 1]), signals.LabelConfig(relative="index"))
    with pytest.raises(ConfigError, match="horizon = 0"):
        signals.LabelConfig(horizon=0)


def test_label_on_real_bars_matches_hand_computation(md_small):
    sym, t = "SH600519", pd.Timestamp("2022-03-01")
    b = md_small.bars[md_small.bars["symbol"] == sym].set_index("date")
    cal = md_small.calendar
    i = cal.get_loc(t)
    o1 = b.loc[cal[i + 1], "open"] * b.loc[cal[i + 1], "factor"]
    o2 = b.loc[cal[i + 2], "open"] * b.loc[cal[i + 2], "factor"]
    lab = signals.make_labels(md_small.panel("open", adjusted=True), md_small.panel("volume"))
    j = md_small.symbols.index(sym)
    assert lab.ret[i, j] == pytest.approx(o2 / o1 - 1.0, rel=1e-12)
    assert lab.label[i, j] == float(o2 > o1)


def _cross(values, vol=None):
    """A 3-day x 4-stock frame whose day-0 returns are given (opens 100 then 100 * (1 + r))."""
    r = np.asarray(values, dtype=float)
    opens = np.vstack([np.full(4, 100.0), np.full(4, 100.0), 100.0 * (1 + r), np.full(4, 100.0)])
    idx = pd.date_range("2024-01-01", periods=4, freq="B")
    cols = list("ABCD")
    v = np.ones_like(opens) if vol is None else vol
    return pd.DataFrame(opens, index=idx, columns=cols), pd.DataFrame(v, index=idx, columns=cols)


def test_median_rank_and_zscore_use_only_the_days_eligible_stocks():
    opens, vol = _cross([0.01, 0.03, -0.02, 0.50])
    eligible = np.ones(opens.shape, dtype=bool)
    eligible[0, 3] = False  # D is no tradable member on day 0: it must not move the references
    med = signals.make_labels(opens, vol, signals.LabelConfig(relative="median"), eligible=eligible)
    np.testing.assert_allclose(med.target_ret[0], np.array([0.01, 0.03, -0.02, 0.50]) - 0.01)
    np.testing.assert_array_equal(med.target[0], [0.0, 1.0, 0.0, 1.0])
    np.testing.assert_allclose(med.ret[0], [0.01, 0.03, -0.02, 0.50])  # the traded return stays raw
    rank = signals.make_labels(opens, vol, signals.LabelConfig(relative="median", target="rank"), eligible=eligible)
    np.testing.assert_allclose(rank.target[0, :3], np.array([0.0, 1 / 3, -1 / 3]) * np.sqrt(12))
    assert np.isnan(rank.target[0, 3])  # ranked only among the eligible
    z = signals.make_labels(opens, vol, signals.LabelConfig(target="zscore"), eligible=eligible)
    mad = np.median(np.abs(np.array([0.01, 0.03, -0.02]) - 0.01)) * 1.4826
    np.testing.assert_allclose(z.target[0, :3], np.clip((np.array([0.01, 0.03, -0.02]) - 0.01) / mad, -3, 3))
    assert z.end_offset == med.end_offset == rank.end_offset == 2


def test_close_to_close_span_reads_the_closes_of_t_plus_1_and_t_plus_2():
    opens = _frame([10.0, 10.0, 10.0, 10.0, 10.0])
    closes = _frame([10.0, 11.0, 12.1, 12.1, 13.0])
    lab = signals.make_labels(opens, _frame([1] * 5), signals.LabelConfig(span="close", target="return"),
                              close_adj=closes)
    np.testing.assert_allclose(lab.target[:3, 0], [12.1 / 11 - 1, 0.0, 13 / 12.1 - 1])
    np.testing.assert_allclose(lab.ret[:3, 0], [0.0, 0.0, 0.0])  # ret stays open-to-open
    assert np.isnan(lab.target[3:, 0]).all() and lab.end_offset == 2
    with pytest.raises(ConfigError, match="close_adj"):
        signals.make_labels(opens, _frame([1] * 5), signals.LabelConfig(span="close"))


@pytest.mark.parametrize("target", ["updown", "return", "rank", "zscore"])
@pytest.mark.parametrize("span", ["open", "close"])
def test_no_target_reads_past_its_end_offset(md_small, target, span):
    """Changing every price after day k leaves every target of days <= k - end_offset unchanged."""
    cfg = signals.LabelConfig(relative="median", target=target, span=span)
    o, c, v = (md_small.panel(f, adjusted=True) for f in ("open", "close", "volume"))
    elig = md_small.tradable_mask().to_numpy()
    ref = signals.make_labels(o, v, cfg, close_adj=c, eligible=elig)
    k = 400
    rng = np.random.default_rng(0)
    o2, c2 = o.copy(), c.copy()
    o2.iloc[k + 1:] *= rng.uniform(0.7, 1.3, o2.iloc[k + 1:].shape)
    c2.iloc[k + 1:] *= rng.uniform(0.7, 1.3, c2.iloc[k + 1:].shape)
    new = signals.make_labels(o2, v, cfg, close_adj=c2, eligible=elig)
    keep = k + 1 - ref.end_offset
    np.testing.assert_array_equal(ref.target[:keep], new.target[:keep])
    assert not np.allclose(np.nan_to_num(ref.target[keep:k + 1]), np.nan_to_num(new.target[keep:k + 1]))

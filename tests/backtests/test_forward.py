"""Forward returns from the market data: the labelling function's span and the close-to-close one."""

import numpy as np
import pytest

import data_store
from backtests.evidence.forward import forward_returns
from signals.inputs.labels import LabelConfig, make_labels


@pytest.fixture(scope="module")
def md():
    return data_store.load(use_cache=False).slice("2023-01-01", "2023-03-31", ["SH600519", "SH600036", "SZ000001"])


def test_open_span_is_the_labelling_function(md):
    for h in (1, 3):
        lab = make_labels(md.panel("open", adjusted=True), md.panel("volume"), LabelConfig(horizon=h))
        np.testing.assert_array_equal(forward_returns(md, h, "open").to_numpy(), lab.ret)


def test_close_span_by_hand(md):
    close = md.panel("close", adjusted=True)["SH600519"]
    fr = forward_returns(md, 2, "close")["SH600519"]
    t = md.calendar[10]
    assert fr.loc[t] == pytest.approx(close.iloc[12] / close.iloc[10] - 1, abs=1e-15)
    assert fr.iloc[-2:].isna().all()  # the last H days have no future close
    ex = forward_returns(md, 2, "close", excess=True)["SH600519"]
    idx = md.index["close"].to_numpy()
    assert ex.loc[t] == pytest.approx(fr.loc[t] - (idx[12] / idx[10] - 1), abs=1e-15)
    with pytest.raises(ValueError, match="span = 'vwap'"):
        forward_returns(md, 1, "vwap")


def test_a_return_across_a_suspect_jump_is_unknown_as_in_the_labels(md):
    """A missed adjustment planted in real bars (SH600036's raw prices x 0.6 from the 30th day,
    factor unchanged): the open-span return of the day two before it and the close-span returns
    over it are unknown, as the run's labels are (signals.prepare), unless keep_jumps."""
    import dataclasses

    from data_store.schema import anomaly_report
    from signals.inputs.prepared import prepare

    bars = md.bars.copy()
    jump = md.calendar[30]
    hit = (bars["symbol"] == "SH600036") & (bars["date"] >= jump)
    bars.loc[hit, ["open", "high", "low", "close"]] *= 0.6
    planted = dataclasses.replace(md, bars=bars, anomalies=anomaly_report(bars, md.calendar), _memo={})
    opened = forward_returns(planted, 1, "open")["SH600036"]
    assert opened.isna().iloc[28] and opened.notna().iloc[[27, 29]].all()
    assert forward_returns(planted, 1, "open", keep_jumps=True)["SH600036"].iloc[28] < -0.35
    run = prepare(planted).labels.ret[:, planted.symbols.index("SH600036")]
    np.testing.assert_array_equal(np.isnan(opened.to_numpy()), np.isnan(run))
    closed = forward_returns(planted, 2, "close")["SH600036"]  # close(t) .. close(t+2) crosses t+1, t+2
    assert closed.isna().iloc[[28, 29]].all() and closed.notna().iloc[[27, 30]].all()

"""Forward returns from the market data: the labelling function's span and the close-to-close one."""

import numpy as np
import pytest

import data_store
from backtests.forward import forward_returns
from signals.labels import LabelConfig, make_labels


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

"""Forward returns of each decision day, from the market data, for measuring a signal.

The predictions table carries the one return its label is the sign of; measuring a signal at other
horizons (IC decay) or on the close-to-close span other platforms use needs more, so it is computed
here from the adjusted prices, with the toolkit's timing (``core.timing``):

* ``open`` (what the strategy captures): the decision of day t fills at the open of t + FILL_LAG,
  so the return over H days is adjusted ``open(t+1+H) / open(t+1) - 1``. This IS the labelling
  function :func:`signals.make_labels` (called, not re-implemented), so at the label's horizon it
  equals the predictions' ``ret`` column.
* ``close`` (for comparison with platforms that trade at the close, as alphalens' forward returns
  do): adjusted ``close(t+H) / close(t) - 1``; it includes the night after the decision, which
  this toolkit's strategy cannot earn.

Either end on a day without a bar or with zero volume makes the return unknown (NaN), as for the
labels; ``excess`` subtracts the CSI-300 index's return over the same span; a return across a
suspect jump is unknown too, as in the run's labels, unless ``keep_jumps``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.timing import FILL_LAG
from data_store import MarketData
from signals.inputs.labels import LabelConfig, make_labels
from signals.inputs.prepared import crossing_jumps

__all__ = ["SPANS", "forward_returns"]

#: the spans :func:`forward_returns` knows
SPANS = ("open", "close")


def forward_returns(md: MarketData, horizon: int, span: str = "open", excess: bool = False,
                    keep_jumps: bool = False) -> pd.DataFrame:
    """Calendar x symbols frame of each decision day's forward return over ``horizon`` trading days
    (fractions; NaN where unknown, including the last days of the data). See the module docstring.

    A return that crosses a suspect jump (:func:`signals.inputs.prepared.crossing_jumps`) is unknown, as
    the run's labels are, unless ``keep_jumps`` (``labels.keep_jumps``)."""
    if span not in SPANS:
        raise ValueError(f"span = {span!r}: one of {SPANS}")
    volume = md.panel("volume")
    h = int(horizon)
    if span == "open":
        io = md.index["open"].to_numpy(dtype=float) if excess else None
        cfg = LabelConfig(horizon=horizon, relative="index" if excess else "none", target="return")
        lab = make_labels(md.panel("open", adjusted=True), volume, cfg, index_open=io)
        crossed = None if keep_jumps else crossing_jumps(md, FILL_LAG + 1, cfg.end_offset)
        ret_open = lab.target_ret if crossed is None else np.where(crossed, np.nan, lab.target_ret)
        return pd.DataFrame(ret_open, index=md.calendar, columns=volume.columns)
    px = md.panel("close", adjusted=True).to_numpy(dtype=np.float64, copy=True)
    with np.errstate(invalid="ignore"):
        px[~(volume.to_numpy(dtype=np.float64) > 0)] = np.nan
    ret = np.full(px.shape, np.nan)
    if len(px) > h:
        ret[: len(px) - h] = px[h:] / px[: len(px) - h] - 1.0
    if excess:
        ic = md.index["close"].to_numpy(dtype=np.float64)
        bench = np.full(len(ic), np.nan)
        if len(ic) > h:
            bench[: len(ic) - h] = ic[h:] / ic[: len(ic) - h] - 1.0
        ret = ret - bench[:, None]
    crossed = None if keep_jumps else crossing_jumps(md, 1, h)  # close(t) .. close(t+H)
    if crossed is not None:
        ret = np.where(crossed, np.nan, ret)
    return pd.DataFrame(ret, index=md.calendar, columns=volume.columns)

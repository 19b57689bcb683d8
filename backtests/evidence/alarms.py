"""Alarms that lead a report: figures that cannot be taken at face value, whatever the verdict says.

Each function returns one sentence (empty when there is nothing to say); :mod:`backtests.outputs`
puts them at the top of the tearsheet, before the verdict in ``metrics.json`` (``warnings``) and
in the terminal summary. The leakage audit's own failure is worded in
:func:`backtests.outputs.audit_lead`.

* :func:`look_ahead_allowed`: ``walk_forward.allow_leakage = true`` let a too-short embargo through,
  so the fitted labels end inside the next span: the run uses the future by construction;
* :func:`too_good`: a signal far better than any honest daily signal on this data. The thresholds
  were set from the toolkit's reference figures, not from any test result: the best published
  daily IC measured on the same data, label and days (qlib's LightGBM on Alpha158, IC 0.060; its
  LSTM 0.045; ``bench/bench_signal.py``). :data:`TOO_GOOD_IC` is over three times the best peer;
  :data:`TOO_GOOD_EDGE` is the hit-rate edge of a score whose correlation with the return is
  0.31 (for a jointly normal score and return, P(same sign) = 1/2 + arcsin(rho) / pi); either
  limit counts on both sides of zero (reading the future and ranking it backwards is as leaky). Figures
  like these are what a score that reads the return it predicts produces (a score equal to that
  return has IC 1 and accuracy 100%). The whole interval must lie beyond the limit, so that a short,
  noisy table does not raise the alarm by chance; without an interval (fewer than 20 days) the
  estimate itself.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..report.formatting import fmt
from .outcomes import label

__all__ = ["TOO_GOOD_EDGE", "TOO_GOOD_IC", "look_ahead_allowed", "too_good"]

#: an IC (or rank IC) whose interval lies above this is look-ahead until shown otherwise
TOO_GOOD_IC = 0.20
#: an accuracy edge over the best constant guess (fraction) whose interval lies above this, likewise
TOO_GOOD_EDGE = 0.10


def look_ahead_allowed(splitter: Any, labels: Any) -> str:
    """The alarm of a split whose embargo is shorter than the label's end offset (only possible
    with ``walk_forward.allow_leakage = true``); empty otherwise."""
    emb, need = splitter.embargo_days, int(labels.end_offset)
    if emb is None or emb >= need:
        return ""
    return (f"LOOK-AHEAD ALLOWED: walk_forward.allow_leakage = true let walk_forward.embargo_days = {emb} through, "
            f"shorter than the label's end offset ({need} days): the last training and validation labels of every "
            "window end inside the next span, so the model has seen prices of the days it is tested on. The "
            "figures below are no evidence of skill; set allow_leakage = false and embargo_days to auto.")


def _beyond(row: Mapping[str, Any], key: str, limit: float) -> float:
    """The end of the interval nearest zero when the whole interval lies beyond +-``limit`` (the
    estimate when there is no interval); NaN when it does not."""
    def num(k: str) -> float:
        v = row.get(k)
        try:
            return float(v) if v is not None else math.nan
        except (TypeError, ValueError):
            return math.nan

    lo, hi, est = num(f"{key}_lo"), num(f"{key}_hi"), num(key)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        lo = hi = est
    if lo > limit:
        return lo
    if hi < -limit:
        return hi
    return math.nan


def too_good(figures: Mapping[str, Mapping[str, Any]]) -> str:
    """The alarm of models whose prediction figures are too good to be honest (see the module
    docstring): an IC, rank IC or accuracy edge whose interval lies wholly beyond the threshold, on
    either side (a score that reads the future return and ranks it backwards is as leaky);
    ``figures``: each model's evidence row (``ic``, ``rank_ic``, ``accuracy_edge`` with
    ``_lo``/``_hi``). Empty when none is."""
    found = []
    for model, row in figures.items():
        what = []
        for key, name, limit, kind in (("ic", "IC", TOO_GOOD_IC, "sf3"), ("rank_ic", "rank IC", TOO_GOOD_IC, "sf3"),
                                       ("accuracy_edge", "accuracy edge", TOO_GOOD_EDGE, "pp")):
            if math.isfinite(_beyond(row, key, limit)):
                ci = f" [{fmt(row.get(f'{key}_lo'), kind)}, {fmt(row.get(f'{key}_hi'), kind)}]"
                what.append(f"{name} {fmt(row.get(key), kind)}{ci if 'n/a' not in ci else ''}")
        if what:
            found.append(f"{label(model)}: {', '.join(what)}")
    if not found:
        return ""
    return ("TOO GOOD TO BE TRUE, LOOK-AHEAD SUSPECTED: " + "; ".join(found) + ". The best published daily IC on "
            f"this data is about 0.06; beyond an IC of +-{TOO_GOOD_IC:.2f} or an accuracy edge of "
            f"+-{100 * TOO_GOOD_EDGE:.0f} pp (the whole interval) a score almost always reads the return it "
            "predicts. Check that each score uses data up to its date's close only (the trade fills at the next "
            "open) and that no label, return or later price went into it.")

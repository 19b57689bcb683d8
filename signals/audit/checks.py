"""The checks of the leakage audit (:mod:`signals.audit`): the scrambled future and the comparisons.

Each comparison looks at what a cut date T must leave unchanged when every bar after T is changed
or removed: the feature channels of days <= T (per channel, so the leaking one is named), the
labels whose declared end is <= T (so a label that reads further than it says is caught, and its
real end measured), and the predictions for dates <= T.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd

from data_store.market import MarketData
from data_store.schema import anomaly_report

from ..inputs.prepared import Prepared

__all__ = ["compare_channels", "compare_labels", "compare_predictions", "extra_reads_input", "perturb_after"]

#: the OHLC fields, perturbed each by its own factor so that intraday ratios change too
PRICES = ("open", "high", "low", "close")


def _scramble(frame: pd.DataFrame, after: np.ndarray, rng: np.random.Generator, lo: float, hi: float,
              volume: bool) -> pd.DataFrame:
    """``frame`` with its rows ``after`` scrambled: open and close each times its own factor in
    [lo, hi], high and low too but kept outside open and close (so bars stay valid), volume times
    [0.3, 3] with 5% of the rows set to 0 (suspended)."""
    n = int(after.sum())
    out = frame.copy()
    raw = {c: frame.loc[after, c].to_numpy(dtype=float) for c in PRICES}
    o, c = raw["open"] * rng.uniform(lo, hi, n), raw["close"] * rng.uniform(lo, hi, n)
    out.loc[after, "open"], out.loc[after, "close"] = o, c
    out.loc[after, "high"] = np.maximum(raw["high"] * rng.uniform(lo, hi, n), np.maximum(o, c))
    out.loc[after, "low"] = np.minimum(raw["low"] * rng.uniform(lo, hi, n), np.minimum(o, c))
    if volume and "volume" in frame:
        vol = frame.loc[after, "volume"].to_numpy(dtype=float) * rng.uniform(0.3, 3.0, n)
        vol[rng.random(n) < 0.05] = 0.0
        out.loc[after, "volume"] = vol
    return out


def perturb_after(md: MarketData, cut: pd.Timestamp, seed: int = 0) -> MarketData:
    """A copy of ``md`` whose bars (and index bars) after ``cut`` are scrambled, every field by its
    own random factor (per day and symbol): open, high, low and close in [0.7, 1.3] (high and low
    kept outside open and close, so bars stay valid and intraday ratios such as close/open or
    high/close change too), the back-adjustment factor in [0.9, 1.1], volume in [0.3, 3] with 5% of
    the bars made untradable (volume 0); index bars in [0.9, 1.1]. Bars on or before ``cut`` are
    untouched. Vendor characteristics after ``cut`` (when the data carry them) are scrambled too, each
    value by its own factor in [0.7, 1.3]."""
    rng = np.random.default_rng(seed)
    after = (md.bars["date"] > cut).to_numpy()
    bars = _scramble(md.bars, after, rng, 0.7, 1.3, volume=True)
    if "factor" in bars:
        bars.loc[after, "factor"] = bars.loc[after, "factor"].to_numpy(dtype=float) * rng.uniform(0.9, 1.1,
                                                                                                 int(after.sum()))
    ia = (md.index["date"] > cut).to_numpy()
    idx = _scramble(md.index, ia, rng, 0.9, 1.1, volume=True)
    chars = md.characteristics
    if chars is not None and len(chars):  # vendor characteristics after the cut: each value its own factor
        chars = chars.copy()
        late = (chars["date"] > cut).to_numpy()
        for col in chars.columns[2:]:
            chars.loc[late, col] = chars.loc[late, col].to_numpy(dtype=float) * rng.uniform(0.7, 1.3, int(late.sum()))
    # the anomaly report (its suspect jumps feed the masks of signals.prepare) is the scrambled bars' own
    return replace(md, bars=bars, index=idx, characteristics=chars, anomalies=anomaly_report(bars, md.calendar),
                   _memo={})


def _common(ref: Prepared, new: Prepared) -> tuple[list[int], list[int], list[str]]:
    """Symbol positions in ``ref`` and ``new`` of the symbols both have, and their names."""
    where = {s: j for j, s in enumerate(new.symbols)}
    syms = [s for s in ref.symbols if s in where]
    return [ref.symbols.index(s) for s in syms], [where[s] for s in syms], syms


def _differs(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Elementwise "not the same value" (NaN equals NaN; a value against NaN differs)."""
    with np.errstate(invalid="ignore"):
        return ~((a == b) | (np.isnan(a) & np.isnan(b)))


def compare_channels(ref: Prepared, new: Prepared, cut: pd.Timestamp) -> dict[str, Any]:
    """Feature channels (and the tradable-member mask) of days <= ``cut``: which changed, by how
    much, and a first example. A channel of day d may read bars of days <= d only."""
    cut_pos = int(ref.calendar.searchsorted(cut, side="right"))
    a_s, b_s, syms = _common(ref, new)
    a = ref.panel.day[:cut_pos][:, a_s]
    b = new.panel.day[:cut_pos][:, b_s]
    bad = _differs(a.astype(np.float64), b.astype(np.float64))
    names = list(ref.features.channels)
    changed = [names[c] for c in range(len(names)) if bad[:, :, c].any()]
    elig = ref.eligible[:cut_pos][:, a_s] != new.eligible[:cut_pos][:, b_s]
    if elig.any():
        changed.append("eligible (member and tradable)")
    # the samples a suspect jump keeps out of fitting: a sample of day d may look at jumps up to d only
    ref_clean = np.ones(ref.eligible.shape, bool) if ref.clean is None else ref.clean
    new_clean = np.ones(new.eligible.shape, bool) if new.clean is None else new.clean
    fit = ref_clean[:cut_pos][:, a_s] != new_clean[:cut_pos][:, b_s]
    if fit.any():
        changed.append("fit mask (samples crossing a suspect jump)")
    elig = elig | fit
    example = ""
    if changed and changed[0] in names:
        c = names.index(changed[0])
        d, s = (int(x[0]) for x in np.nonzero(bad[:, :, c]))
        example = (f"channel {changed[0]!r} of {syms[s]} on {ref.calendar[d].date()}: "
                   f"{float(a[d, s, c]):.6g} -> {float(b[d, s, c]):.6g}")
    with np.errstate(invalid="ignore"):
        diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    return {"compared": int(np.isfinite(a).sum()), "changed": int(bad.sum() + elig.sum()),
            "max_abs_diff": float(np.nanmax(diff)) if np.isfinite(diff).any() else 0.0,
            "channels": ", ".join(changed), "example": example}


def extra_reads_input(ref: Prepared, new: Prepared, cut: pd.Timestamp) -> dict[str, bool]:
    """For each user feature (``FeatureConfig.extra``): did its values AFTER ``cut`` change when the
    bars after the cut changed? A feature that does not move with the bars it is given was computed
    elsewhere (possibly from the full history), where no perturbation can check it."""
    cut_pos = int(ref.calendar.searchsorted(cut, side="right"))
    a_s, b_s, _ = _common(ref, new)
    names = list(ref.features.channels)
    out = {}
    for name, _ in ref.features.extra:
        c = names.index(name)
        a = ref.panel.day[cut_pos:][:, a_s, c].astype(np.float64)
        b = new.panel.day[cut_pos:][:, b_s, c].astype(np.float64)
        out[name] = bool(_differs(a, b).any()) or not np.isfinite(a).any()
    return out


def compare_labels(ref: Prepared, new: Prepared, cut: pd.Timestamp) -> dict[str, Any]:
    """Labels (the traded return and the training target) whose declared end is on or before
    ``cut`` must be unchanged; also the earliest
    decision day whose label changed (the label reads at least ``cut - that day + 1`` days ahead)."""
    cut_pos = int(ref.calendar.searchsorted(cut, side="right")) - 1  # position of the last day <= cut
    a_s, b_s, syms = _common(ref, new)
    n = min(len(ref.calendar), len(new.calendar))
    a = ref.labels.ret[:n][:, a_s]
    b = new.labels.ret[:n][:, b_s]
    declared = ref.labels.end_offset
    # the traded return and the training target (a rank or z-score reads the day's other stocks)
    bad = _differs(a, b) | _differs(ref.labels.target[:n][:, a_s], new.labels.target[:n][:, b_s])
    bad[cut_pos + 1:] = False  # decisions after the cut may change
    days = np.nonzero(bad.any(axis=1))[0]
    reads = int(cut_pos - days[0] + 1) if len(days) else 0  # days ahead the earliest changed label reads
    within = bad.copy()
    within[max(0, cut_pos - declared + 1):] = False  # labels that declare an end after the cut may change
    example = ""
    if within.any():
        d, s = (int(x[0]) for x in np.nonzero(within))
        example = (f"the label of {syms[s]} on {ref.calendar[d].date()} declares its end {declared} days later "
                   f"({ref.calendar[d + declared].date()}) but changed with the bars after {cut.date()}")
    return {"compared": int(np.isfinite(a[: max(0, cut_pos - declared + 1)]).sum()), "changed": int(within.sum()),
            "reads_days_ahead": reads, "example": example}


def compare_predictions(ref: pd.DataFrame, new: pd.DataFrame, cut: pd.Timestamp, atol: float) -> dict[str, Any]:
    """Predictions dated <= ``cut``: rows compared, missing or extra, changed beyond ``atol``."""
    a = ref.loc[ref["date"] <= cut, ["date", "symbol", "model", "p_up"]]
    b = new.loc[new["date"] <= cut, ["date", "symbol", "model", "p_up"]]
    m = a.merge(b, on=["date", "symbol", "model"], how="outer", suffixes=("_ref", "_new"), indicator=True)
    missing = int((m["_merge"] != "both").sum())
    both = m[m["_merge"] == "both"]
    diff = (both["p_up_ref"] - both["p_up_new"]).abs().to_numpy()
    changed = both.loc[diff > atol]
    return {"compared": len(both), "rows_missing_or_extra": missing,
            "changed": len(changed), "max_abs_diff": float(diff.max()) if len(diff) else 0.0,
            "example": "" if changed.empty else
            f"{changed.iloc[0]['model']} {changed.iloc[0]['symbol']} {changed.iloc[0]['date'].date()}: "
            f"p_up {changed.iloc[0]['p_up_ref']:.6f} -> {changed.iloc[0]['p_up_new']:.6f}"}

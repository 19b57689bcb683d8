"""The leakage audit's checks of the styles and of the neutralisation (:mod:`signals.audit`).

What a cut date T must leave unchanged when every bar after T is changed or removed:

* **styles**: every style's value on every day <= T, compared style by style, so a style that reads
  the future (a window that reaches past its day, tomorrow's close) is named;
* **neutralisation**: the residual of a fixed score table after each day's regression on the styles
  (:func:`signals.styles.neutral.neutral_scores`, what ``styles.neutral_scores`` trades and what
  ``labels.neutral`` trains on) on every day <= T.

A style-neutral training target is covered by the labels check as well: ``signals.prepare`` builds
its labels from the styles of the data it is given.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from data_store.market import MarketData

from ..styles.library import StylePanel, compute_styles
from ..styles.neutral import neutral_scores
from .checks import _differs

__all__ = ["StyleAudit", "compare_neutralisation", "compare_styles"]


class StyleAudit:
    """The styles under audit: library names and functions of your own (name -> f(MarketData) ->
    calendar x symbols array), computed on the reference data once."""

    def __init__(self, md: MarketData, names: Sequence[str],
                 functions: Mapping[str, Callable[[MarketData], np.ndarray]] | None = None, seed: int = 0) -> None:
        self.names, self.functions = list(names), dict(functions or {})
        self.ref = self.panel(md)
        rng = np.random.default_rng(seed)
        ok = md.tradable_mask().stack()
        ok = ok[ok].reset_index()
        ok.columns = ["date", "symbol", "ok"]
        #: a fixed score table on the reference's tradable member days (what is neutralised)
        self.scores = ok[["date", "symbol"]].assign(symbol=lambda d: d["symbol"].astype(str),
                                                    p_up=rng.random(len(ok)))
        self.ref_neutral = neutral_scores(self.scores, self.ref, self.ref.names) if self.ref.names else None

    @property
    def active(self) -> bool:
        return bool(self.ref.names)

    def panel(self, md: MarketData) -> StylePanel:
        return compute_styles(md, self.names, compute=self.functions) if (self.names or self.functions) else \
            StylePanel(values={}, styles=[], calendar=md.calendar, symbols=list(md.symbols))


def compare_styles(ref: StylePanel, new: StylePanel, cut: pd.Timestamp) -> dict[str, Any]:
    """Every style's values of the days <= ``cut`` (and symbols both panels have): how many differ,
    which styles, an example."""
    days = int((ref.calendar <= cut).sum())
    where = {s: j for j, s in enumerate(new.symbols)}
    syms = [s for s in ref.symbols if s in where]
    a_idx, b_idx = [ref.symbols.index(s) for s in syms], [where[s] for s in syms]
    changed, compared, names, example = 0, 0, [], ""
    for name in ref.names:
        a = ref.values[name][:days][:, a_idx]
        b = new.values[name][:days][:, b_idx]
        diff = _differs(a, b) & ~(np.isclose(a, b, rtol=1e-9, atol=1e-12))
        compared += a.size
        if diff.any():
            changed += int(diff.sum())
            names.append(name)
            if not example:
                i, j = map(int, np.argwhere(diff)[0])
                example = (f"style {name} of {syms[j]} on {ref.calendar[i].date()} changed from {a[i, j]:.6g} to "
                           f"{b[i, j]:.6g} when only data after {cut.date()} changed")
    return {"compared": compared, "changed": changed, "channels": ", ".join(names), "example": example}


def compare_neutralisation(audit: StyleAudit, new: StylePanel, cut: pd.Timestamp) -> dict[str, Any]:
    """The fixed scores neutralised on the reference styles and on ``new``'s, on the days <= ``cut``."""
    assert audit.ref_neutral is not None
    ref = audit.ref_neutral
    keep = (ref["date"] <= cut).to_numpy()
    again = neutral_scores(audit.scores.loc[keep], new, audit.ref.names)
    a, b = ref.loc[keep, "p_up"].to_numpy(), again["p_up"].to_numpy()
    diff = _differs(a, b) & ~np.isclose(a, b, rtol=1e-9, atol=1e-12)
    # a day too small for the regression has no neutral score on either side: nothing compared
    compared = int((np.isfinite(a) | np.isfinite(b)).sum())
    example = ""
    if diff.any():
        r = ref.loc[keep].iloc[int(np.flatnonzero(diff)[0])]
        example = f"the style-neutral score of {r['symbol']} on {pd.Timestamp(r['date']).date()} changed"
    return {"compared": compared, "changed": int(diff.sum()), "example": example}

"""Where the money came from: the style-factor returns inside the universe, and a strategy's
returns attributed to the index and to them (pyfolio-style performance attribution).

Style-factor returns (:func:`factor_returns`), one per continuous style, built inside the
point-in-time CSI-300 with the toolkit's fill convention and the strategy's breadth: on each
decision day ``t`` the tradable members with a value are ranked by the style, and the held side's
top ``share`` of them (``share`` = the strategy's k names over the day's tradable members, so a
30-name TopK of 300 members is compared with the 10% most low-volatility names) is bought at the
open of ``t + 1`` (``core.timing.FILL_LAG``) and held over the whole close-to-close day ``t + 2``;
the factor is that portfolio's equal-weighted return (adjusted closes; a suspended day earns 0)
minus the equal-weighted return of all the tradable members, booked on ``t + 2`` like the
strategy's own daily returns. A long-only strategy holds only one side of a style, so its factor is
that side over the universe (not the long-short spread, whose short leg it never holds), at the
breadth it holds. ``equal_weight`` is the equal-weighted members' return minus the CSI-300's (what
equal weighting earns over cap weighting: mostly smaller names).

Attribution (:func:`attribute`): the strategy's daily returns regressed on the CSI-300, the
equal-weight factor and every style factor (:func:`backtests.evidence.stats.factor_regression`,
Newey-West errors). The intercept is the alpha after styles; each loading says how much of a style
the strategy held, and its contribution (loading x the factor's mean return, a year) how much of the
return that style paid. Figures are flat floats keyed for a model's row of ``metrics.json``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.timing import FILL_LAG
from data_store import MarketData
from signals.styles.library import StylePanel

from . import stats

__all__ = ["EQUAL_WEIGHT", "INDEX", "attribute", "breadth", "carriers", "factor_returns"]

#: the name of the equal-weighted member portfolio's return over the CSI-300's
EQUAL_WEIGHT = "equal_weight"
#: the name of the CSI-300 column of the regression
INDEX = "index"
#: trading days from the decision day to the day whose close-to-close return a factor earns
HOLD_LAG = FILL_LAG + 1


def _shift(x: np.ndarray, k: int) -> np.ndarray:
    out = np.full(x.shape, np.nan)
    out[k:] = x[: len(x) - k]
    return out


def factor_returns(md: MarketData, panel: StylePanel, names: list[str] | None = None,
                   share: float = 1.0 / 3.0) -> pd.DataFrame:
    """Calendar x factors frame of daily returns (fractions, booked on the day earned): one column
    per continuous style of ``names`` (default: all of the panel's), the held side's top ``share`` of
    the tradable members minus all of them, equal-weighted; then ``equal_weight`` (the
    equal-weighted tradable members minus the CSI-300). NaN before a factor can be formed."""
    if not 0.0 < share <= 0.5:
        raise ValueError(f"share = {share!r}: the held side's share of the members, in (0, 0.5]")
    names = panel.continuous if names is None else [n for n in names if not panel.style(n).categorical]
    close = md.panel("close", adjusted=True).to_numpy(np.float64)
    vol = md.panel("volume").to_numpy(np.float64)
    with np.errstate(invalid="ignore"):
        traded = (vol > 0) & np.isfinite(close)
    last = pd.DataFrame(np.where(traded, close, np.nan)).ffill().to_numpy()
    hold = np.full(last.shape, np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        hold[1:] = last[1:] / last[:-1] - 1.0  # a held name's day: 0 while suspended
    members = _shift(md.tradable_mask().to_numpy(np.float64), HOLD_LAG) > 0.5
    earn = members & np.isfinite(hold)
    bench = md.benchmark_returns().reindex(md.calendar).to_numpy(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        ew = np.where(earn, hold, 0.0).sum(1) / earn.sum(1)
    ew = np.where(earn.sum(1) > 0, ew, np.nan)
    out: dict[str, np.ndarray] = {}
    for name in names:
        x = _shift(panel.premium(name), HOLD_LAG)
        ok = earn & np.isfinite(x)
        pct = pd.DataFrame(np.where(ok, x, np.nan)).rank(axis=1, pct=True).to_numpy()
        top = ok & (pct > 1.0 - share)
        with np.errstate(invalid="ignore", divide="ignore"):
            f = np.where(top, hold, 0.0).sum(1) / top.sum(1) - ew
        out[name] = np.where(top.sum(1) > 0, f, np.nan)
    out[EQUAL_WEIGHT] = ew - bench
    return pd.DataFrame(out, index=md.calendar)


def breadth(held: int, members: pd.Series) -> float:
    """The share of the members a strategy of ``held`` names holds: ``held`` over the median count
    of tradable members a day, kept within [0.05, 0.5]."""
    n = float(np.median(members)) if len(members) else float("nan")
    return float(min(0.5, max(0.05, held / n))) if n > 0 else 1.0 / 3.0


def attribute(returns: pd.Series, reference: pd.Series, factors: pd.DataFrame, periods_per_year: int,
              confidence: float = 0.95, prefix: str = "") -> dict[str, float]:
    """The figures of ``returns`` regressed on ``reference`` (the CSI-300) and ``factors``
    (:func:`factor_returns`), keyed ``<prefix>style_alpha`` (+ ``_se _lo _hi _t _p``, a fraction a
    year), ``<prefix>style_r2``, ``<prefix>style_beta`` (the index loading), and per factor ``f``:
    ``<prefix>loading_<f>`` (+ ``_lo _hi _t``) and ``<prefix>contrib_<f>`` (a fraction a year)."""
    X = pd.concat([reference.rename(INDEX), factors], axis=1).reindex(returns.index)
    X = X.loc[:, X.notna().any()]
    fit = stats.factor_regression(returns, X, periods_per_year, confidence)
    out = {f"{prefix}style_{k}": float(fit[k]) for k in ("alpha", "alpha_se", "alpha_lo", "alpha_hi", "alpha_t",
                                                         "alpha_p", "r2")}
    for name, lo in fit["loadings"].items():
        if name == INDEX:
            out[f"{prefix}style_beta"] = lo["beta"]
            continue
        out.update({f"{prefix}loading_{name}": lo["beta"], f"{prefix}loading_{name}_lo": lo["lo"],
                    f"{prefix}loading_{name}_hi": lo["hi"], f"{prefix}loading_{name}_t": lo["t"],
                    f"{prefix}contrib_{name}": lo["contribution"]})
    return out


def carriers(row: dict[str, float] | pd.Series, names: list[str], prefix: str = "") -> list[tuple[str, float]]:
    """The factors that carried a strategy's return: a loading whose interval excludes zero and a
    positive contribution, largest contribution first, as (factor, contribution a year)."""
    out = []
    for n in names:
        lo, hi = row.get(f"{prefix}loading_{n}_lo"), row.get(f"{prefix}loading_{n}_hi")
        c = row.get(f"{prefix}contrib_{n}")
        try:
            lo, hi, c = float(lo), float(hi), float(c)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        if np.isfinite(c) and c > 0 and np.isfinite(lo) and (lo > 0 or hi < 0):
            out.append((n, c))
    return sorted(out, key=lambda x: -x[1])

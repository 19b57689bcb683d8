"""A causal factor library of the kind of qlib's Alpha158, computed vectorised from the panels.

Every factor of day ``d`` reads bars of days ``<= d`` only: k-bar shape and price ratios of the
day itself, and rolling families over trailing windows of 5/10/20/30/60 trading days (never
centred). Inputs are calendar x symbols panels of adjusted ``open high low close`` and adjusted
``volume`` (shares / back-adjustment factor, so splits and bonus shares are no volume jumps), NaN
on days without a tradable bar; rolling statistics skip those days and need a share
``min_frac`` of the window observed (else NaN). Nothing is forward-filled.

Families (``<F><n>`` for a window of n days; ratios to the decision day's close ``c``):

=========  =================================================================================
kbar       KMID (c-o)/o, KLEN (h-l)/o, KMID2 (c-o)/(h-l), KUP (h-max(o,c))/o, KUP2 .../(h-l),
           KLOW (min(o,c)-l)/o, KLOW2 .../(h-l), KSFT (2c-h-l)/o, KSFT2 .../(h-l)
price      OPEN0 o/c, HIGH0 h/c, LOW0 l/c
ROC        close n days ago / c          MA, STD   mean, std of close / c
BETA       slope of log close per day    RSQR      R^2 of that line; RESI its last residual
MAX, MIN   highest high, lowest low / c  QTLU/QTLD 80% / 20% quantile of close / c
RANK       percentile of c in the window RSV       (c - lowest low) / (highest high - lowest low)
IMAX/IMIN  days since the high / low, / n;  IMXD   (days since low - days since high) / n
CORR       corr(close, log(1+volume));   CORD      corr(daily return, log(1 + volume ratio))
CNTP/N/D   share of up / down days, their difference
SUMP/N/D   gains / losses as shares of total absolute moves, their difference
VMA, VSTD  mean, std of volume / today's volume;  WVMA  std / mean of |return| x volume
VSUMP/N/D  volume increases / decreases as shares of total absolute volume changes
=========  =================================================================================
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

import bottleneck as bn
import numpy as np
import pandas as pd

from ..errors import ConfigError

__all__ = ["FACTOR_NAMES", "FACTOR_PATTERN", "WINDOWS", "compute_factors", "resolve_factors"]

WINDOWS = (5, 10, 20, 30, 60)
KBAR = ("KMID", "KLEN", "KMID2", "KUP", "KUP2", "KLOW", "KLOW2", "KSFT", "KSFT2")
PRICE = ("OPEN0", "HIGH0", "LOW0")
ROLLING = ("ROC", "MA", "STD", "BETA", "RSQR", "RESI", "MAX", "MIN", "QTLU", "QTLD", "RANK", "RSV", "IMAX", "IMIN",
           "IMXD", "CORR", "CORD", "CNTP", "CNTN", "CNTD", "SUMP", "SUMN", "SUMD", "VMA", "VSTD", "WVMA", "VSUMP",
           "VSUMN", "VSUMD")
#: every factor, in the library's order (kbar, price, then each family over each window)
FACTOR_NAMES = KBAR + PRICE + tuple(f"{f}{n}" for f in ROLLING for n in WINDOWS)
#: group selectors: ``alpha158`` = every factor, ``kbar``, ``price``, or a family name (all its windows)
GROUPS = {"alpha158": FACTOR_NAMES, "kbar": KBAR, "price": PRICE,
          **{f: tuple(f"{f}{n}" for n in WINDOWS) for f in ROLLING}}
#: the selectors :attr:`signals.FeatureConfig.factors` accepts
FACTOR_PATTERN = "|".join(sorted(set(GROUPS) | set(FACTOR_NAMES), key=lambda s: (-len(s), s)))
EPS = 1e-12


def resolve_factors(selectors: Iterable[str]) -> tuple[str, ...]:
    """Factor names of ``selectors`` (names, families or groups), without repeats, in library order."""
    want: set[str] = set()
    for s in selectors:
        if s in GROUPS:
            want.update(GROUPS[s])
        elif s in FACTOR_NAMES:
            want.add(s)
        else:
            raise ConfigError(f"factor {s!r} is unknown: use a name like ROC5, a family like ROC, or a group "
                              f"(alpha158, kbar, price)")
    return tuple(n for n in FACTOR_NAMES if n in want)


class _Roll:
    """Trailing-window statistics along the calendar axis (bottleneck; NaN skipped)."""

    def __init__(self, n: int, min_frac: float) -> None:
        self.n = n
        self.min_count = max(2, min(n, int(np.ceil(min_frac * n))))

    def mean(self, x: np.ndarray) -> np.ndarray:
        return bn.move_mean(x, self.n, min_count=self.min_count, axis=0)

    def sum(self, x: np.ndarray) -> np.ndarray:
        return bn.move_sum(x, self.n, min_count=self.min_count, axis=0)

    def std(self, x: np.ndarray) -> np.ndarray:
        return bn.move_std(x, self.n, min_count=self.min_count, axis=0, ddof=1)

    def max(self, x: np.ndarray) -> np.ndarray:
        return bn.move_max(x, self.n, min_count=self.min_count, axis=0)

    def min(self, x: np.ndarray) -> np.ndarray:
        return bn.move_min(x, self.n, min_count=self.min_count, axis=0)

    def corr(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Pearson correlation over the days where both are known."""
        both = np.isfinite(a) & np.isfinite(b)
        a, b = np.where(both, a, np.nan), np.where(both, b, np.nan)
        ma, mb = self.mean(a), self.mean(b)
        cov = self.mean(a * b) - ma * mb
        va, vb = self.mean(a * a) - ma * ma, self.mean(b * b) - mb * mb
        with np.errstate(invalid="ignore", divide="ignore"):
            out = cov / np.sqrt(va * vb)
        out[~((va > EPS) & (vb > EPS))] = np.nan
        return np.clip(out, -1.0, 1.0)

    def quantile(self, x: np.ndarray, q: float) -> np.ndarray:
        return pd.DataFrame(x).rolling(self.n, min_periods=self.min_count).quantile(q).to_numpy()


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / b


def _shares(diff: np.ndarray, roll: _Roll) -> tuple[np.ndarray, np.ndarray]:
    """(sum of positive moves, sum of negative moves) / sum of absolute moves over the window."""
    tot = roll.sum(np.abs(diff)) + EPS
    return roll.sum(np.where(np.isnan(diff), np.nan, np.maximum(diff, 0.0))) / tot, \
        roll.sum(np.where(np.isnan(diff), np.nan, np.maximum(-diff, 0.0))) / tot


def _line(y: np.ndarray, roll: _Roll) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Least-squares line of ``y`` on the day number over each window: (slope, R^2, last residual)."""
    # day numbers count from the first row: an origin that depends on the panel's length (its middle,
    # say) would make every value depend, in its last bits, on how many days come after it
    t = np.broadcast_to(np.arange(y.shape[0], dtype=np.float64)[:, None], y.shape)
    t = np.where(np.isfinite(y), t, np.nan)
    mt, my = roll.mean(t), roll.mean(y)
    ctt = roll.mean(t * t) - mt * mt
    cty = roll.mean(t * y) - mt * my
    cyy = roll.mean(y * y) - my * my
    with np.errstate(invalid="ignore", divide="ignore"):
        slope = cty / ctt
        r2 = np.clip(cty * cty / (ctt * cyy), 0.0, 1.0)
    r2[~(cyy > EPS)] = np.nan
    t_now = np.arange(y.shape[0], dtype=np.float64)[:, None]
    resid = y - (my + slope * (t_now - mt))
    return slope, r2, resid


def _family(name: str, n: int, p: Mapping[str, np.ndarray], roll: _Roll, cache: dict) -> dict[str, np.ndarray]:
    """Every factor of family ``name`` over window ``n`` that shares its intermediate results."""
    h, lo, c, v = p["high"], p["low"], p["close"], p["volume"]
    if "dc" not in cache:
        cache["c1"] = np.vstack([np.full((1, c.shape[1]), np.nan), c[:-1]])
        cache["v1"] = np.vstack([np.full((1, v.shape[1]), np.nan), v[:-1]])
        cache["dc"] = c - cache["c1"]
        cache["ret"] = _ratio(c, cache["c1"]) - 1.0
        with np.errstate(invalid="ignore", divide="ignore"):
            cache["logc"] = np.log(c)
    ret = cache["ret"]
    if name == "ROC":
        shifted = np.vstack([np.full((n, c.shape[1]), np.nan), c[:-n]]) if n < len(c) else np.full_like(c, np.nan)
        return {"ROC": _ratio(shifted, c)}
    if name in ("MA", "STD"):
        return {"MA": _ratio(roll.mean(c), c), "STD": _ratio(roll.std(c), c)}
    if name in ("BETA", "RSQR", "RESI"):
        slope, r2, resid = _line(cache["logc"], roll)
        return {"BETA": slope, "RSQR": r2, "RESI": resid}
    if name in ("MAX", "MIN", "RSV"):
        hi, lw = roll.max(h), roll.min(lo)
        return {"MAX": _ratio(hi, c), "MIN": _ratio(lw, c), "RSV": _ratio(c - lw, hi - lw + EPS)}
    if name in ("QTLU", "QTLD"):
        return {"QTLU": _ratio(roll.quantile(c, 0.8), c), "QTLD": _ratio(roll.quantile(c, 0.2), c)}
    if name == "RANK":
        return {"RANK": (bn.move_rank(c, n, min_count=roll.min_count, axis=0) + 1.0) / 2.0}
    if name in ("IMAX", "IMIN", "IMXD"):
        ok = roll.max(h)  # NaN where too few days are observed
        since_hi = np.where(np.isnan(ok), np.nan, bn.move_argmax(h, n, min_count=roll.min_count, axis=0))
        since_lo = np.where(np.isnan(ok), np.nan, bn.move_argmin(lo, n, min_count=roll.min_count, axis=0))
        return {"IMAX": since_hi / n, "IMIN": since_lo / n, "IMXD": (since_lo - since_hi) / n}
    if name == "CORR":
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"CORR": roll.corr(c, np.log1p(v))}
    if name == "CORD":
        with np.errstate(invalid="ignore", divide="ignore"):
            return {"CORD": roll.corr(ret, np.log1p(_ratio(v, cache["v1"])))}
    if name in ("CNTP", "CNTN", "CNTD"):
        up = roll.mean(np.where(np.isnan(ret), np.nan, (ret > 0).astype(np.float64)))
        dn = roll.mean(np.where(np.isnan(ret), np.nan, (ret < 0).astype(np.float64)))
        return {"CNTP": up, "CNTN": dn, "CNTD": up - dn}
    if name in ("SUMP", "SUMN", "SUMD"):
        sp, sn = _shares(cache["dc"], roll)
        return {"SUMP": sp, "SUMN": sn, "SUMD": sp - sn}
    if name in ("VMA", "VSTD"):
        return {"VMA": _ratio(roll.mean(v), v + EPS), "VSTD": _ratio(roll.std(v), v + EPS)}
    if name == "WVMA":
        w = np.abs(ret) * v
        return {"WVMA": _ratio(roll.std(w), roll.mean(w) + EPS)}
    if name in ("VSUMP", "VSUMN", "VSUMD"):
        sp, sn = _shares(v - cache["v1"], roll)
        return {"VSUMP": sp, "VSUMN": sn, "VSUMD": sp - sn}
    raise ConfigError(f"unknown factor family {name!r}")  # pragma: no cover - FACTOR_NAMES is closed


def _day(name: str, p: Mapping[str, np.ndarray]) -> np.ndarray:
    o, h, lo, c = p["open"], p["high"], p["low"], p["close"]
    rng = h - lo + EPS
    top, bottom = np.maximum(o, c), np.minimum(o, c)
    formulas = {"KMID": lambda: _ratio(c - o, o), "KLEN": lambda: _ratio(h - lo, o), "KMID2": lambda: (c - o) / rng,
                "KUP": lambda: _ratio(h - top, o), "KUP2": lambda: (h - top) / rng,
                "KLOW": lambda: _ratio(bottom - lo, o), "KLOW2": lambda: (bottom - lo) / rng,
                "KSFT": lambda: _ratio(2 * c - h - lo, o), "KSFT2": lambda: (2 * c - h - lo) / rng,
                "OPEN0": lambda: _ratio(o, c), "HIGH0": lambda: _ratio(h, c), "LOW0": lambda: _ratio(lo, c)}
    return formulas[name]()


_NAME = re.compile(r"([A-Z]+?)(\d+)$")


def compute_factors(panels: Mapping[str, np.ndarray], names: Iterable[str], min_frac: float = 0.5,
                    out: np.ndarray | None = None) -> np.ndarray:
    """The factors ``names`` (see :data:`FACTOR_NAMES`) as a (days, symbols, factors) float32 array.

    ``panels``: ``open high low close volume`` (adjusted; NaN on days without a tradable bar),
    each (days, symbols) float64. ``min_frac``: share of a window that must be observed.
    ``out``: an array to fill (its last axis holds ``names`` in order). Infinite values become NaN,
    and so does every factor of a day without a bar (the day is masked, like the raw channels)."""
    names = tuple(names)
    p = {k: np.asarray(panels[k], dtype=np.float64) for k in ("open", "high", "low", "close", "volume")}
    shape = p["close"].shape
    if out is None:
        out = np.empty((*shape, len(names)), dtype=np.float32)
    pos = {n: i for i, n in enumerate(names)}
    unobserved = ~np.isfinite(p["close"])  # a day without a tradable bar has no factor value (masked)
    cache: dict = {}
    done: set[str] = set()
    for name in names:
        if name in done:
            continue
        if name in KBAR or name in PRICE:
            vals = {name: _day(name, p)}
        else:
            m = _NAME.fullmatch(name)
            if m is None or name not in FACTOR_NAMES:
                raise ConfigError(f"factor {name!r} is unknown (see signals.inputs.factors.FACTOR_NAMES)")
            fam, n = m.group(1), int(m.group(2))
            vals = {f"{k}{n}": v for k, v in _family(fam, n, p, _Roll(n, min_frac), cache).items()}
        for k, v in vals.items():
            if k in pos and k not in done:
                col = out[:, :, pos[k]]
                col[...] = v
                col[~np.isfinite(col) | unobserved] = np.nan
                done.add(k)
    return out

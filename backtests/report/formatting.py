"""How numbers are written, in the terminal summary, the comparison table and the tearsheet.

One function, :func:`fmt`, with one name per kind of number; an undefined value (None, NaN, inf) is
always written ``n/a`` and a value that rounds to zero never gets a sign (no "-0.0%").
"""

from __future__ import annotations

import html
import math
from typing import Any

import pandas as pd

__all__ = ["KINDS", "fmt", "pct"]

#: the kinds of :func:`fmt`
KINDS = ("pct", "spct", "pp", "bp", "f2", "f3", "sf2", "sf3", "int", "cny", "date", "name")


def _finite(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def pct(x: Any, digits: int = 1, sign: bool = False) -> str:
    """A fraction as a percentage (``0.0123 -> '1.2%'``, with ``sign``: ``'+1.2%'``); 'n/a' if undefined."""
    if not _finite(x):
        return "n/a"
    v = round(100.0 * float(x), digits) + 0.0  # + 0.0: no negative zero
    return f"{v:+.{digits}f}%" if sign else f"{v:.{digits}f}%"


def fmt(v: Any, kind: str) -> str:
    """``v`` written as ``kind``: pct (fraction -> 12.3%), spct (signed), pp (percentage points,
    signed, from a fraction), bp (basis points, signed, from a fraction: 0.00021 -> +2.1 bp), f2/f3
    (decimals), sf2/sf3 (signed, 2 or 3 decimals), int (thousands separator),
    cny (whole yuan), date (YYYY-MM-DD), name (HTML-escaped text)."""
    if kind == "name":
        return html.escape(str(v))
    if kind == "date":
        return "n/a" if v is None or pd.isna(v) else f"{pd.Timestamp(v):%Y-%m-%d}"
    if not _finite(v):
        return "n/a"
    x = float(v)
    if kind == "pct":
        return pct(x)
    if kind == "spct":
        return pct(x, sign=True)
    if kind == "pp":
        return f"{round(100.0 * x, 1) + 0.0:+.1f} pp"
    if kind == "bp":
        return f"{round(1e4 * x, 1) + 0.0:+.1f} bp"
    if kind in ("f2", "f3", "sf2", "sf3"):
        d = 2 if kind in ("f2", "sf2") else 3
        r = round(x, d) + 0.0
        return f"{r:+.{d}f}" if kind.startswith("s") else f"{r:.{d}f}"
    if kind == "int":
        return f"{int(round(x)):,}"
    if kind == "cny":
        return f"{round(x) + 0:,.0f}"
    raise ValueError(f"unknown number kind {kind!r}: one of {KINDS}")

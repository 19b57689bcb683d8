"""Symbol codes as users type them: one list syntax, a suggestion for a near miss, the table of codes.

* :func:`split_symbols`: the ONE list syntax of every command line's ``--symbols``: codes separated
  by commas (``SH600519,SZ000001``); spaces separate too, so ``--symbols SH600519 SZ000001`` reads
  the same;
* :func:`did_you_mean`: for codes the data lack, the codes it has that the user most likely meant:
  the exchange-prefixed code of a bare or suffixed one (``600519`` or ``600519.SH`` ->
  ``SH600519``), whatever the case;
* :func:`symbol_table`: what ``python -m data_store symbols`` prints: each code with its name, first
  and last bar, and its CSI-300 membership spans; optionally only the members of one day.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

import pandas as pd

from core.errors import ConfigError

if TYPE_CHECKING:
    from .market import MarketData

__all__ = ["did_you_mean", "split_symbols", "symbol_table", "unknown_symbols_text"]

_DIGITS = re.compile(r"(\d{6})")


def split_symbols(values: str | Sequence[str] | None) -> list[str]:
    """The codes of a ``--symbols`` value: comma- (or space-) separated, in one string or several
    (argparse's ``nargs``); upper-cased, order kept. An empty item (``SH600519,,SZ000001``, a
    trailing comma) is refused, as in a config file."""
    if values is None:
        return []
    items = [values] if isinstance(values, str) else list(values)
    out = []
    for item in items:
        toks = re.split(r"\s*,\s*|\s+", str(item).strip())
        if any(not t for t in toks):
            raise ConfigError(f"--symbols {str(item)!r} has an empty item: remove the extra comma "
                              "(codes are comma-separated, e.g. SH600519,SZ000001)")
        out += [t.upper() for t in toks]
    return out


def did_you_mean(unknown: Iterable[str], known: Iterable[str]) -> dict[str, str]:
    """For each code of ``unknown`` that names a code of ``known`` by its six digits (a bare
    ``600519``, ``600519.SH``, ``sh600519``), that code; codes with no such match are left out."""
    by_digits: dict[str, list[str]] = {}
    for k in known:
        by_digits.setdefault(str(k)[-6:], []).append(str(k))
    out = {}
    for u in unknown:
        m = _DIGITS.search(str(u))
        hits = by_digits.get(m.group(1), []) if m else []
        if len(hits) == 1 and hits[0] != str(u):
            out[str(u)] = hits[0]
    return out


def unknown_symbols_text(unknown: Sequence[str], known: Iterable[str]) -> str:
    """One sentence on codes the data lack: a suggestion for each near miss, else the way to list
    the codes (``python -m data_store symbols``)."""
    hint = did_you_mean(unknown, known)
    shown = list(unknown)[:10]
    if hint:
        means = ", ".join(f"{k} for {u}" for u, k in hint.items())
        return (f"unknown symbol(s) {shown}: did you mean {means}? Symbols are exchange-prefixed codes (SH600519, "
                "SZ000001); `python -m data_store symbols` lists them")
    return (f"unknown symbol(s) {shown}: use exchange-prefixed codes with bars in the data (e.g. SH600519, "
            "SZ000001); `python -m data_store symbols` lists them")


def _spans_text(spans: pd.DataFrame, calendar: pd.DatetimeIndex) -> str:
    """``start..last`` per span, ``last`` the last trading day before its (exclusive) end, or the day
    before the end when the calendar does not reach back to it; ``start..`` while still a member."""
    def last(end: pd.Timestamp) -> str:
        pos = int(calendar.searchsorted(end)) - 1
        day = calendar[pos] if pos >= 0 and end <= calendar[-1] + pd.Timedelta(days=7) else end - pd.Timedelta(days=1)
        return str(day.date())

    return "; ".join(f"{r.start.date()}..{'' if pd.isna(r.end) else last(r.end)}" for r in spans.itertuples())


def symbol_table(md: MarketData, on: pd.Timestamp | str | None = None,
                 symbols: Sequence[str] | None = None) -> pd.DataFrame:
    """One row per code (sorted): ``symbol``, ``name`` (the latest name the membership source gives),
    ``first_bar`` and ``last_bar`` (dates of its first and last bar in the data; empty when it has
    none), ``bars`` (their count) and ``member`` (its CSI-300 membership spans, inclusive days,
    ``2005-04-08..`` for a member to this day). ``on``: only the members of that day; ``symbols``:
    only these codes. The codes are those with bars or a membership span."""
    sp = md.membership.spans
    span_text = {s: _spans_text(g, md.calendar) for s, g in sp.groupby("symbol", sort=True)}
    name = sp.sort_values("start").groupby("symbol")["name"].last()
    g = md.bars.groupby("symbol", observed=True)["date"]
    first, last, count = g.min(), g.max(), g.size()
    for s in (first, last, count):
        s.index = s.index.astype(str)
    codes = sorted(set(span_text) | set(first.index))
    if on is not None:
        members = set(md.members(pd.Timestamp(on)))
        codes = [c for c in codes if c in members]
    if symbols:
        wanted = set(symbols)
        codes = [c for c in codes if c in wanted]
    return pd.DataFrame({
        "symbol": codes,
        "name": [name.get(c, "") for c in codes],
        "first_bar": [first[c].date() if c in first.index else "" for c in codes],
        "last_bar": [last[c].date() if c in last.index else "" for c in codes],
        "bars": [int(count[c]) if c in count.index else 0 for c in codes],
        "member": [span_text.get(c, "") for c in codes],
    })

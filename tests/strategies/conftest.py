"""Fixtures of the strategies tests: tiny hand-made markets and the real snapshot."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import data_store
from data_store.membership.universe import Membership
from data_store.schema import AnomalyReport


def make_market(days: list[str], bars: dict[str, list], members: dict[str, tuple] | None = None,
                ) -> data_store.MarketData:
    """A MarketData from hand-written bars.

    ``bars[symbol]`` has one entry per day: ``None`` (no bar), or a tuple
    ``(open, close)``, ``(open, close, volume)`` or ``(open, close, volume, factor)``; high and
    low are the max/min of open and close, volume defaults to 1e6 shares, factor to 1.0.
    ``members[symbol] = (start, end)`` (end None = still a member); default: every symbol is a
    member on every day.
    """
    cal = pd.DatetimeIndex(pd.to_datetime(days))
    rows = []
    for sym, entries in bars.items():
        assert len(entries) == len(cal), f"{sym}: {len(entries)} entries for {len(cal)} days"
        for d, e in zip(cal, entries, strict=True):
            if e is None:
                continue
            o, c = float(e[0]), float(e[1])
            v = float(e[2]) if len(e) > 2 else 1e6
            f = float(e[3]) if len(e) > 3 else 1.0
            rows.append((d, sym, o, max(o, c), min(o, c), c, v, f))
    b = pd.DataFrame(rows, columns=["date", "symbol", "open", "high", "low", "close", "volume", "factor"])
    b = b.sort_values(["date", "symbol"], ignore_index=True)
    b["symbol"] = pd.Categorical(b["symbol"], categories=sorted(bars))
    index = pd.DataFrame({"date": cal, "open": 4000.0, "high": 4000.0, "low": 4000.0,
                          "close": np.linspace(4000.0, 4100.0, len(cal)), "volume": 1e9})
    members = members or {s: (days[0], None) for s in bars}
    spans = pd.DataFrame([(s, s, pd.Timestamp(a), pd.Timestamp(e) if e else pd.NaT)
                          for s, (a, e) in members.items()], columns=["symbol", "name", "start", "end"])
    return data_store.MarketData(
        bars=b, index=index, membership=Membership.from_frame(spans, "test"),
        events=pd.DataFrame(), anomalies=AnomalyReport(len(b), 0, 0, 0, 0),
    )


def preds(rows: list[tuple]) -> pd.DataFrame:
    """Predictions table from (date, symbol, p_up) tuples."""
    return pd.DataFrame(rows, columns=["date", "symbol", "p_up"]).assign(date=lambda d: pd.to_datetime(d["date"]))


@pytest.fixture(scope="session")
def md() -> data_store.MarketData:
    """The embedded real snapshot (no user cache: reproducible)."""
    return data_store.load(use_cache=False)

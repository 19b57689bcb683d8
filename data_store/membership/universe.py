"""Point-in-time CSI-300 membership: a symbol is a member on day d when ``start <= d < end``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.errors import DataValidationError

_FAR_FUTURE = pd.Timestamp("2262-04-11")  # end of datetime64[ns]; stands for "still a member"


@dataclass(frozen=True)
class Membership:
    """Membership spans (``symbol, name, start, end, source``; ``end`` NaT = still a member).

    ``end`` is the first day the symbol is NOT a member, so the spans are half-open. ``source``
    names where each span comes from (the snapshot's file, a dated history such as
    ``index-constitution 1.0.1``, or an observed member list).
    """

    spans: pd.DataFrame

    @classmethod
    def from_frame(cls, df: pd.DataFrame, source: str) -> Membership:
        missing = [c for c in ("symbol", "start", "end") if c not in df.columns]
        if missing:
            raise DataValidationError(source, f"membership columns symbol,start,end present (missing {missing})",
                                      len(df))
        spans = pd.DataFrame(
            {
                "symbol": df["symbol"].astype(str).to_numpy(),
                "name": df["name"].astype(str).to_numpy() if "name" in df else "",
                "start": pd.to_datetime(df["start"]).astype("datetime64[ns]").to_numpy(),
                "end": pd.to_datetime(df["end"]).astype("datetime64[ns]").to_numpy(),
                "source": df["source"].astype(str).to_numpy() if "source" in df else source,
            }
        )
        bad = spans["start"].isna() | (spans["end"].notna() & (spans["end"] <= spans["start"]))
        if bad.any():
            raise DataValidationError(
                source, "membership start set and start < end", int(bad.sum()), spans.loc[bad].head().to_string()
            )
        return cls(spans.sort_values(["symbol", "start"], kind="stable").reset_index(drop=True))

    @property
    def symbols(self) -> list[str]:
        """Every symbol that was a member at some time (with or without bars)."""
        return sorted(self.spans["symbol"].unique())

    def _ends(self) -> np.ndarray:
        return self.spans["end"].fillna(_FAR_FUTURE).to_numpy()

    def members(self, date: pd.Timestamp | str) -> list[str]:
        """Symbols that are members on ``date`` (``start <= date < end``), sorted."""
        d = np.datetime64(pd.Timestamp(date), "ns")
        on = (self.spans["start"].to_numpy() <= d) & (d < self._ends())
        return sorted(set(self.spans.loc[on, "symbol"]))

    def mask(self, dates: pd.DatetimeIndex, symbols: list[str] | pd.Index) -> pd.DataFrame:
        """Boolean frame (``dates`` x ``symbols``): True where the symbol is a member that day."""
        dates = pd.DatetimeIndex(dates)
        cols = pd.Index(symbols)
        out = np.zeros((len(dates), len(cols)), dtype=bool)
        col_of = cols.get_indexer(self.spans["symbol"])
        d = dates.to_numpy().astype("datetime64[ns]")
        ends = self._ends()
        starts = self.spans["start"].to_numpy()
        for j, s, e in zip(col_of, starts, ends, strict=True):
            if j < 0:
                continue
            lo, hi = np.searchsorted(d, s, "left"), np.searchsorted(d, e, "left")
            out[lo:hi, j] = True
        return pd.DataFrame(out, index=dates, columns=cols)

    def count(self, dates: pd.DatetimeIndex) -> pd.Series:
        """Number of members per day (including members the data has no bars for)."""
        m = self.mask(dates, self.symbols)
        return m.sum(axis=1).rename("members")

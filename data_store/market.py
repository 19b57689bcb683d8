"""The market data object every layer starts from: bars, index, calendar, universe, tradable mask."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import pandas as pd

from core.errors import ConfigError

from .membership.universe import Membership
from .schema import PRICE_COLUMNS, AnomalyReport
from .symbols import unknown_symbols_text

_FIELDS = ("open", "high", "low", "close", "volume", "factor")


@dataclass(frozen=True, eq=False)
class MarketData:
    """Canonical CSI-300 market data.

    Attributes:
        bars: long frame, one row per (date, symbol), unique and sorted by (date, symbol);
            ``open high low close`` raw CNY (for execution: lots, limits, fees), ``volume`` shares
            (NaN where the source has none), ``factor`` back-adjustment (adjusted = raw x factor,
            for features and returns).
        index: CSI-300 index bars (``date open high low close volume``); its dates are the calendar.
        membership: point-in-time membership spans (``start <= d < end``).
        events: mergers, delistings and ticker changes.
        anomalies: counts of real-but-odd facts (suspensions, NaN volume, limit-breaking moves).
        provenance: where the data came from (snapshot README, cache manifest summary).
        merge_report: overlaps between snapshot and cache that disagree (empty when none).
        characteristics: vendor fields per (date, symbol) known at the day's close, or None (the
            snapshot has none): :data:`CHARACTERISTIC_COLUMNS` (``total_mv``, ``float_mv`` in CNY,
            ``float_shares`` in shares, ``pb``, ``pe``; NaN where the vendor gives none).
        industry: each symbol's industry spans ``symbol, industry, start, end`` (``start <= d < end``,
            ``end`` NaT while current), or None.
    """

    bars: pd.DataFrame
    index: pd.DataFrame
    membership: Membership
    events: pd.DataFrame
    anomalies: AnomalyReport
    provenance: str = ""
    merge_report: pd.DataFrame = field(default_factory=pd.DataFrame)
    sources: tuple[str, ...] = ("snapshot",)
    characteristics: pd.DataFrame | None = None
    industry: pd.DataFrame | None = None
    _memo: dict[str, Any] = field(default_factory=dict, repr=False)

    # ----------------------------------------------------------------- basic facts
    @property
    def calendar(self) -> pd.DatetimeIndex:
        """Trading days: the dates of the CSI-300 index bars."""
        if "calendar" not in self._memo:
            self._memo["calendar"] = pd.DatetimeIndex(self.index["date"], name="date")
        return self._memo["calendar"]

    @property
    def symbols(self) -> list[str]:
        """Symbols that have at least one bar, sorted."""
        if "symbols" not in self._memo:
            self._memo["symbols"] = sorted(self.bars["symbol"].unique().astype(str))
        return self._memo["symbols"]

    @property
    def start(self) -> pd.Timestamp:
        return self.calendar[0]

    @property
    def end(self) -> pd.Timestamp:
        return self.calendar[-1]

    # ----------------------------------------------------------------- universe
    def members(self, date: pd.Timestamp | str) -> list[str]:
        """Point-in-time CSI-300 members on ``date`` (``start <= date < end``), with or without bars."""
        return self.membership.members(date)

    def membership_mask(
        self, dates: pd.DatetimeIndex | None = None, symbols: list[str] | None = None
    ) -> pd.DataFrame:
        """Boolean frame dates x symbols (default: calendar x :attr:`symbols`)."""
        if dates is None and symbols is None:
            if "membership_mask" not in self._memo:
                self._memo["membership_mask"] = self.membership.mask(self.calendar, self.symbols)
            return self._memo["membership_mask"]
        return self.membership.mask(
            self.calendar if dates is None else pd.DatetimeIndex(dates),
            self.symbols if symbols is None else symbols,
        )

    def panel(self, field_name: str, adjusted: bool = False) -> pd.DataFrame:
        """Wide frame calendar x :attr:`symbols` of one bar field; NaN where there is no bar.

        ``adjusted=True`` multiplies prices by the back-adjustment factor (never for volume).
        Never forward-filled: a missing bar stays missing.
        """
        if field_name not in _FIELDS:
            raise ConfigError(f"panel field {field_name!r} is not one of {_FIELDS}")
        key = f"panel:{field_name}:{adjusted}"
        if key not in self._memo:
            vals = self.bars[field_name].to_numpy()
            if adjusted and field_name in PRICE_COLUMNS:
                vals = vals * self.bars["factor"].to_numpy()
            di, si = self._positions()
            arr = np.full((len(self.calendar), len(self.symbols)), np.nan)
            arr[di, si] = vals
            self._memo[key] = pd.DataFrame(arr, index=self.calendar, columns=pd.Index(self.symbols, name="symbol"))
        return self._memo[key]

    def _positions(self) -> tuple[np.ndarray, np.ndarray]:
        if "positions" not in self._memo:
            di = self.calendar.get_indexer(self.bars["date"])
            si = pd.Index(self.symbols).get_indexer(self.bars["symbol"].astype(str))
            self._memo["positions"] = (di, si)
        return self._memo["positions"]

    def has_bar(self) -> pd.DataFrame:
        """Boolean frame calendar x symbols: True where a bar exists."""
        return self.panel("close").notna()

    def tradable_mask(self) -> pd.DataFrame:
        """Boolean frame calendar x symbols: member AND has a bar AND volume > 0 (NaN volume: not)."""
        if "tradable" not in self._memo:
            vol = self.panel("volume").to_numpy()
            with np.errstate(invalid="ignore"):
                ok = vol > 0
            traded = pd.DataFrame(ok, index=self.calendar, columns=self.symbols)
            self._memo["tradable"] = self.membership_mask() & traded
        return self._memo["tradable"]

    def coverage(self) -> pd.DataFrame:
        """Per trading day: ``members`` (all point-in-time members, also those without bars),
        ``members_with_bar``, ``tradable`` and ``missing`` (members without a bar)."""
        if "coverage" not in self._memo:
            members = self.membership.count(self.calendar)
            with_bar = (self.membership_mask() & self.has_bar()).sum(axis=1)
            tradable = self.tradable_mask().sum(axis=1)
            self._memo["coverage"] = pd.DataFrame(
                {
                    "members": members.to_numpy(),
                    "members_with_bar": with_bar.to_numpy(),
                    "tradable": tradable.to_numpy(),
                    "missing": (members - with_bar).to_numpy(),
                },
                index=self.calendar,
            )
        return self._memo["coverage"]

    def suspect_jumps(self) -> pd.DataFrame:
        """Boolean frame calendar x :attr:`symbols`: True on each day a price opened or closed
        beyond its board's limit while the back-adjustment factor stayed unchanged (a missed
        ex-rights adjustment or a wrong bar; the list is ``anomalies.jumps``).

        The adjusted return across such a day is false. Keep out of training and evaluation the
        samples whose window reaches one, unless you opt in: ``data_store.jumps.spanning(mask,
        first, last)`` marks the decision days d with a jump in ``[d + first, d + last]``; a label
        of horizon H (fill at the open of d+1) spans one for ``spanning(mask, 2, 1 + H)``, a
        feature over the closes of d-L..d for ``spanning(mask, -L + 1, 0)``.
        """
        if "suspect_jumps" not in self._memo:
            from .jumps import jump_mask

            self._memo["suspect_jumps"] = jump_mask(self.anomalies.jumps, self.calendar, self.symbols)
        return self._memo["suspect_jumps"]

    def members_without_bars(self) -> list[str]:
        """Symbols of the membership table that have no bar at all (survivorship gap of the source)."""
        return sorted(set(self.membership.symbols) - set(self.symbols))

    def listing_dates(self) -> pd.Series:
        """First bar date per symbol; NaT where the first bar is the calendar's first day (listed
        before the data starts, so the true listing date is unknown and long past)."""
        first = self.bars.groupby("symbol", observed=True)["date"].min()
        first.index = first.index.astype(str)
        return first.where(first > self.calendar[0]).reindex(self.symbols)

    # ----------------------------------------------------------------- returns
    def adjusted_bars(self) -> pd.DataFrame:
        """Bars with open/high/low/close multiplied by the factor (for features and returns)."""
        out = self.bars.copy()
        for col in PRICE_COLUMNS:
            out[col] = out[col] * out["factor"]
        return out

    def benchmark_returns(self) -> pd.Series:
        """Daily close-to-close simple returns of the CSI-300 index, indexed by date (first day
        dropped). This is the benchmark Series handed to reports, never a ticker."""
        close = pd.Series(self.index["close"].to_numpy(), index=self.calendar)
        return close.pct_change().iloc[1:].rename("CSI300")

    # ----------------------------------------------------------------- subsets
    def slice(
        self,
        start: str | pd.Timestamp | None = None,
        end: str | pd.Timestamp | None = None,
        symbols: list[str] | None = None,
    ) -> MarketData:
        """A new MarketData restricted to ``[start, end]`` (inclusive) and optionally to ``symbols``.

        Unknown symbols or a range outside the data raise :class:`ConfigError` naming the value."""
        lo = self.start if start is None else pd.Timestamp(start)
        hi = self.end if end is None else pd.Timestamp(end)
        if lo > hi:
            raise ConfigError(f"start {lo.date()} is after end {hi.date()}")
        if hi < self.start or lo > self.end:
            raise ConfigError(
                f"date range {lo.date()}..{hi.date()} is outside the data ({self.start.date()}..{self.end.date()})"
            )
        bars = self.bars
        keep = (bars["date"] >= lo) & (bars["date"] <= hi)
        if symbols is not None:
            unknown = sorted(set(symbols) - set(self.symbols))
            if unknown:
                raise ConfigError(unknown_symbols_text(unknown, self.symbols))
            keep &= bars["symbol"].isin(symbols)
        new_bars = bars.loc[keep].reset_index(drop=True)
        new_bars["symbol"] = new_bars["symbol"].cat.remove_unused_categories()
        idx = self.index.loc[(self.index["date"] >= lo) & (self.index["date"] <= hi)].reset_index(drop=True)
        chars, ind = self.characteristics, self.industry
        if chars is not None:
            keep_c = (chars["date"] >= lo) & (chars["date"] <= hi)
            if symbols is not None:
                keep_c &= chars["symbol"].isin(symbols)
            chars = chars.loc[keep_c].reset_index(drop=True)
        if ind is not None:
            keep_i = (ind["start"] <= hi) & (ind["end"].isna() | (ind["end"] > lo))
            if symbols is not None:
                keep_i &= ind["symbol"].isin(symbols)
            ind = ind.loc[keep_i].reset_index(drop=True)
        return replace(self, bars=new_bars, index=idx, characteristics=chars, industry=ind, _memo={})

    def fingerprint(self) -> str:
        """sha256 over the canonical bars and index values (identifies the exact data of a run)."""
        if "fingerprint" not in self._memo:
            h = hashlib.sha256()
            h.update(pd.util.hash_pandas_object(self.bars, index=False).to_numpy().tobytes())
            h.update(pd.util.hash_pandas_object(self.index, index=False).to_numpy().tobytes())
            self._memo["fingerprint"] = h.hexdigest()
        return self._memo["fingerprint"]

    def summary(self) -> dict[str, Any]:
        """Headline figures: ranges, counts, coverage and anomalies."""
        cov = self.coverage()
        return {
            "start": str(self.start.date()),
            "end": str(self.end.date()),
            "trading_days": len(self.calendar),
            "symbols_with_bars": len(self.symbols),
            "bar_rows": len(self.bars),
            "membership_symbols": len(self.membership.symbols),
            "members_without_bars": len(self.members_without_bars()),
            "members_per_day_min": int(cov["members"].min()),
            "members_per_day_max": int(cov["members"].max()),
            "days_with_301_members": int((cov["members"] > 300).sum()),
            "members_with_bar_min": int(cov["members_with_bar"].min()),
            "members_with_bar_max": int(cov["members_with_bar"].max()),
            "tradable_min": int(cov["tradable"].min()),
            "tradable_max": int(cov["tradable"].max()),
            "sources": list(self.sources),
        }

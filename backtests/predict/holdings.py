"""The book the next session's orders start from: holdings (a CSV file) and cash, checked.

The holdings file has one row per purchase: ``symbol`` (SH600519, 600519.SH or 600519),
``shares`` (a whole number above 0) and ``bought`` (YYYY-MM-DD, the day the shares were bought,
that is, filled); a position bought over several days has several rows. Other columns are ignored.
T+1 reads ``bought``: shares bought on the session the orders are for cannot be sold in it; the
strategy's minimum holding period counts trading days from a position's first purchase. A file
with the header alone is an empty book. Bad input raises :class:`~core.errors.ConfigError` with
the row and the fix, before anything is fitted.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import ConfigError
from data_store.sources.vendors import to_symbol

__all__ = ["HOLDINGS_COLUMNS", "Book", "read_holdings"]

HOLDINGS_COLUMNS = ("symbol", "shares", "bought")


@dataclass(frozen=True, eq=False)
class Book:
    """Cash (CNY) and the purchases held (``lots``: symbol, shares, bought; one row per purchase).
    ``source``: the holdings file, or ``"cash"`` for a book that starts from cash."""

    cash: float
    lots: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"symbol": pd.Series(dtype=object), "shares": pd.Series(dtype=float),
         "bought": pd.Series(dtype="datetime64[ns]")}))
    source: str = "cash"
    sha256: str = ""

    @property
    def symbols(self) -> list[str]:
        return sorted(self.lots["symbol"].unique())

    def shares(self) -> pd.Series:
        """Shares held per symbol."""
        return self.lots.groupby("symbol")["shares"].sum()

    def bought_on(self, day: pd.Timestamp) -> pd.Series:
        """Shares per symbol bought on ``day`` (T+1: not sellable that day)."""
        lots = self.lots[self.lots["bought"] == pd.Timestamp(day)]
        return lots.groupby("symbol")["shares"].sum()

    def first_bought(self) -> pd.Series:
        """The day each position was first bought (its holding period starts there)."""
        return self.lots.groupby("symbol")["bought"].min()

    def check(self, known: set[str], decision: pd.Timestamp, fill: pd.Timestamp) -> None:
        """Refuse a symbol without bars up to the decision day (it cannot be valued) and a purchase
        after the session the orders are for."""
        unknown = sorted(set(self.symbols) - known)
        if unknown:
            raise ConfigError(f"holdings {self.source}: {unknown[:5]} have no bars in the data up to "
                              f"{decision.date()}, so they cannot be valued: check the symbols, or update the data")
        late = self.lots[self.lots["bought"] > fill]
        if len(late):
            r = late.iloc[0]
            raise ConfigError(f"holdings {self.source}: {r['symbol']} bought on {r['bought'].date()}, after "
                              f"{fill.date()}, the session the orders are for: the book must be as of that session's "
                              "open at the latest")


def _cash(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"--cash = {value!r} must be a finite amount of CNY, 0 or more")
    return float(value)


def read_holdings(path: str | Path | None, cash: float) -> Book:
    """The book of ``path`` (None: cash alone) and ``cash``; raises ConfigError on bad input."""
    cash = _cash(cash)
    if path is None:
        return Book(cash=cash)
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--holdings {str(p)!r} does not exist: give a CSV file with columns "
                          f"{', '.join(HOLDINGS_COLUMNS)} (the header alone for an empty book)")
    raw = p.read_bytes()
    try:
        df = pd.read_csv(p, dtype=str, keep_default_na=False, skipinitialspace=True)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--holdings {str(p)!r} is not a readable CSV file: {exc}") from None
    df.columns = [str(c).strip().lower() for c in df.columns]
    missing = [c for c in HOLDINGS_COLUMNS if c not in df.columns]
    if missing:
        raise ConfigError(f"--holdings {str(p)!r} lacks the column(s) {missing}: the header must name "
                          f"{', '.join(HOLDINGS_COLUMNS)}")
    rows = []
    for n, r in enumerate(df[list(HOLDINGS_COLUMNS)].itertuples(index=False), start=2):  # line 1 is the header
        where = f"--holdings {p.name} line {n}"
        try:
            sym = to_symbol(r.symbol)
        except ConfigError as exc:
            raise ConfigError(f"{where}: {exc}") from None
        try:
            shares = float(r.shares)
        except ValueError:
            shares = math.nan
        if not math.isfinite(shares) or shares <= 0 or shares != int(shares):
            raise ConfigError(f"{where}: shares = {r.shares!r} must be a whole number of shares above 0")
        try:
            bought = pd.Timestamp(r.bought)
        except ValueError:
            bought = pd.NaT
        if pd.isna(bought) or bought != bought.normalize():
            raise ConfigError(f"{where}: bought = {r.bought!r} must be the day the shares were bought, YYYY-MM-DD")
        rows.append((sym, shares, bought))
    lots = pd.DataFrame(rows, columns=list(HOLDINGS_COLUMNS))
    lots = lots.astype({"symbol": object, "shares": float, "bought": "datetime64[ns]"})
    return Book(cash=cash, lots=lots, source=str(p), sha256=hashlib.sha256(raw).hexdigest())

"""The book the next session's orders start from: holdings (a CSV file) and cash, checked.

The holdings file has one row per purchase: ``symbol`` (SH600519, 600519.SH or 600519),
``shares`` (a whole number above 0) and ``bought`` (YYYY-MM-DD, the day the shares were bought,
that is, filled); a position bought over several days has several rows. An optional ``tranche``
column gives a position's tranche of TopK's review cycle (``targets.csv`` of the prediction that
bought it names it; empty: derived from ``bought``). Other columns are ignored.
T+1 reads ``bought``: shares bought on the session the orders are for cannot be sold in it; the
strategy's minimum holding period counts trading days from a position's first purchase, and its
tranche is the one reviewed on that purchase's decision day
(:func:`strategies.pacing.bought_tranche`). A file with the header alone is an empty book. Bad
input raises :class:`~core.errors.ConfigError` with the row and the fix, before anything is fitted.

The book's review cycle starts on ``cycle_start`` (``--cycle-start``: the decision day of the
book's first orders, day 0 of the cycle as a backtest's first decision day is; default: the
decision day of the earliest purchase held, or the decision day itself for a book of cash).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from core.errors import ConfigError
from core.timing import FILL_LAG
from data_store.sources.vendors import to_symbol

__all__ = ["HOLDINGS_COLUMNS", "Book", "read_holdings"]

HOLDINGS_COLUMNS = ("symbol", "shares", "bought")
#: the optional column: a position's tranche of TopK's review cycle (empty: derived from ``bought``)
TRANCHE_COLUMN = "tranche"


@dataclass(frozen=True, eq=False)
class Book:
    """Cash (CNY) and the purchases held (``lots``: symbol, shares, bought, and optionally tranche,
    -1 where not given; one row per purchase). ``source``: the holdings file, or ``"cash"`` for a
    book that starts from cash. ``cycle_start``: day 0 of the book's TopK review cycle (None: the
    default of :meth:`cycle_day0`)."""

    cash: float
    lots: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(
        {"symbol": pd.Series(dtype=object), "shares": pd.Series(dtype=float),
         "bought": pd.Series(dtype="datetime64[ns]")}))
    source: str = "cash"
    sha256: str = ""
    cycle_start: pd.Timestamp | None = None

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

    def tranches(self) -> pd.Series:
        """The tranche the holdings file gives each position (symbols without one left out)."""
        if TRANCHE_COLUMN not in self.lots:
            return pd.Series(dtype="int64")
        given = self.lots[self.lots[TRANCHE_COLUMN] >= 0]
        return given.groupby("symbol")[TRANCHE_COLUMN].first().astype("int64")

    def cycle_day0(self, calendar: pd.DatetimeIndex, decision: pd.Timestamp) -> pd.Timestamp:
        """Day 0 of the review cycle: ``cycle_start``; default the decision day of the earliest
        purchase held (``FILL_LAG`` trading days before it), or ``decision`` for a book of cash."""
        if self.cycle_start is not None:
            return pd.Timestamp(self.cycle_start)
        if not len(self.lots):
            return pd.Timestamp(decision)
        pos = int(calendar.searchsorted(self.lots["bought"].min())) - FILL_LAG
        return pd.Timestamp(calendar[min(max(pos, 0), len(calendar) - 1)])

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
        if self.cycle_start is not None and pd.Timestamp(self.cycle_start) > decision:
            raise ConfigError(f"--cycle-start {pd.Timestamp(self.cycle_start).date()} is after the decision day "
                              f"{decision.date()}: give the decision day of the book's first orders")


def _cash(value: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        raise ConfigError(f"--cash = {value!r} must be a finite amount of CNY, 0 or more")
    return float(value)


def read_holdings(path: str | Path | None, cash: float, cycle_start: pd.Timestamp | None = None) -> Book:
    """The book of ``path`` (None: cash alone), ``cash`` and the start of its review cycle;
    raises ConfigError on bad input."""
    cash = _cash(cash)
    start = None if cycle_start is None else pd.Timestamp(cycle_start)
    if path is None:
        return Book(cash=cash, cycle_start=start)
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
    tranche_given = TRANCHE_COLUMN in df.columns
    if not tranche_given:
        df[TRANCHE_COLUMN] = ""
    rows = []
    for n, r in enumerate(df[[*HOLDINGS_COLUMNS, TRANCHE_COLUMN]].itertuples(index=False), start=2):  # line 1: header
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
        tranche = _tranche(str(r.tranche).strip(), where)
        rows.append((sym, shares, bought, tranche))
    lots = pd.DataFrame(rows, columns=[*HOLDINGS_COLUMNS, TRANCHE_COLUMN])
    lots = lots.astype({"symbol": object, "shares": float, "bought": "datetime64[ns]", TRANCHE_COLUMN: "int64"})
    for sym, t in lots[lots[TRANCHE_COLUMN] >= 0].groupby("symbol")[TRANCHE_COLUMN]:
        if t.nunique() > 1:
            raise ConfigError(f"--holdings {p.name}: {sym} has rows in tranches {sorted(t.unique().tolist())}: a "
                              "position belongs to one tranche (give it on every row, or on none)")
    if not tranche_given:
        lots = lots.drop(columns=TRANCHE_COLUMN)
    return Book(cash=cash, lots=lots, source=str(p), sha256=hashlib.sha256(raw).hexdigest(), cycle_start=start)


def _tranche(text: str, where: str) -> int:
    """A tranche cell: empty (-1, derived from ``bought``) or a whole number of 0 or more."""
    if text == "":
        return -1
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise ConfigError(f"{where}: tranche = {text!r} must be a whole number of 0 or more (or empty)")
    return int(value)

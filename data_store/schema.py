"""The canonical market-data schema and its validation at the boundary.

Every frame that enters the toolkit (snapshot, cache, vendor source) is brought to this schema by
:func:`canonical_bars` / :func:`canonical_index` and checked by :func:`validate_bars` /
:func:`validate_index`. Rule violations raise :class:`DataValidationError`; market facts that look
odd but are real (suspensions, missing volume, moves beyond the board's limit) are counted by
:func:`anomaly_report` and never dropped or filled.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from core.errors import DataValidationError

from .boards import CHINEXT_20PCT_FROM, NO_LIMIT_LISTING_DAYS, limit_pct_array

#: Canonical bar columns, in order. Prices are raw (unadjusted) CNY; adjusted = raw x factor.
BAR_COLUMNS: tuple[str, ...] = ("date", "symbol", "open", "high", "low", "close", "volume", "factor")
PRICE_COLUMNS: tuple[str, ...] = ("open", "high", "low", "close")
INDEX_COLUMNS: tuple[str, ...] = ("date", "open", "high", "low", "close", "volume")
#: Relative slack for OHLC ordering: prices are 2-decimal values stored as float64.
_OHLC_EPS = 1e-9
#: Rounding slack when comparing a close-to-close move with the board limit (limit prices are
#: rounded to the fen, so a 10% limit can show as 10.05% on low-priced stocks).
LIMIT_SLACK = 0.005
_EXAMPLES = 5


def _examples(df: pd.DataFrame, mask: np.ndarray | pd.Series, cols: list[str] | None = None) -> str:
    rows = df.loc[np.asarray(mask)]
    if cols is not None:
        rows = rows[[c for c in cols if c in rows.columns]]
    return rows.head(_EXAMPLES).to_string()


def _require_columns(df: pd.DataFrame, needed: tuple[str, ...], source: str) -> None:
    missing = [c for c in needed if c not in df.columns]
    if missing:
        raise DataValidationError(
            source,
            f"required columns {list(needed)} present (missing {missing}; got {list(df.columns)})",
            len(df),
        )


def canonical_bars(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return ``df`` in the canonical bar schema: columns of :data:`BAR_COLUMNS`, fixed dtypes
    (``date`` datetime64[ns], ``symbol`` category with sorted categories, the rest float64),
    sorted by (date, symbol), with a fresh RangeIndex. Raises :class:`DataValidationError` if a
    column is missing or cannot be converted."""
    _require_columns(df, BAR_COLUMNS, source)
    try:
        dates = pd.to_datetime(np.asarray(df["date"])).to_numpy().astype("datetime64[ns]", copy=False)
    except (ValueError, TypeError) as exc:
        raise DataValidationError(source, f"'date' converts to datetime ({exc})", len(df)) from exc
    sym = df["symbol"]
    if isinstance(sym.dtype, pd.CategoricalDtype):
        cat = pd.Categorical(sym).remove_unused_categories()
        cat = cat.rename_categories([str(c) for c in cat.categories])
        cat = cat.reorder_categories(sorted(cat.categories))
    else:
        cat = pd.Categorical(sym.astype(str).to_numpy())  # categories come out sorted
    codes = np.asarray(cat.codes)
    values = {}
    for col in BAR_COLUMNS[2:]:
        try:
            values[col] = pd.to_numeric(np.asarray(df[col]), errors="raise").astype("float64", copy=False)
        except (ValueError, TypeError) as exc:
            raise DataValidationError(source, f"'{col}' is numeric ({exc})", len(df)) from exc
    # one int64 key per row; the common input (sorted by symbol, then date) is a set of sorted
    # runs, which the stable sort merges quickly
    key = dates.view("int64") // 86_400_000_000_000 * (len(cat.categories) + 1) + codes
    order = None
    if len(key) > 1 and not (np.diff(key) > 0).all():
        order = np.argsort(key, kind="stable")
        dates, codes = dates[order], codes[order]
    del key
    # The float columns go straight into ONE (columns x rows) block that pandas adopts without
    # copying: building the frame from a dict of arrays would consolidate (copy) them again,
    # which costs ~120 MB of peak memory on the whole snapshot.
    block = np.empty((len(BAR_COLUMNS) - 2, len(dates)), dtype=np.float64)
    for i, col in enumerate(BAR_COLUMNS[2:]):
        if order is None:
            block[i] = values[col]
        else:
            np.take(values[col], order, out=block[i])
    del values, order
    out = pd.DataFrame(block.T, columns=list(BAR_COLUMNS[2:]), index=pd.RangeIndex(len(dates)), copy=False)
    out.insert(0, "date", dates)
    out.insert(1, "symbol", pd.Categorical.from_codes(codes, dtype=cat.dtype))
    return out


def canonical_index(df: pd.DataFrame, source: str) -> pd.DataFrame:
    """Return index bars with :data:`INDEX_COLUMNS`, float64 values, sorted by date."""
    _require_columns(df, INDEX_COLUMNS, source)
    out = pd.DataFrame(
        {"date": pd.to_datetime(np.asarray(df["date"])).astype("datetime64[ns]")}
    )
    for col in INDEX_COLUMNS[1:]:
        out[col] = pd.to_numeric(np.asarray(df[col]), errors="coerce").astype("float64")
    return out.sort_values("date", kind="stable").reset_index(drop=True)


def _symbol_codes(sym: pd.Series) -> np.ndarray:
    """Integer codes that sort like the symbol strings."""
    if isinstance(sym.dtype, pd.CategoricalDtype):
        cats = list(sym.cat.categories)
        if cats == sorted(cats):
            return sym.cat.codes.to_numpy()
    return pd.factorize(sym.astype(str), sort=True)[0]


def validate_bars(df: pd.DataFrame, source: str, calendar: pd.DatetimeIndex | None = None) -> None:
    """Check the canonical bar rules; raise :class:`DataValidationError` on the first broken one.

    Rules: required columns; dtypes as :func:`canonical_bars` makes them; (date, symbol) unique and
    sorted; open/high/low/close/factor finite and > 0; low <= open, close <= high; volume >= 0 or
    NaN; every date on ``calendar`` (when given).
    """
    _require_columns(df, BAR_COLUMNS, source)
    if not np.issubdtype(df["date"].dtype, np.datetime64):
        raise DataValidationError(source, f"'date' has dtype datetime64 (got {df['date'].dtype})", len(df))
    for col in BAR_COLUMNS[2:]:
        if df[col].dtype != np.float64:
            raise DataValidationError(source, f"'{col}' has dtype float64 (got {df[col].dtype})", len(df))
    dates = df["date"].to_numpy()
    codes = _symbol_codes(df["symbol"])
    if len(df) > 1:
        # fast path: strictly increasing (day, symbol code) keys are unique AND sorted
        day = dates.astype("datetime64[ns]", copy=False).view("int64") // 86_400_000_000_000
        key = day * (int(codes.max()) + 2) + codes
        ordered = bool((np.diff(key) > 0).all())
        del day, key
    else:
        ordered = True
    dup = np.zeros(len(df), dtype=bool) if ordered else \
        pd.DataFrame({"d": dates, "s": codes}).duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataValidationError(
            source, "(date, symbol) unique", int(dup.sum()), _examples(df, dup, list(BAR_COLUMNS))
        )
    if len(df) > 1 and not ordered:
        d_prev, d_next = dates[:-1], dates[1:]
        bad = (d_next < d_prev) | ((d_next == d_prev) & (codes[1:] < codes[:-1]))
        if bad.any():
            mask = np.r_[False, bad]
            raise DataValidationError(
                source, "sorted by (date, symbol)", int(bad.sum()), _examples(df, mask, list(BAR_COLUMNS))
            )
    for col in (*PRICE_COLUMNS, "factor"):
        vals = df[col].to_numpy()
        bad = ~np.isfinite(vals) | (vals <= 0)
        if bad.any():
            raise DataValidationError(
                source, f"'{col}' finite and > 0", int(bad.sum()), _examples(df, bad, list(BAR_COLUMNS))
            )
    o, h, lo, c = (df[k].to_numpy() for k in PRICE_COLUMNS)
    tol = _OHLC_EPS * h
    bad = (lo > np.minimum(o, c) + tol) | (h < np.maximum(o, c) - tol) | (lo > h + tol)
    if bad.any():
        raise DataValidationError(
            source, "low <= open, close <= high", int(bad.sum()), _examples(df, bad, list(BAR_COLUMNS))
        )
    vol = df["volume"].to_numpy()
    bad = vol < 0
    if bad.any():
        raise DataValidationError(source, "'volume' >= 0 or NaN", int(bad.sum()), _examples(df, bad))
    if calendar is not None:
        bad = ~np.isin(dates, calendar.to_numpy().astype("datetime64[ns]"))
        if bad.any():
            raise DataValidationError(
                source, "every date is a trading day of the calendar (CSI-300 index dates)",
                int(bad.sum()), _examples(df, bad, ["date", "symbol", "close"]),
            )


def validate_index(df: pd.DataFrame, source: str) -> None:
    """Check index bars: unique sorted dates, finite positive close, OHLC consistent."""
    _require_columns(df, INDEX_COLUMNS, source)
    d = df["date"]
    dup = d.duplicated(keep=False).to_numpy()
    if dup.any():
        raise DataValidationError(source, "index dates unique", int(dup.sum()), _examples(df, dup))
    if not d.is_monotonic_increasing:
        raise DataValidationError(source, "index dates sorted", len(df))
    c = df["close"].to_numpy()
    bad = ~np.isfinite(c) | (c <= 0)
    if bad.any():
        raise DataValidationError(source, "index 'close' finite and > 0", int(bad.sum()), _examples(df, bad))
    o, h, lo = df["open"].to_numpy(), df["high"].to_numpy(), df["low"].to_numpy()
    tol = 1e-6 * h
    bad = (lo > np.minimum(o, c) + tol) | (h < np.maximum(o, c) - tol)
    if bad.any():
        raise DataValidationError(source, "index low <= open, close <= high", int(bad.sum()), _examples(df, bad))


@dataclass(frozen=True)
class AnomalyReport:
    """Counts (and a few examples) of real-but-odd market facts. Nothing here is dropped or filled.

    - ``suspended``: rows with volume 0 (a flat price; not tradable)
    - ``nan_volume``: rows with a price but no volume (not tradable)
    - ``beyond_limit``: adjusted close-to-close moves beyond the board's limit (+0.5% rounding
      slack), outside a stock's first listed days (IPO days, data errors, ex-rights days)
    - ``beyond_21pct``: the subset of moves above 21%, which no board allows
    - ``suspect_jump``: opens or closes beyond the board's limit price while the factor stays
      unchanged: a missed ex-rights adjustment or a wrong bar; listed by symbol and day in
      ``jumps`` (see :mod:`data_store.jumps`; ``MarketData.suspect_jumps()`` is the mask)
    """

    rows: int
    suspended: int
    nan_volume: int
    beyond_limit: int
    beyond_21pct: int
    examples: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False, repr=False)
    suspect_jump: int = 0
    jumps: pd.DataFrame = field(default_factory=pd.DataFrame, compare=False, repr=False)

    def as_frame(self) -> pd.DataFrame:
        items = {
            "suspended (volume 0)": self.suspended,
            "no volume (NaN)": self.nan_volume,
            "move beyond board limit": self.beyond_limit,
            "move beyond 21%": self.beyond_21pct,
            "jump, factor unchanged": self.suspect_jump,
        }
        return pd.DataFrame({"rows": list(items.values())}, index=list(items.keys()))


def _limits(sym: pd.Series, codes: np.ndarray, dates: np.ndarray) -> np.ndarray:
    """:func:`limit_pct_array` per row, computed once per distinct symbol (not per row string)."""
    if isinstance(sym.dtype, pd.CategoricalDtype) and list(sym.cat.categories) == sorted(sym.cat.categories):
        cats = np.asarray(sym.cat.categories).astype(str)
        before = limit_pct_array(cats, np.full(len(cats), np.datetime64("1970-01-01", "ns")))
        after = limit_pct_array(cats, np.full(len(cats), np.datetime64(CHINEXT_20PCT_FROM.to_datetime64(), "ns")))
        late = dates >= np.datetime64(CHINEXT_20PCT_FROM.to_datetime64(), "ns")
        return np.where(late, after[codes], before[codes])
    return limit_pct_array(np.asarray(sym.astype(str)), dates)


def anomaly_report(bars: pd.DataFrame, calendar: pd.DatetimeIndex) -> AnomalyReport:
    """Count suspensions, missing volume and moves beyond the board limit in canonical ``bars``."""
    vol = bars["volume"].to_numpy()
    suspended = vol == 0
    nan_vol = np.isnan(vol)
    # Close-to-close adjusted move against the previous trading day's bar of the same symbol
    # (a gap after a missing day is not a one-day move), on a dates x symbols grid.
    codes = _symbol_codes(bars["symbol"])
    day = calendar.get_indexer(bars["date"])
    n_sym = int(codes.max()) + 1 if len(codes) else 0
    grid = np.full((len(calendar), n_sym), np.nan)
    grid[day, codes] = (bars["close"] * bars["factor"]).to_numpy()
    prev = np.vstack([np.full((1, n_sym), np.nan), grid[:-1]])
    with np.errstate(invalid="ignore", divide="ignore"):
        move = (grid / prev - 1.0)[day, codes]
    # Stocks listed after the calendar's first day trade without a limit for their first days.
    first_day = np.full(n_sym, len(calendar))
    np.minimum.at(first_day, codes, day)
    newly_listed = (first_day[codes] > 0) & (day - first_day[codes] < NO_LIMIT_LISTING_DAYS)
    limits = _limits(bars["symbol"], codes, bars["date"].to_numpy())
    with np.errstate(invalid="ignore"):
        beyond = (np.abs(move) > limits + LIMIT_SLACK) & ~newly_listed
        beyond21 = np.abs(move) > 0.21
    ex = {
        "suspended": bars.loc[suspended].head(_EXAMPLES),
        "nan_volume": bars.loc[nan_vol].head(_EXAMPLES),
        "beyond_limit": bars.loc[beyond].assign(move=move[beyond]).head(_EXAMPLES),
    }
    from .jumps import suspect_jumps

    jumps = suspect_jumps(bars, calendar)
    return AnomalyReport(
        rows=len(bars),
        suspended=int(suspended.sum()),
        nan_volume=int(nan_vol.sum()),
        beyond_limit=int(beyond.sum()),
        beyond_21pct=int(beyond21.sum()),
        examples=ex,
        suspect_jump=len(jumps),
        jumps=jumps,
    )

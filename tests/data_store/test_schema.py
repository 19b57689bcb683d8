"""Every validation rule of the canonical schema, on crafted bad frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import DataValidationError
from data_store.membership.universe import Membership
from data_store.schema import canonical_bars, validate_bars, validate_index

from .recorded import canonical, canonical_index

SRC = "crafted bars.parquet"


@pytest.fixture
def good() -> pd.DataFrame:
    """22 real rows (2 symbols x 11 days), canonical."""
    return canonical_bars(pd.concat([canonical("SH600519"), canonical("SZ000001")]), SRC)


def _raises(df, rule_part: str, count: int, calendar=None) -> DataValidationError:
    with pytest.raises(DataValidationError) as ei:
        validate_bars(df, SRC, calendar)
    err = ei.value
    assert err.source == SRC
    assert rule_part in err.rule
    assert err.count == count
    assert SRC in str(err) and str(count) in str(err)
    return err


def test_good_frame_passes_and_is_sorted(good):
    validate_bars(good, SRC, pd.DatetimeIndex(canonical_index()["date"]))
    assert list(good["symbol"].cat.categories) == ["SH600519", "SZ000001"]
    assert good["date"].iloc[0] == pd.Timestamp("2025-06-16") and good["symbol"].iloc[1] == "SZ000001"
    assert len(good) == 22


def test_missing_column(good):
    err = _raises(good.drop(columns=["factor"]), "required columns", 22)
    assert "missing ['factor']" in err.rule


def test_date_dtype(good):
    _raises(good.assign(date=good["date"].dt.strftime("%Y-%m-%d")), "'date' has dtype datetime64", 22)


def test_float_dtype(good):
    _raises(good.assign(volume=good["volume"].astype("int64")), "'volume' has dtype float64", 22)


def test_unique_date_symbol(good):
    bad = pd.concat([good, good.iloc[[3]]]).sort_values(["date", "symbol"], kind="stable").reset_index(drop=True)
    err = _raises(bad, "(date, symbol) unique", 2)
    assert "2025-06-17" in err.examples


def test_sorted(good):
    bad = good.iloc[[1, 0, *range(2, len(good))]].reset_index(drop=True)
    _raises(bad, "sorted by (date, symbol)", 1)
    bad = good.iloc[[2, 3, 0, 1, *range(4, len(good))]].reset_index(drop=True)
    _raises(bad, "sorted by (date, symbol)", 1)


@pytest.mark.parametrize("col", ["open", "high", "low", "close", "factor"])
@pytest.mark.parametrize("value", [0.0, -1.0, np.nan, np.inf])
def test_prices_and_factor_positive_finite(good, col, value):
    bad = good.copy()
    bad.loc[[4, 9], col] = value
    _raises(bad, f"'{col}' finite and > 0", 2)


def test_low_above_open(good):
    bad = good.copy()
    bad.loc[5, "low"] = bad.loc[5, "open"] + 0.01
    err = _raises(bad, "low <= open, close <= high", 1)
    assert "SZ000001" in err.examples


def test_high_below_close(good):
    bad = good.copy()
    bad.loc[[0, 1, 2], "high"] = bad.loc[[0, 1, 2], "close"] - 0.01
    _raises(bad, "low <= open, close <= high", 3)


def test_negative_volume_but_nan_allowed(good):
    ok = good.copy()
    ok.loc[0, "volume"] = np.nan
    ok.loc[1, "volume"] = 0.0
    validate_bars(ok, SRC)
    bad = good.copy()
    bad.loc[7, "volume"] = -100.0
    _raises(bad, "'volume' >= 0 or NaN", 1)


def test_dates_on_calendar(good):
    cal = pd.DatetimeIndex(canonical_index()["date"]).delete(3)  # drop 2025-06-19
    err = _raises(good, "every date is a trading day", 2, cal)
    assert "2025-06-19" in err.examples


def test_canonical_bars_rejects_non_numeric(good):
    with pytest.raises(DataValidationError) as ei:
        canonical_bars(good.assign(close="n/a"), "vendor frame")
    assert ei.value.source == "vendor frame" and "'close' is numeric" in ei.value.rule and ei.value.count == 22


def test_canonical_bars_sorts_and_fixes_dtypes():
    raw = canonical("SH600519").iloc[::-1].assign(volume=lambda f: f["volume"].astype("int64"))
    out = canonical_bars(raw, "x")
    assert out["date"].is_monotonic_increasing and out["volume"].dtype == np.float64
    assert out["volume"].iloc[0] == 4288787.0


@pytest.mark.parametrize(
    "mutate, rule, count",
    [
        (lambda f: pd.concat([f, f.iloc[[2]]]).sort_values("date", kind="stable"), "index dates unique", 2),
        (lambda f: f.iloc[[1, 0, *range(2, len(f))]], "index dates sorted", 11),
        (lambda f: f.assign(close=f["close"].where(f.index != 4, 0.0)), "index 'close' finite and > 0", 1),
        (lambda f: f.assign(low=f["low"].where(f.index != 6, 4000.0)), "index low <= open, close <= high", 1),
    ],
)
def test_index_rules(mutate, rule, count):
    bad = mutate(canonical_index()).reset_index(drop=True)
    with pytest.raises(DataValidationError) as ei:
        validate_index(bad, "crafted index")
    assert ei.value.source == "crafted index" and ei.value.rule == rule and ei.value.count == count


def test_membership_rules():
    frame = pd.DataFrame({"symbol": ["SH600519", "SZ000001"], "name": ["a", "b"],
                          "start": ["2020-01-02", "2021-06-01"], "end": ["2019-01-02", None]})
    with pytest.raises(DataValidationError) as ei:
        Membership.from_frame(frame, "crafted membership.csv")
    assert ei.value.source == "crafted membership.csv" and ei.value.count == 1
    with pytest.raises(DataValidationError) as ei:
        Membership.from_frame(frame.drop(columns=["end"]), "crafted membership.csv")
    assert "missing ['end']" in ei.value.rule

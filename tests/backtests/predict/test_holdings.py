"""The holdings file: one row per purchase, any symbol spelling, every bad value refused with its line."""

from __future__ import annotations

import pandas as pd
import pytest

from backtests.predict.holdings import read_holdings
from core.errors import ConfigError


def _write(tmp_path, text):
    p = tmp_path / "book.csv"
    p.write_text(text, encoding="utf-8")
    return p


def test_purchases_add_up_per_symbol_and_t_plus_1_reads_the_day(tmp_path):
    p = _write(tmp_path, "symbol,shares,bought,note\n600519.SH,100,2025-06-10,x\nsh600519,200,2025-06-23,\n"
                         "000001,1000,2025-05-06,\n")
    book = read_holdings(p, 5_000.0)
    assert book.cash == 5_000.0 and book.symbols == ["SH600519", "SZ000001"]
    assert book.shares().to_dict() == {"SH600519": 300.0, "SZ000001": 1_000.0}
    assert book.bought_on(pd.Timestamp("2025-06-23")).to_dict() == {"SH600519": 200.0}
    assert book.first_bought().to_dict() == {"SH600519": pd.Timestamp("2025-06-10"),
                                             "SZ000001": pd.Timestamp("2025-05-06")}
    assert len(book.sha256) == 64 and book.source == str(p)


def test_a_header_alone_is_an_empty_book_and_no_file_is_cash(tmp_path):
    assert read_holdings(_write(tmp_path, "symbol,shares,bought\n"), 1e6).symbols == []
    cash = read_holdings(None, 1e6)
    assert (cash.symbols, cash.cash, cash.source, cash.sha256) == ([], 1e6, "cash", "")


@pytest.mark.parametrize(("text", "needle"), [
    ("symbol,shares\nSH600519,100\n", "lacks the column(s) ['bought']"),
    ("symbol,shares,bought\nXX600519,100,2025-06-10\n", "line 2: symbol 'XX600519' is not an A-share code"),
    ("symbol,shares,bought\nSH600519,nan,2025-06-10\n", "line 2: shares = 'nan' must be a whole number"),
    ("symbol,shares,bought\nSH600519,100,2025-06-10\nSH600036,-5,2025-06-10\n", "line 3: shares = '-5'"),
    ("symbol,shares,bought\nSH600519,10.5,2025-06-10\n", "shares = '10.5' must be a whole number"),
    ("symbol,shares,bought\nSH600519,100,yesterday\n", "bought = 'yesterday' must be the day"),
    ("symbol,shares,bought\nSH600519,100,\n", "bought = '' must be the day"),
    ("symbol,shares,bought,tranche\nSH600519,100,2025-06-10,-1\n", "line 2: tranche = '-1' must be a whole number"),
    ("symbol,shares,bought,tranche\nSH600519,100,2025-06-10,1.5\n", "tranche = '1.5' must be a whole number"),
    ("symbol,shares,bought,tranche\nSH600519,100,2025-06-10,1\nSH600519,100,2025-06-11,2\n",
     "SH600519 has rows in tranches [1, 2]: a position belongs to one tranche"),
])
def test_bad_rows_are_refused_with_their_line(tmp_path, text, needle):
    with pytest.raises(ConfigError) as err:
        read_holdings(_write(tmp_path, text), 0.0)
    assert needle in str(err.value)


@pytest.mark.parametrize("cash", [float("nan"), float("inf"), -1.0])
def test_cash_must_be_a_finite_amount(cash):
    with pytest.raises(ConfigError, match="--cash"):
        read_holdings(None, cash)


def test_a_purchase_after_the_fill_session_or_an_unknown_symbol_is_refused(tmp_path):
    book = read_holdings(_write(tmp_path, "symbol,shares,bought\nSH600519,100,2025-06-24\n"), 0.0)
    with pytest.raises(ConfigError, match="bought on 2025-06-24, after 2025-06-23"):
        book.check({"SH600519"}, pd.Timestamp("2025-06-20"), pd.Timestamp("2025-06-23"))
    with pytest.raises(ConfigError, match=r"\['SH600519'\] have no bars"):
        book.check({"SH600036"}, pd.Timestamp("2025-06-20"), pd.Timestamp("2025-06-25"))


def test_the_tranche_column_is_optional_and_per_position(tmp_path):
    """A position's tranche of the review cycle, given on any of its rows (empty: from its buy day)."""
    p = _write(tmp_path, "symbol,shares,bought,tranche\nSH600519,100,2025-06-10,3\nSH600519,100,2025-06-11,\n"
                         "SZ000001,200,2025-06-10,\n")
    book = read_holdings(p, 0.0, pd.Timestamp("2025-06-09"))
    assert book.tranches().to_dict() == {"SH600519": 3} and book.cycle_start == pd.Timestamp("2025-06-09")
    assert read_holdings(_write(tmp_path, "symbol,shares,bought\nSH600519,100,2025-06-10\n"), 0.0).tranches().empty
    cal = pd.DatetimeIndex(pd.to_datetime(["2025-06-06", "2025-06-09", "2025-06-10", "2025-06-11"]))
    # without --cycle-start: the decision day of the earliest purchase (the session before 06-10)
    assert read_holdings(p, 0.0).cycle_day0(cal, pd.Timestamp("2025-06-11")) == pd.Timestamp("2025-06-09")
    assert read_holdings(None, 0.0).cycle_day0(cal, pd.Timestamp("2025-06-11")) == pd.Timestamp("2025-06-11")

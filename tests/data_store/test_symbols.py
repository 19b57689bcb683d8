"""Symbol codes as users type them: ``python -m data_store symbols``, one list syntax for every
``--symbols``, and the suggestion for a bare code, on the real snapshot."""

from __future__ import annotations

import io

import pandas as pd
import pytest

import data_store.loader
import data_store.sources
from core.errors import ConfigError
from data_store.__main__ import main
from data_store.symbols import did_you_mean, split_symbols, symbol_table

from .recorded import FakeSource


@pytest.fixture
def fast_snapshot(monkeypatch, snap):
    monkeypatch.setattr(data_store.loader, "load_snapshot", lambda validate=True: snap)
    return snap


def test_symbol_table_has_name_bars_and_membership_spans(snap):
    t = symbol_table(snap).set_index("symbol")
    # membership.csv: SH600004 白云机场 2005-04-08..2012-01-01 and 2018-12-17..2021-06-11 (end exclusive)
    assert t.loc["SH600004", "member"] == "2005-04-08..2011-12-30; 2018-12-17..2021-06-10"
    assert t.loc["SH600004", "name"] == "白云机场"
    assert t.loc["SH600519", "member"] == "2005-04-08.."  # a member to this day
    assert (t.loc["SH600519", "first_bar"], t.loc["SH600519", "last_bar"]) == (pd.Timestamp("2010-01-04").date(),
                                                                                 pd.Timestamp("2025-06-30").date())
    assert t.loc["SH600519", "bars"] == int((snap.bars["symbol"] == "SH600519").sum())
    # a member only before the data: no bar, its span ends the day before its (exclusive) end
    assert (t.loc["SH600001", "bars"], t.loc["SH600001", "member"]) == (0, "2005-04-08..2010-01-03")
    assert set(snap.symbols) <= set(t.index) and set(snap.membership.symbols) <= set(t.index)


def test_symbols_on_a_day_are_its_point_in_time_members(snap):
    day = pd.Timestamp("2024-01-02")
    t = symbol_table(snap, on=day)
    assert list(t["symbol"]) == sorted(snap.members(day)) and len(t) == 300


def test_symbols_cli_filters_writes_codes_as_text_and_suggests_a_prefix(fast_snapshot, capsys, monkeypatch):
    assert main(["symbols", "--symbols", "SZ000001,sh600519", "--csv", "--no-cache"]) == 0
    out = pd.read_csv(io.StringIO(capsys.readouterr().out), dtype={"symbol": str})
    assert list(out["symbol"]) == ["SH600519", "SZ000001"] and list(out["name"]) == ["贵州茅台", "平安银行"]
    assert main(["symbols", "--on", "2024-01-02", "--no-cache"]) == 0
    assert "300 symbol(s) that were CSI-300 members on 2024-01-02" in capsys.readouterr().out
    assert main(["symbols", "--symbols", "600519", "--no-cache"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "did you mean SH600519 for 600519?" in err
    assert "python -m data_store symbols" in err


def test_one_list_syntax_and_the_suggestion(snap):
    assert split_symbols("SH600519,SZ000001") == split_symbols(["SH600519", "SZ000001"]) == \
        split_symbols(["sh600519, sz000001"]) == ["SH600519", "SZ000001"]
    with pytest.raises(ConfigError, match="empty item"):
        split_symbols("SH600519,,SZ000001")
    assert did_you_mean(["600519", "000001", "600519.SH", "999999"], snap.symbols) == {
        "600519": "SH600519", "000001": "SZ000001", "600519.SH": "SH600519"}
    with pytest.raises(ConfigError, match=r"did you mean SZ000001 for 000001\?.*python -m data_store symbols"):
        snap.slice(symbols=["000001"])


def test_update_reads_the_same_comma_list(monkeypatch, fast_snapshot, tmp_path, capsys):
    src = FakeSource()
    monkeypatch.setattr(data_store.sources, "make_source", lambda name, policy=None, **kw: src)
    args = ["update", "--source", "akshare", "--symbols", "600519,000001.SZ", "--start", "2025-06-16",
            "--end", "2025-06-30", "--cache-dir", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 0
    assert "2 symbol(s) updated" in capsys.readouterr().out
    assert sorted(set(src.fetched)) == ["SH600519", "SZ000001"]

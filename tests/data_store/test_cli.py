"""``python -m data_store info|update``: figures, errors on one line with exit code 2."""

from __future__ import annotations

import socket
import subprocess
import sys
import time

import pandas as pd
import pytest

import data_store.loader
import data_store.sources
from data_store.__main__ import main
from data_store.cache import Cache, bars_path

from .recorded import FakeSource


@pytest.fixture
def fast_snapshot(monkeypatch, snap, short_snap):
    """Let the CLI reuse the session's snapshot instead of reading the parquet again."""
    monkeypatch.setattr(data_store.loader, "load_snapshot", lambda validate=True: snap)
    return snap


def test_info_prints_real_figures(fast_snapshot, tmp_path, capsys):
    assert main(["info", "--cache-dir", str(tmp_path / "none")]) == 0
    out = capsys.readouterr().out
    for text in ("2010-01-04 .. 2025-06-30", "stocks with bars                                 760",
                 "2,443,983", "members without any bar                          187",
                 "suspended (volume 0)     61920", "no volume (NaN)            787",
                 "2010-01-04 2014-07-09  1093      301", "-SH600357",
                 "SH600357 承德钒钛 member 2005-04-08..2014-07-10",
                 "fr220574/Qlib-format-A-share-dataset", "index-constitution==1.0.1",
                 "state    empty (no manifest.json)"):
        assert text in out, text
    assert "members with a bar          279     286  299" in out


def test_info_shows_damaged_cache(fast_snapshot, tmp_path, capsys):
    c = Cache(tmp_path / "c")
    c.commit(bars_path("SH600519"), FakeSource().bars("SH600519", pd.Timestamp("2025-06-16"),
             pd.Timestamp("2025-06-30")), kind="bars", source="fake", symbol="SH600519")
    (c.root / "bars" / "SH600519.parquet").write_bytes(b"PAR1")
    assert main(["info", "--cache-dir", str(c.root)]) == 0
    out = capsys.readouterr().out
    assert "DAMAGED  1 file(s)" in out and "python -m data_store update --repair" in out


def test_update_repair_cli(tmp_path, capsys):
    c = Cache(tmp_path / "c")
    c.commit(bars_path("SH600519"), FakeSource().bars("SH600519", pd.Timestamp("2025-06-16"),
             pd.Timestamp("2025-06-30")), kind="bars", source="fake", symbol="SH600519")
    (c.root / "bars" / "SH600519.parquet").write_bytes(b"garbage")
    assert main(["update", "--repair", "--cache-dir", str(c.root)]) == 0
    assert "removed 1 damaged file(s): bars/SH600519.parquet" in capsys.readouterr().out
    assert main(["update", "--repair", "--cache-dir", str(c.root)]) == 0
    assert "nothing to repair" in capsys.readouterr().out


def test_update_offline_fails_fast_exit_2(monkeypatch, tmp_path, capsys):
    def no_dns(*a, **kw):
        raise socket.gaierror(-3, "Temporary failure in name resolution")

    monkeypatch.setattr(socket, "create_connection", no_dns)
    t0 = time.perf_counter()
    rc = main(["update", "--source", "akshare", "--cache-dir", str(tmp_path / "c")])
    assert rc == 2 and time.perf_counter() - t0 < 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0
    assert err.startswith("data_store update: error: akshare: cannot reach push2his.eastmoney.com:443")
    assert not (tmp_path / "c").exists()


def test_update_errors_are_one_line(tmp_path, capsys):
    assert main(["update", "--cache-dir", str(tmp_path)]) == 2
    assert capsys.readouterr().err.strip() == (
        "data_store update: error: update needs --source akshare or --source tushare (or --repair)")
    assert main(["update", "--source", "tushare", "--cache-dir", str(tmp_path)]) == 2
    assert "set the environment variable TUSHARE_TOKEN" in capsys.readouterr().err


def test_update_with_fake_source(monkeypatch, fast_snapshot, tmp_path, capsys):
    src = FakeSource(fail=("SZ000001",))
    monkeypatch.setattr(data_store.sources, "make_source", lambda name, policy=None: src)
    args = ["update", "--source", "akshare", "--symbols", "600519", "000001.SZ", "--start", "2025-06-16",
            "--end", "2025-06-30", "--cache-dir", str(tmp_path / "c"), "--no-progress"]
    assert main(args) == 1
    cap = capsys.readouterr()
    assert "1 symbol(s) updated (11 bar rows)" in cap.out
    assert "  SZ000001: fake bars(SZ000001) failed after 4 attempt(s)" in cap.err
    src.fail = set()
    assert main(args) == 0
    assert "1 symbol(s) updated (11 bar rows), 1 already current" in capsys.readouterr().out


def test_module_entry_point_runs():
    """`python -m data_store` itself (a subprocess: argparse usage error -> exit 2)."""
    r = subprocess.run([sys.executable, "-m", "data_store"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "usage: python -m data_store" in r.stderr

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
from data_store.cache.store import Cache, bars_path

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
    assert "1 file(s):\n  bars/SH600519.parquet\n" in capsys.readouterr().out
    assert main(["update", "--repair", "--cache-dir", str(c.root)]) == 0
    assert "all 0 file(s) match the manifest and the calendar; nothing to repair" in capsys.readouterr().out


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
    monkeypatch.setattr(data_store.sources, "make_source", lambda name, policy=None, **kw: src)
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


def test_repair_of_a_missing_or_empty_folder(tmp_path, capsys):
    assert main(["update", "--repair", "--cache-dir", str(tmp_path / "typo")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no cache at" in err and "the folder does not exist" in err
    assert "every file matches" not in err and not (tmp_path / "typo").exists()
    (tmp_path / "empty").mkdir()
    assert main(["update", "--repair", "--cache-dir", str(tmp_path / "empty")]) == 0
    assert "empty folder, no cache files; nothing to repair" in capsys.readouterr().out
    assert list((tmp_path / "empty").iterdir()) == []


def test_info_reports_a_cache_that_load_refuses(fast_snapshot, tmp_path, capsys):
    from .test_faults import _gap_cache

    c = _gap_cache(tmp_path / "c")
    assert main(["info", "--cache-dir", str(c.root)]) == 0
    out = capsys.readouterr().out
    assert "DAMAGED  2 file(s) (data_store.load() refuses the cache; `python -m data_store update --repair`" in out
    assert "1 row(s) on days the calendar lacks (2026-01-05)" in out
    assert "2026-05-08" in out  # the intact days are merged and shown
    assert main(["update", "--repair", "--cache-dir", str(c.root)]) == 0
    assert "dropped 1 row(s) on days the calendar lacks (2026-01-05)" in capsys.readouterr().out
    assert main(["info", "--cache-dir", str(c.root)]) == 0
    assert "check    every file matches its manifest sha256" in capsys.readouterr().out


def _after_source(monkeypatch, module):
    """The CLI's akshare source (with the CLI's call policy) on a fake module; the TCP probe passes
    (the vendor accepts connections)."""
    from data_store.sources import AkshareSource

    def make(name, policy=None, **kw):
        src = AkshareSource(policy, module=module)
        src.probe = lambda: None  # type: ignore[method-assign]
        return src

    monkeypatch.setattr(data_store.sources, "make_source", make)


def test_update_with_only_delisted_symbols_exits_0_and_lists_them(monkeypatch, fast_snapshot, tmp_path, capsys):
    from .recorded_after import AfterAkshare

    _after_source(monkeypatch, AfterAkshare())
    args = ["update", "--source", "akshare", "--symbols", "SH600519", "SH601989", "--end", "2026-05-08",
            "--cache-dir", str(tmp_path / "c"), "--no-progress", "--calls-per-minute", "100000"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "1 symbol(s) have no bars in the range (recorded in the manifest, not retried):" in out
    assert "  SH601989: last bar none cached; left the CSI-300 on 2025-08-04" in out
    assert "membership history: index-constitution 1.0.1 (known to 2026-10-19)" in out
    assert main(args) == 0  # again: nothing left to do, still 0
    assert main(["info", "--cache-dir", str(tmp_path / "c")]) == 0
    out = capsys.readouterr().out
    assert "no bars  SH601989" in out and "membership after the snapshot: index-constitution 1.0.1" in out


def test_failing_vendor_ends_fast_with_exit_2_and_one_line(monkeypatch, fast_snapshot, tmp_path, capsys):
    from .recorded_after import FailingAkshare

    _after_source(monkeypatch, FailingAkshare())
    t0 = time.perf_counter()
    rc = main(["update", "--source", "akshare", "--cache-dir", str(tmp_path / "c"), "--retries", "1",
               "--no-progress"])
    assert rc == 2 and time.perf_counter() - t0 < 60
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert err.startswith("data_store update: error: akshare failed 6 call(s) in a row")
    assert "[0 symbol(s) committed, " in err


def test_unreachable_tushare_with_a_token_exits_2_in_seconds(tmp_path):
    env = {**__import__("os").environ, "TUSHARE_TOKEN": "0" * 56, "CSI300_CACHE_DIR": str(tmp_path / "c")}
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "data_store", "update", "--source", "tushare"], capture_output=True,
                       text=True, timeout=60, env=env)
    assert r.returncode == 2 and time.perf_counter() - t0 < 60 and r.stderr.count("\n") == 1, r.stderr
    # offline (as here): the probe fails; with a network, tushare refuses the token at the first call
    assert r.stderr.startswith("data_store update: error: tushare"), r.stderr
    assert "cannot reach api.waditu.com:80" in r.stderr or "the token is wrong" in r.stderr
    assert "0" * 56 not in r.stderr

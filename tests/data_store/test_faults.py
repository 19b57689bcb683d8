"""Injected faults: a vendor that fails every call or hangs, a wrong token, a quota, a vendor that
answers everything empty, pacing, and a cache that load() refuses."""

from __future__ import annotations

import time

import pandas as pd
import pytest

import data_store
import data_store.sources.base as base_mod
from core.errors import ConfigError, DataValidationError
from data_store.cache.store import INDEX_FILE, Cache, bars_path
from data_store.errors import FatalSourceError, VendorDownError
from data_store.sources import AkshareSource, CallPolicy, TushareSource, call_vendor
from data_store.sources.pacing import CircuitBreaker, Pacer, tushare_calls_per_minute
from data_store.update import MAX_EMPTY_IN_A_ROW, run_update

from .recorded_after import AfterAkshare, AfterTushare, FailingAkshare, real_bars, real_index

SYMS = ["SH600519", "SZ000001", "SH688256", "SH600000", "SH600036", "SH601318"]


def _policy(**kw) -> CallPolicy:
    return CallPolicy(**{"timeout": 5.0, "retries": 3, "backoff": 0.01, "calls_per_minute": float("inf"), **kw})


def test_failing_api_stops_after_a_run_of_failures(snap, tmp_path):
    """The API accepts connections and fails every call after two symbols: the update stops with
    one message after 6 failed calls; the two symbols fetched before stay committed."""
    cache = Cache(tmp_path / "c", durable=False)
    ak = FailingAkshare(ok_symbols=2)
    t0 = time.perf_counter()
    rep = run_update(AkshareSource(_policy(), module=ak), cache, snapshot=snap, symbols=SYMS, end="2026-05-08",
                     progress=False, probe=False)
    assert time.perf_counter() - t0 < 10
    assert rep.stopped.startswith("akshare failed 6 call(s) in a row") and "ConnectionError" in rep.stopped
    assert rep.ok == ["SH600000", "SH600036"] and list(rep.failed) == ["SH600519"]  # 4 attempts, then 2 more
    assert rep.not_attempted == ["SH601318", "SH688256", "SZ000001"]
    assert sorted(cache.read_manifest()["symbols"]) == ["SH600000", "SH600036"] and cache.verify() == []
    assert cache.read_manifest()["updates"][-1]["stopped"] == rep.stopped
    # once the vendor answers again, the same command resumes with what is missing
    again = run_update(AkshareSource(_policy(), module=AfterAkshare()), cache, snapshot=snap, symbols=SYMS,
                       end="2026-05-08", progress=False, probe=False)
    assert sorted(again.skipped) == ["SH600000", "SH600036"] and len(again.ok) == 4 and again.complete


def test_hanging_api_stops_within_the_silence_budget(snap, tmp_path):
    """Every call hangs past its timeout: the update stops once no call succeeded for max_silence."""
    cache = Cache(tmp_path / "c", durable=False)
    src = AkshareSource(_policy(timeout=0.3, max_silence=1.0), module=FailingAkshare(mode="hang"))
    t0 = time.perf_counter()
    rep = run_update(src, cache, snapshot=snap, symbols=SYMS, end="2026-05-08", progress=False, probe=False)
    assert time.perf_counter() - t0 < 3
    assert "no answer within" in rep.stopped and rep.ok == [] and len(rep.not_attempted) == len(SYMS)


def test_wrong_token_stops_at_the_first_call(snap, tmp_path):
    ts = AfterTushare()
    src = TushareSource(token="wrong", policy=_policy(), module=ts)
    src._client().fail_with = Exception("您的token不对，请确认。")
    rep = run_update(src, Cache(tmp_path / "c", durable=False), snapshot=snap, symbols=SYMS, progress=False,
                     probe=False)
    assert "the token is wrong: check $TUSHARE_TOKEN" in rep.stopped and len(ts.pro.calls) == 1
    with pytest.raises(FatalSourceError, match="lacks the points"):
        call_vendor("x", lambda: (_ for _ in ()).throw(Exception("抱歉，您没有接口访问权限")), policy=_policy(),
                    fatal=base_fatal())


def base_fatal():
    from data_store.sources.tushare_source import _fatal

    return _fatal


def test_per_minute_quota_slows_the_pacer_and_waits(monkeypatch):
    """tushare says its per-minute quota was exceeded: the pacer slows to it, the call waits the
    minute out and succeeds; the circuit breaker does not count it as a vendor failure."""
    from data_store.sources.tushare_source import _throttled

    monkeypatch.setattr(base_mod, "QUOTA_WAIT", 0.0)
    answers = [Exception("抱歉，您每分钟最多访问该接口200次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"),
               pd.DataFrame({"a": [1]})]

    def fn():
        a = answers.pop(0)
        if isinstance(a, Exception):
            raise a
        return a

    pacer, breaker = Pacer(None), CircuitBreaker("tushare", max_consecutive=1)
    out = call_vendor("x", fn, policy=_policy(retries=1), pacer=pacer, breaker=breaker, throttled=_throttled)
    assert len(out) == 1 and pacer.interval == pytest.approx(60 / 180) and not breaker.opened


def test_a_vendor_answering_everything_empty_is_no_delisting_wave(snap, tmp_path):
    ak = AfterAkshare(empty=tuple(f"SZ{c:06d}" for c in range(2, 40)))
    syms = [f"SZ{c:06d}" for c in range(2, 40)]
    rep = run_update(AkshareSource(_policy(), module=ak), Cache(tmp_path / "c", durable=False), snapshot=snap,
                     symbols=syms, end="2026-05-08", progress=False, probe=False)
    assert f"answered {MAX_EMPTY_IN_A_ROW} symbols in a row with no rows" in rep.stopped
    assert rep.no_bars == {} and len(rep.not_attempted) == len(syms)


def test_pacer_spaces_calls_to_the_quota():
    now = [0.0]
    slept: list[float] = []

    def sleep(s: float) -> None:
        slept.append(s)
        now[0] += s

    p = Pacer(120, clock=lambda: now[0], sleep=sleep)
    for _ in range(5):
        p.wait()
    assert slept == pytest.approx([0.5] * 4) and p.waited == pytest.approx(2.0) and p.eta(600) == pytest.approx(300)
    assert tushare_calls_per_minute(120) == 45 and tushare_calls_per_minute(2000) == 180
    assert tushare_calls_per_minute(5999) == 450 and tushare_calls_per_minute(20000) == 900
    with pytest.raises(ConfigError, match="below tushare's lowest level"):
        tushare_calls_per_minute(50)
    src = TushareSource(token="t", policy=CallPolicy(), module=AfterTushare(), points=2000)
    assert src.pacer.interval == pytest.approx(60 / 180)


def test_breaker_opens_and_names_the_last_error():
    t = [0.0]
    b = CircuitBreaker("akshare", max_consecutive=3, max_silence=10, clock=lambda: t[0])
    b.failure("call A: ConnectionError", 0.0)
    b.success()
    for i in range(3):
        t[0] = i
        b.failure(f"call {i}: ConnectionError", float(i))
    assert b.opened and "failed 3 call(s) in a row over 2 s (last: call 2: ConnectionError)" in b.message()
    with pytest.raises(VendorDownError):
        b.check()


# ---------------------------------------------------------------- a cache that load() refuses
def _gap_cache(root) -> Cache:
    """Bars cached (by an older version) on 2026-01-05, which the cached index lacks."""
    c = Cache(root, durable=False)
    for sym in ("SH600519", "SZ000001"):
        c.commit(bars_path(sym), real_bars(sym), kind="bars", source="akshare", symbol=sym,
                 extra={"fetched_range": ["2025-06-16", "2026-05-08"]})
    c.commit(INDEX_FILE, real_index(drop=("2026-01-05",)), kind="index", source="akshare")
    return c


def test_load_refuses_with_a_one_line_message_naming_the_repair(snap, tmp_path):
    c = _gap_cache(tmp_path / "c")
    with pytest.raises(DataValidationError) as ei:
        data_store.merge_cache(snap, c.root)
    first = str(ei.value).splitlines()[0]
    assert "2 row(s) break the rule 'every date is a trading day" in first
    assert "the cached index lacks 2026-01-05: run `python -m data_store update --repair`" in first
    problems = dict(c.verify(snap.calendar))
    assert set(problems) == {"bars/SH600519.parquet", "bars/SZ000001.parquet"}
    assert "1 row(s) on days the calendar lacks (2026-01-05)" in problems["bars/SH600519.parquet"]


def test_repair_drops_what_load_refuses(snap, tmp_path):
    c = _gap_cache(tmp_path / "c")
    done = c.repair(snap.calendar)
    assert done == ["bars/SH600519.parquet: dropped 1 row(s) on days the calendar lacks (2026-01-05)",
                    "bars/SZ000001.parquet: dropped 1 row(s) on days the calendar lacks (2026-01-05)"]
    entry = c.read_manifest()["files"]["bars/SH600519.parquet"]
    assert entry["rows"] == 216 and entry["fetched_range"] == ["2025-06-16", "2026-05-08"]
    md = data_store.merge_cache(snap, c.root)
    assert md.end == pd.Timestamp("2026-05-08") and c.verify(snap.calendar) == [] and c.repair(snap.calendar) == []


def test_repair_of_a_missing_folder_creates_nothing(tmp_path):
    root = tmp_path / "typo"
    with pytest.raises(OSError, match="no cache at .*typo: the folder does not exist"):
        Cache(root).repair()
    assert not root.exists()

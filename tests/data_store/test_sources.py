"""Both vendor sources on recorded frames (the vendors' real column names) and injected faults."""

from __future__ import annotations

import logging
import socket
import time

import numpy as np
import pandas as pd
import pytest

from core.errors import ConfigError, DataValidationError
from data_store.errors import SourceError
from data_store.sources import (
    AkshareSource,
    CallPolicy,
    Source,
    TushareSource,
    call_vendor,
    probe_host,
    vendors,
)

from .recorded import BARS, FakeAkshare, FakeTushare, ak_cons, ak_hist, canonical

UNPACED = float("inf")  # tests do not pace (pacing has its own tests)
FAST = CallPolicy(timeout=2.0, retries=2, backoff=0.0, calls_per_minute=UNPACED)
START, END = pd.Timestamp("2025-06-16"), pd.Timestamp("2025-06-30")
TOKEN = "tok-3f9c1d7e5b2a48aa9d0e"


# ---------------------------------------------------------------- symbols
@pytest.mark.parametrize("spelling", ["SH600519", "sh600519", "600519.SH", "600519", " 600519.sh "])
def test_symbol_spellings(spelling):
    assert vendors.to_symbol(spelling) == "SH600519"


def test_symbol_conversions():
    assert vendors.to_plain("SZ000001") == "000001"
    assert vendors.to_tushare("SZ300750") == "300750.SZ"
    assert vendors.to_tushare("688981") == "688981.SH"
    assert vendors.to_symbol("000001.SZ") == "SZ000001"
    with pytest.raises(ConfigError, match="'60051' is not an A-share code"):
        vendors.to_symbol("60051")


def test_sources_satisfy_protocol():
    assert isinstance(AkshareSource(module=FakeAkshare()), Source)
    assert isinstance(TushareSource(token=TOKEN, module=FakeTushare()), Source)


# ---------------------------------------------------------------- akshare on recorded frames
def test_akshare_bars_recorded():
    ak = FakeAkshare()
    out = AkshareSource(FAST, module=ak).bars("SH600519", START, END)
    truth = canonical("SH600519")
    assert list(out.columns) == ["date", "symbol", "open", "high", "low", "close", "volume", "factor"]
    assert len(out) == 11 and set(out["symbol"].astype(str)) == {"SH600519"}
    np.testing.assert_array_equal(out["close"], truth["close"])
    np.testing.assert_array_equal(out["open"], truth["open"])
    # 成交量 is whole lots: 4288787 shares -> 42888 lots -> 4288800 shares
    assert out["volume"].iloc[0] == 4288800.0 and out["volume"].iloc[-1] == 3045700.0
    # factor = hfq close / raw close with the hfq close rounded to the fen
    assert out["factor"].iloc[0] == pytest.approx(round(1422.29 * 7.224926948547363, 2) / 1422.29, rel=1e-15)
    np.testing.assert_allclose(out["factor"], truth["factor"], rtol=5e-6)
    # both series asked for, raw first, the range in akshare's YYYYMMDD form, never qfq
    assert [c[1]["adjust"] for c in ak.calls] == ["", "hfq"]
    assert ak.calls[0][1] == {"symbol": "600519", "period": "daily", "start_date": "20250616",
                              "end_date": "20250630", "adjust": ""}


def test_akshare_through_the_real_module(monkeypatch):
    """The source calls the installed akshare module's functions (monkeypatched, no network)."""
    import akshare

    fake = FakeAkshare()
    monkeypatch.setattr(akshare, "stock_zh_a_hist", fake.stock_zh_a_hist)
    monkeypatch.setattr(akshare, "stock_zh_index_daily", fake.stock_zh_index_daily)
    monkeypatch.setattr(akshare, "index_stock_cons_csindex", fake.index_stock_cons_csindex)
    src = AkshareSource(FAST)
    assert len(src.bars("SZ000001", START, END)) == 11
    idx = src.index_bars(pd.Timestamp("2025-06-20"), pd.Timestamp("2025-06-30"))
    assert len(idx) == 7 and idx["close"].iloc[-1] == 3936.0791 and idx["volume"].iloc[-1] == 14517023744.0
    assert src.library_versions()["akshare"] == akshare.__version__


def test_akshare_constituents_recorded():
    ak = FakeAkshare(cons=["SH600519", "SZ000001", "SZ300750"])
    obs = AkshareSource(FAST, module=ak).constituents(START, END)
    assert list(obs.columns) == ["date", "symbol", "name"]
    assert list(obs["symbol"]) == ["SH600519", "SZ000001", "SZ300750"]
    assert (obs["date"] == pd.Timestamp("2025-06-30")).all()
    assert obs["name"].iloc[0] == "贵州茅台"
    assert ak.calls == [("index_stock_cons_csindex", {"symbol": "000300"})]


# ---------------------------------------------------------------- akshare faults
def test_akshare_timeout_is_bounded():
    ak = FakeAkshare()

    def hang(kw):
        time.sleep(3)
        return ak_hist("SH600519")

    ak.hist_override = hang
    src = AkshareSource(CallPolicy(timeout=0.2, retries=1, backoff=0.0, calls_per_minute=UNPACED), module=ak)
    t0 = time.perf_counter()
    with pytest.raises(SourceError) as ei:
        src.bars("SH600519", START, END)
    assert time.perf_counter() - t0 < 1.5
    assert "failed after 2 attempt(s)" in str(ei.value) and "no answer within 0.2 s" in str(ei.value)
    assert "stock_zh_a_hist(600519" in str(ei.value)  # the error names the (faked) vendor call


def test_akshare_index_timeout_without_own_timeout():
    ak = FakeAkshare()
    ak.stock_zh_index_daily = lambda symbol="sh000922": time.sleep(3)  # type: ignore[method-assign]
    src = AkshareSource(CallPolicy(timeout=0.2, retries=0, calls_per_minute=UNPACED), module=ak)
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match=r"stock_zh_index_daily\(sh000300\) failed after 1 attempt"):
        src.index_bars(START, END)
    assert time.perf_counter() - t0 < 1.0


def test_akshare_empty_frame():
    ak = FakeAkshare()
    ak.hist_override = lambda kw: pd.DataFrame()  # what akshare returns when klines is empty
    with pytest.raises(SourceError, match="returned no rows"):
        AkshareSource(FAST, module=ak).bars("SH600519", START, END)
    assert len(ak.calls) == 1  # not retried: asking again gives the same answer


def test_akshare_missing_column():
    ak = FakeAkshare()
    ak.hist_override = lambda kw: ak_hist("SH600519", kw["adjust"]).drop(columns=["成交量"])
    with pytest.raises(DataValidationError) as ei:
        AkshareSource(FAST, module=ak).bars("SH600519", START, END)
    err = ei.value
    assert err.source == "akshare stock_zh_a_hist(600519) (adjust='')"  # names the faked call
    assert "missing ['成交量']" in err.rule and err.count == 11


def test_akshare_exact_duplicate_rows_dropped(caplog):
    ak = FakeAkshare()
    ak.hist_override = lambda kw: pd.concat([ak_hist("SH600519", kw["adjust"])] * 2, ignore_index=True)
    with caplog.at_level(logging.WARNING):
        out = AkshareSource(FAST, module=ak).bars("SH600519", START, END)
    assert len(out) == 11
    assert "dropped 11 exact duplicate row(s)" in caplog.text


def test_akshare_conflicting_duplicates_rejected():
    ak = FakeAkshare()

    def clash(kw):
        df = ak_hist("SH600519", kw["adjust"])
        dup = df.iloc[[3]].assign(收盘=df["收盘"].iloc[3] + 1)
        return pd.concat([df, dup], ignore_index=True)

    ak.hist_override = clash
    with pytest.raises(DataValidationError) as ei:
        AkshareSource(FAST, module=ak).bars("SH600519", START, END)
    assert ei.value.rule.startswith("('date',) unique") and ei.value.count == 2


def test_akshare_retries_then_succeeds():
    ak = FakeAkshare()
    n = {"calls": 0}

    def flaky(kw):
        n["calls"] += 1
        if n["calls"] <= 2:
            raise ConnectionError("Connection reset by peer")
        return ak_hist("SH600519", kw["adjust"])

    ak.hist_override = flaky
    out = AkshareSource(FAST, module=ak).bars("SH600519", START, END)
    assert len(out) == 11 and n["calls"] == 4  # 2 failures + raw + hfq


def test_backoff_is_exponential():
    slept: list[float] = []

    def always_fail():
        raise OSError("down")

    with pytest.raises(SourceError, match=r"x failed after 4 attempt\(s\): OSError: down"):
        call_vendor("x", always_fail, policy=CallPolicy(timeout=1, retries=3, backoff=0.5), sleep=slept.append)
    assert slept == [0.5, 1.0, 2.0]


def test_probe_fails_fast_offline(monkeypatch):
    def no_dns(*a, **kw):
        raise socket.gaierror(-2, "Name or service not known")

    monkeypatch.setattr(socket, "create_connection", no_dns)
    with pytest.raises(SourceError, match="akshare: cannot reach push2his.eastmoney.com:443"):
        AkshareSource(FAST, module=FakeAkshare()).probe()


def test_probe_bounded_when_dns_hangs(monkeypatch):
    monkeypatch.setattr(socket, "create_connection", lambda *a, **kw: time.sleep(5))
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match="needs a network connection|updates need a network"):
        probe_host("akshare", "push2his.eastmoney.com", 443, timeout=0.2)
    assert time.perf_counter() - t0 < 1.5


# ---------------------------------------------------------------- tushare on recorded frames
def test_tushare_bars_recorded():
    ts = FakeTushare()
    out = TushareSource(token=TOKEN, policy=FAST, module=ts).bars("SZ000001", START, END)
    truth = canonical("SZ000001")
    assert len(out) == 11 and out["date"].is_monotonic_increasing
    for col in ("open", "high", "low", "close", "factor"):
        np.testing.assert_array_equal(out[col], truth[col])
    np.testing.assert_allclose(out["volume"], truth["volume"], rtol=1e-12)  # vol (lots) x 100
    assert out["volume"].iloc[0] == pytest.approx(117443824.0)
    assert ts.pro.calls[0] == ("daily", {"ts_code": "000001.SZ", "start_date": "20250616", "end_date": "20250630"})
    assert ts.pro.calls[1][0] == "adj_factor"


def test_tushare_index_in_shares():
    ts = FakeTushare()
    idx = TushareSource(token=TOKEN, policy=FAST, module=ts).index_bars(START, END)
    assert len(idx) == 11 and idx["date"].iloc[0] == START
    assert idx["volume"].iloc[-1] == pytest.approx(14517023744.0) and idx["close"].iloc[-1] == 3936.0791
    assert ts.pro.calls == [("index_daily", {"ts_code": "000300.SH", "start_date": "20250616", "end_date": "20250630"})]


def test_tushare_index_weight_to_observations():
    lists = {"2025-06-03": ["SH600519", "SZ000001"], "2025-07-01": ["SH600519", "SZ300750"]}
    ts = FakeTushare(weights=lists)
    obs = TushareSource(token=TOKEN, policy=FAST, module=ts).constituents(START, pd.Timestamp("2025-07-31"))
    assert obs.to_dict("list") == {
        "date": [pd.Timestamp("2025-06-03")] * 2 + [pd.Timestamp("2025-07-01")] * 2,
        "symbol": ["SH600519", "SZ000001", "SH600519", "SZ300750"],
        "name": ["", "", "", ""],
    }
    # the weight list in force at START is looked up a month back
    assert ts.pro.calls[0][1]["start_date"] == "20250516"


def test_tushare_missing_column():
    ts = FakeTushare()
    src = TushareSource(token=TOKEN, policy=FAST, module=ts)
    src._client()
    ts.pro.adj_factor = lambda **kw: pd.DataFrame({"ts_code": ["600519.SH"], "trade_date": ["20250630"]})
    with pytest.raises(DataValidationError) as ei:
        src.bars("SH600519", START, END)
    assert ei.value.source == "tushare daily+adj_factor(600519.SH) adj_factor"
    assert "missing ['adj_factor']" in ei.value.rule and ei.value.count == 1


def test_tushare_empty_and_duplicates(caplog):
    ts = FakeTushare()
    src = TushareSource(token=TOKEN, policy=FAST, module=ts)
    src._client()
    real_daily = ts.pro.daily
    ts.pro.daily = lambda **kw: pd.concat([real_daily(**kw)] * 2, ignore_index=True)
    with caplog.at_level(logging.WARNING):
        assert len(src.bars("SH600519", START, END)) == 11
    assert "dropped 11 exact duplicate row(s)" in caplog.text
    ts.pro.daily = lambda **kw: pd.DataFrame(columns=["ts_code", "trade_date", "open"])
    with pytest.raises(SourceError, match=r"tushare daily\(600519.SH, 20250616..20250630\) returned no rows"):
        src.bars("SH600519", START, END)


def test_tushare_timeout():
    ts = FakeTushare()
    policy = CallPolicy(timeout=0.2, retries=1, backoff=0.0, calls_per_minute=UNPACED)
    src = TushareSource(token=TOKEN, policy=policy, module=ts)
    src._client()
    ts.pro.index_daily = lambda **kw: time.sleep(3)
    t0 = time.perf_counter()
    with pytest.raises(SourceError, match=r"index_daily\(000300.SH\) failed after 2 attempt"):
        src.index_bars(START, END)
    assert time.perf_counter() - t0 < 1.5


def test_tushare_token_from_env_never_shown(monkeypatch, caplog):
    monkeypatch.setenv("TUSHARE_TOKEN", TOKEN)
    ts = FakeTushare()
    src = TushareSource(policy=CallPolicy(timeout=1, retries=1, backoff=0.0, calls_per_minute=UNPACED), module=ts)
    caplog.set_level(logging.DEBUG)
    assert TOKEN not in repr(src) and TOKEN not in str(src)
    src.bars("SH600519", START, END)
    assert ts.pro._token == TOKEN  # handed to pro_api, nowhere else
    # a vendor error that echoes the token is redacted before it reaches messages or logs
    ts.pro.fail_with = RuntimeError(f"token {TOKEN} is invalid")
    with pytest.raises(SourceError) as ei:
        src.bars("SH600519", START, END)
    assert TOKEN not in str(ei.value) and "token *** is invalid" in str(ei.value)
    assert TOKEN not in caplog.text and "attempt 1/2 failed" in caplog.text
    assert TOKEN not in repr(vars(src).get("policy"))


def test_tushare_without_token_fails_before_network():
    with pytest.raises(SourceError, match="set the environment variable TUSHARE_TOKEN"):
        TushareSource(module=FakeTushare()).probe()


def test_recorded_frames_use_vendor_names():
    """Guard: the recorded frames carry the vendors' real column names."""
    assert list(ak_hist("SH600519").columns) == ["日期", "股票代码", "开盘", "收盘", "最高", "最低", "成交量",
                                                 "成交额", "振幅", "涨跌幅", "涨跌额", "换手率"]
    assert "成分券代码" in ak_cons(["SH600519"]).columns
    assert set(BARS) == {"SH600519", "SZ000001"}


def test_akshare_factor_ignores_rounding_jitter_and_keeps_real_ex_rights_days():
    """hfq / raw of two prices quoted to the fen jitters every day; only real ex-rights days
    (here SH600519's and SZ000001's 2023-2024 dividends, from the real snapshot) change the factor."""
    import numpy as np

    import data_store
    from data_store.sources.vendors import stable_factor

    md = data_store.load(use_cache=False).slice("2023-01-01", "2024-12-31", symbols=["SH600519", "SZ000001"])
    for sym, g in md.bars.groupby("symbol", observed=True):
        raw = g["close"].to_numpy()
        true_factor = g["factor"].to_numpy()
        hfq = np.round(raw * true_factor, 2)  # what akshare's adjust='hfq' series quotes
        naive = hfq / raw
        assert (np.abs(np.diff(naive)) > 0).sum() > 100  # the jitter is real
        got = stable_factor(hfq, raw)
        true_changes = np.flatnonzero(np.diff(true_factor) != 0)
        got_changes = np.flatnonzero(np.diff(got) != 0)
        assert 1 <= len(true_changes) <= 4, sym
        assert list(got_changes) == list(true_changes), sym
        assert np.allclose(got, true_factor, rtol=2e-3)


# ---------------------------------------------------------------- characteristics (the styles size, value, industry)
def test_tushare_daily_basic_to_characteristics_in_cny_and_shares():
    from .recorded import SHARES, ts_daily_basic

    ts = FakeTushare()
    out = TushareSource(token=TOKEN, policy=FAST, module=ts).characteristics("SH600519", START, END)
    raw = ts_daily_basic("SH600519").iloc[::-1].reset_index(drop=True)  # tushare answers newest first
    assert list(out.columns) == ["date", "symbol", "total_mv", "float_mv", "float_shares", "pb", "pe"]
    assert len(out) == 11 and out["date"].is_monotonic_increasing and set(out["symbol"]) == {"SH600519"}
    # 万元 -> CNY: 1422.29 CNY x 1,256,197,800 shares on 2025-06-16 (total_mv 178,667,... 万元)
    assert out["total_mv"].iloc[0] == pytest.approx(raw["total_mv"].iloc[0] * 1e4)
    assert out["total_mv"].iloc[0] == pytest.approx(1422.29 * SHARES["SH600519"][0], rel=1e-9)
    assert out["float_shares"].iloc[0] == pytest.approx(1_256_197_800.0)
    np.testing.assert_array_equal(out["pb"], raw["pb"])
    assert ts.pro.calls[0] == ("daily_basic", {"ts_code": "600519.SH", "start_date": "20250616",
                                               "end_date": "20250630"})
    # a bank with an empty pe (tushare leaves a loss's pe empty): NaN, not an error
    bank = TushareSource(token=TOKEN, policy=FAST, module=ts).characteristics("SZ000001", START, END)
    assert bank["pe"].isna().all() and bank["pb"].notna().all()


def test_tushare_industry_spans_from_index_member_all():
    ts = FakeTushare()
    spans = TushareSource(token=TOKEN, policy=FAST, module=ts).industry("SZ000001")
    assert spans.to_dict("list") == {"symbol": ["SZ000001"], "industry": ["银行"],
                                     "start": [pd.Timestamp("2014-02-21")], "end": [pd.NaT]}
    assert [c[1]["is_new"] for c in ts.pro.calls] == ["Y", "N"]  # current and earlier classifications


def test_akshare_turnover_rate_gives_the_float():
    from .recorded import SHARES

    out = AkshareSource(FAST, module=FakeAkshare()).characteristics("SZ000001", START, END)
    truth = canonical("SZ000001")
    # float = volume / (换手率 / 100); 换手率 has 2 decimals, so the estimate is within its rounding
    np.testing.assert_allclose(out["float_shares"], SHARES["SZ000001"][1], rtol=0.01)
    np.testing.assert_allclose(out["float_mv"], out["float_shares"] * truth["close"], rtol=1e-12)
    assert out["total_mv"].isna().all() and out["pb"].isna().all()
    with pytest.raises(SourceError, match="no point-in-time industry"):
        AkshareSource(FAST, module=FakeAkshare()).industry("SZ000001")


def test_characteristics_refuse_a_missing_column_and_overlapping_spans():
    from data_store.characteristics import canonical_industry

    from .recorded import ts_daily_basic

    with pytest.raises(DataValidationError, match="circ_mv"):
        vendors.tushare_characteristics(ts_daily_basic("SH600519").drop(columns=["circ_mv"]), "daily_basic")
    spans = pd.DataFrame({"symbol": ["SH600519", "SH600519"], "industry": ["a", "b"],
                          "start": pd.to_datetime(["2014-01-01", "2020-01-01"]),
                          "end": pd.to_datetime(["2021-01-01", None])})
    with pytest.raises(DataValidationError, match="do not overlap"):
        canonical_industry(spans, "test")

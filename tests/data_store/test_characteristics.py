"""Vendor characteristics (size, value, industry): fetched on recorded tushare and akshare frames into
the cache, checked and repaired like every cache file, and carried by ``data_store.load`` to
``MarketData.characteristics`` and ``MarketData.industry``, where the style library finds them."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from data_store.cache.merge import merge_cache
from data_store.cache.store import Cache
from data_store.sources import AkshareSource, CallPolicy, TushareSource
from data_store.update import run_characteristics

from .recorded import SHARES, FakeAkshare, FakeTushare

FAST = CallPolicy(timeout=2.0, retries=1, backoff=0.0, calls_per_minute=float("inf"))
START, END = pd.Timestamp("2025-06-16"), pd.Timestamp("2025-06-30")


def test_tushare_characteristics_and_industry_reach_the_market_data(tmp_path, snap):
    cache = Cache(tmp_path / "c", durable=False)
    src = TushareSource(token="tok-test", policy=FAST, module=FakeTushare())
    rep = run_characteristics(src, cache, ["SH600519", "000001.SZ"], START, END, progress=False)
    assert rep.ok == ["SH600519", "SZ000001"] and rep.bar_rows == 22 and not rep.failed
    files = cache.read_manifest()["files"]
    assert sorted(files) == ["characteristics/SH600519.parquet", "characteristics/SZ000001.parquet",
                             "industry.parquet"]
    assert files["characteristics/SH600519.parquet"]["kind"] == "characteristics"
    assert cache.verify() == []
    md = merge_cache(snap, cache.root)
    chars, ind = md.characteristics, md.industry
    assert chars is not None and ind is not None and len(chars) == 22
    assert ind.set_index("symbol")["industry"].to_dict() == {"SH600519": "食品饮料", "SZ000001": "银行"}
    day = chars[(chars["symbol"] == "SZ000001") & (chars["date"] == "2025-06-30")].iloc[0]
    assert day["total_mv"] == pytest.approx(12.07 * SHARES["SZ000001"][0], rel=1e-9)
    # the styles see them: size, value and industry join the bar styles
    from signals.styles import available, compute_styles

    small = md.slice("2025-06-01", "2025-06-30", symbols=["SH600519", "SZ000001"])
    assert available(small)[-3:] == ["size", "value", "industry"]
    panel = compute_styles(small, ["size", "value", "industry"])
    i = list(small.calendar).index(pd.Timestamp("2025-06-30"))
    j = small.symbols.index("SZ000001")
    assert panel.values["size"][i, j] == pytest.approx(np.log(12.07 * SHARES["SZ000001"][0]), rel=1e-12)
    assert panel.values["value"][i, j] == pytest.approx(1 / round(12.07 / 22.69, 4), rel=1e-12)
    assert panel.labels["industry"] == ["银行", "食品饮料"] and panel.values["industry"][i, j] == 0.0
    # a rerun skips what is current; a slice keeps its part
    again = run_characteristics(src, cache, ["SH600519"], START, END, progress=False)
    assert again.skipped == ["SH600519"] and again.ok == []
    assert len(md.slice("2025-06-20", "2025-06-30", symbols=["SH600519"]).characteristics) == 7


def test_akshare_float_value_is_the_size_when_there_is_no_total(tmp_path, snap):
    cache = Cache(tmp_path / "c", durable=False)
    rep = run_characteristics(AkshareSource(FAST, module=FakeAkshare()), cache, ["SZ000001"], START, END,
                              industry=False, progress=False)
    assert rep.ok == ["SZ000001"]
    md = merge_cache(snap, cache.root)
    assert md.industry is None and md.characteristics["total_mv"].isna().all()
    from signals.styles import available, compute_styles

    small = md.slice("2025-06-01", "2025-06-30", symbols=["SZ000001", "SH600519"])
    assert "size" in available(small) and "value" not in available(small)
    size = compute_styles(small, ["size"]).values["size"]
    j = small.symbols.index("SZ000001")
    assert np.isfinite(size[-1, j]) and abs(size[-1, j] - np.log(12.07 * SHARES["SZ000001"][1])) < 0.01


def test_a_damaged_characteristics_file_is_found_and_dropped(tmp_path):
    cache = Cache(tmp_path / "c", durable=False)
    run_characteristics(TushareSource(token="t", policy=FAST, module=FakeTushare()), cache, ["SH600519"], START, END,
                        progress=False)
    (cache.root / "characteristics" / "SH600519.parquet").write_bytes(b"not parquet")
    assert [p for p, _ in cache.verify()] == ["characteristics/SH600519.parquet"]
    assert "characteristics/SH600519.parquet" in cache.repair()
    assert cache.verify() == []

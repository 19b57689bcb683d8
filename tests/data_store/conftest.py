from __future__ import annotations

import pytest

import data_store
from data_store.cache.store import ENV_VAR


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """No test reads or writes the user's real cache: $CSI300_CACHE_DIR points to a tmp folder."""
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "user-cache"))
    monkeypatch.delenv("TUSHARE_TOKEN", raising=False)


@pytest.fixture(scope="session")
def snap() -> data_store.MarketData:
    """The embedded snapshot alone (loaded once per session; treat as read-only)."""
    return data_store.load(use_cache=False)


@pytest.fixture(scope="session")
def short_snap(snap) -> data_store.MarketData:
    """The snapshot cut at 2025-06-20, so the recorded 2025-06-16..30 rows overlap 5 days and
    append 6 real days, whose true values the full snapshot holds."""
    return snap.slice(end="2025-06-20")

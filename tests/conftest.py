"""Test-suite wide settings: no test reads or writes a developer's real data cache."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _isolated_cache(tmp_path_factory):
    mp = pytest.MonkeyPatch()
    mp.setenv("CSI300_CACHE_DIR", str(tmp_path_factory.mktemp("csi300-cache")))
    yield
    mp.undo()

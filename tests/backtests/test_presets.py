"""Every preset lays out its walk-forward windows on the real snapshot calendar."""

import pandas as pd
import pytest

import data_store
from backtests import config as C


@pytest.fixture(scope="module")
def calendar():
    return data_store.load(use_cache=False).calendar


@pytest.mark.parametrize("preset", C.PRESETS)
def test_preset_windows_fit_the_data(preset, calendar):
    cfg = C.load_config(preset)
    cal = calendar[(calendar >= pd.Timestamp(cfg.universe.start)) & (calendar <= pd.Timestamp(cfg.universe.end))]
    windows = list(cfg.walk_forward.split(cal, cfg.labels.horizon))
    assert windows[0].test_start >= pd.Timestamp(cfg.walk_forward.test_start)
    assert windows[0].train_start >= cal[0]
    assert windows[-1].test_end == cal[-1]
    # at least 3 test years, as both presets promise
    assert (windows[-1].test_end - windows[0].test_start).days >= 3 * 365
    if preset == "quick":
        assert len(windows) == 7 and str(windows[0].test_start.date()) == "2022-01-04"
    elif preset == "research":  # the default span, like quick, with longer training spans before it
        assert len(windows) == 7 and str(windows[0].test_start.date()) == "2022-01-04"
    else:
        assert cfg.universe.start.year == 2013 and windows[0].test_start.year == 2016

"""Shared fixtures of the signals tests: a small slice of the real snapshot, tiny model configs."""

import pytest
import torch

import data_store
import signals

# liquid names that are members over the test period used below
SYMBOLS = ["SH600000", "SH600036", "SH600519", "SH601318", "SZ000001", "SZ000333", "SZ000858", "SH600030"]


@pytest.fixture(scope="session", autouse=True)
def _one_thread():
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


@pytest.fixture(scope="session")
def md_full():
    return data_store.load(use_cache=False)


@pytest.fixture(scope="session")
def md_small(md_full):
    """8 symbols, 2020-01 .. 2023-06 of the real snapshot."""
    return md_full.slice("2020-01-01", "2023-06-30", symbols=SYMBOLS)


def tiny_config():
    """A tiny but complete walk-forward configuration (two 60-day test windows from 2022-07)."""
    return dict(
        features=signals.FeatureConfig(lookback=10, engineered=("ret_5", "vol_20", "range", "gap")),
        labels=signals.LabelConfig(),
        splitter=signals.WalkForwardSplit(train_days=242, val_days=40, test_days=60, test_start="2022-07-01",
                                          test_end="2022-12-31"),
        estimator=signals.LSTMClassifier(hidden_size=8, max_epochs=2, batch_size=256, seed=0, num_threads=1),
    )


@pytest.fixture
def tiny():
    return tiny_config()

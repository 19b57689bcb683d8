"""The allocator setting of every fit (glibc keeps freed heap memory): set once, and in force after a fit.

That it changes no number was checked on the default run (predictions bit-identical with and
without it); within one process the setting cannot be undone, so no test compares the two."""

import platform

import numpy as np
import pytest

import signals
from signals.execution import runtime


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc's mallopt")
def test_a_fit_puts_the_setting_in_force_once():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(256, 4, 3)).astype(np.float32), (rng.random(256) > 0.5).astype(np.float32)
    signals.LSTMClassifier(hidden_size=2, max_epochs=1, batch_size=64, num_threads=1).fit(X, y)
    assert runtime._heap_kept == [True]
    assert runtime.keep_freed_heap() is True and runtime._heap_kept == [True]

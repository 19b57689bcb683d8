"""Where and how models compute: devices, CPU thread counts, determinism.

This is the one home of the runtime policy. A fit runs inside :func:`torch_session` (seeded,
deterministic algorithms, the caller's global torch state restored afterwards); a walk-forward
run resolves the thread count once (:func:`pin_threads`) so that every window trains with the
same count and therefore the same floating-point rounding; an executor that runs a task with a
given count uses :func:`thread_limits` for torch and BLAS alike.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import torch
import torch.utils.deterministic
from sklearn.base import clone

from .errors import ConfigError

__all__ = ["blas_threads", "cpu_cores", "default_threads", "local_threads", "pin_threads", "resolve_device",
           "thread_limits", "torch_session"]


def cpu_cores() -> int:
    """Cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


def default_threads() -> int:
    """A sensible CPU thread count for training: the cores this process may use, less the ones
    other processes keep busy (1-minute load average), at least 1.

    On a shared machine two OpenMP threads competing with other jobs for two cores are several
    times SLOWER than one thread (they spin-wait on each other); on an idle machine all cores are
    used. :func:`pin_threads` resolves this once per run, so that every window (and every audit
    rerun) trains with the same thread count and the same floating-point rounding."""
    cores = cpu_cores()
    try:
        busy = os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
        busy = 0.0
    return max(1, min(cores, int(cores - busy + 0.5)))


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; ``'cuda'`` without CUDA raises ConfigError."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device = {device!r} but CUDA is not available here; use device='auto' or 'cpu'")
    if device not in ("cpu",) and not device.startswith("cuda"):
        raise ConfigError(f"device = {device!r} must be 'auto', 'cpu' or 'cuda[:n]'")
    return torch.device(device)


def is_cpu_estimator(estimator: Any) -> bool:
    """True for a torch estimator (it has ``num_threads`` and ``device``) that trains on the CPU."""
    return (hasattr(estimator, "num_threads") and hasattr(estimator, "device")
            and resolve_device(estimator.device).type == "cpu")


def pin_threads(estimator: Any) -> Any:
    """A clone of a CPU torch estimator with ``num_threads`` resolved now (:func:`default_threads`),
    so that all windows train alike; any other estimator unchanged."""
    if is_cpu_estimator(estimator) and estimator.num_threads is None:
        return clone(estimator).set_params(num_threads=default_threads())
    return estimator


def local_threads(estimator: Any) -> int:
    """The torch thread count a fit of ``estimator`` uses in this process: its ``num_threads``, else
    (GPU or non-torch models) torch's count for this process, at most :func:`default_threads`."""
    n = getattr(estimator, "num_threads", None)
    return int(n) if n else min(torch.get_num_threads(), default_threads())


def blas_threads() -> int | None:
    """The BLAS thread count of this process (the largest of its BLAS libraries), None if unknown."""
    from threadpoolctl import threadpool_info

    counts = [int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


@contextlib.contextmanager
def thread_limits(torch_threads: int | None, blas: int | None) -> Iterator[None]:
    """Torch and BLAS thread counts for the block (None: unchanged), restored after. BLAS matters
    too: the logistic baseline's solver sums in a thread-count dependent order."""
    from threadpoolctl import threadpool_limits

    old = torch.get_num_threads()
    if torch_threads:
        torch.set_num_threads(torch_threads)
    limits = threadpool_limits(limits=blas, user_api="blas") if blas else None
    try:
        yield
    finally:  # BLAS first: restoring OpenBLAS can reset the OpenMP count torch reads
        if limits is not None:
            limits.restore_original_limits()
        torch.set_num_threads(old)


@contextlib.contextmanager
def torch_session(seed: int, device: torch.device, threads: int | None) -> Iterator[None]:
    """Seeded, deterministic torch settings for one fit, restoring the caller's global state after."""
    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    det_mod: Any = torch.utils.deterministic  # the attribute is missing from torch's stubs
    old_fill = det_mod.fill_uninitialized_memory
    devices = ([torch.cuda.current_device() if device.index is None else device.index]
               if device.type == "cuda" else [])
    try:
        if device.type == "cpu":
            torch.set_num_threads(threads or default_threads())
        torch.use_deterministic_algorithms(True, warn_only=True)
        # deterministic mode also NaN-fills every new uninitialised tensor, which costs ~25% of a
        # small LSTM's CPU step and changes no result: switched off
        det_mod.fill_uninitialized_memory = False
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = True, False
        with torch.random.fork_rng(devices=devices):
            torch.manual_seed(seed)
            yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det, warn_only=old_warn)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = old_cudnn
        det_mod.fill_uninitialized_memory = old_fill


@contextlib.contextmanager
def inference_threads(device: torch.device, threads: int | None) -> Iterator[None]:
    """The thread count of a CPU prediction (the fit's count, else :func:`default_threads`)."""
    old = torch.get_num_threads()
    try:
        if device.type == "cpu":
            torch.set_num_threads(threads or default_threads())
        yield
    finally:
        torch.set_num_threads(old)

"""Where and how models compute: devices, CPU thread counts, determinism.

This is the one home of the runtime policy.

Threads: floating-point sums in torch and BLAS are split by thread, so the same fit on 1 and on 2
threads rounds differently (``p_up`` differs in the 5th-7th digit and a metric can move). A fit
therefore runs with a FIXED count, :data:`DEFAULT_THREADS` (1) unless told otherwise, never a count
derived from the machine's load: the same command gives the same numbers on a busy and an idle
machine, and on any machine with the same library versions. :func:`free_cores` (the cores other
processes leave idle now) is used only when a user asks for ``auto`` (``execution.threads = "auto"``),
trading that reproducibility for speed; a fixed count above 1 is reproducible too, but only against
runs with the same count.

A fit runs inside :func:`torch_session` (seeded, deterministic algorithms, the caller's global torch
state restored afterwards); an executor runs a task with :func:`thread_limits` for torch and BLAS
alike and reports the counts it measured while the task ran (:func:`recording_threads`).

Memory: :func:`keep_freed_heap` (called by every fit) tells glibc's allocator to keep freed heap
memory instead of handing it back to the kernel at once. A training loop allocates and frees
megabyte-sized batch tensors thousands of times; given back each time, every page is faulted in
again, which on a virtual machine that returns free pages to its host costs more system time
than the training's own arithmetic (measured here: 2.2 M page faults and 5.6 s of system time in
two epochs of the quick preset's first window, 0.13 M and 0.5 s with it). It changes no number.

torch is imported by the functions that need it, so that configuration code (which imports this
module through :mod:`signals.execution.factory`) loads without it; :func:`load_torch` imports it and the
parts torch itself imports on first use.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError

if TYPE_CHECKING:
    import torch

__all__ = ["DEFAULT_THREADS", "blas_threads", "cpu_cores", "default_threads", "free_cores", "load_torch",
           "local_threads", "pin_threads", "recording_threads", "resolve_device", "resolve_threads", "thread_limits",
           "torch_session"]

#: torch and BLAS threads of a fit when nobody says otherwise: fixed, so results do not depend on load
DEFAULT_THREADS = 1


def load_torch() -> Any:
    """Import torch and what it imports lazily on its first deterministic fit (its compiler stack,
    sympy: about a second). A command line calls this once, with interrupts held back, so that Ctrl-C
    never lands in the middle of those imports and leaves half-initialised modules behind."""
    import torch

    # a no-op call: torch imports torch._inductor (and sympy) the first time it is called
    torch.use_deterministic_algorithms(torch.are_deterministic_algorithms_enabled(),
                                       warn_only=torch.is_deterministic_algorithms_warn_only_enabled())
    return torch


def cpu_cores() -> int:
    """Cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


#: seconds over which :func:`busy_cores` watches the machine
SAMPLE_S = 0.3


def _cpu_times() -> list[int]:
    """The machine's CPU time so far (user, nice, system, idle, iowait, irq, softirq, steal)."""
    with open("/proc/stat", encoding="ascii") as f:
        first = f.readline().split()
    return [int(x) for x in first[1:9]]


def busy_cores() -> float:
    """Cores other processes keep busy now: the machine's non-idle share of CPU time over
    :data:`SAMPLE_S` seconds (``/proc/stat``) times its cores; this process sleeps meanwhile, so
    it does not count itself. Where ``/proc/stat`` is missing, the 1-minute load average, which
    lags: for a minute after a heavy job ends (an install, a previous run) it still counts it, and
    it counts this process's own start-up too."""
    try:
        before = _cpu_times()
        time.sleep(SAMPLE_S)
        after = _cpu_times()
    except (OSError, ValueError, IndexError):
        try:
            return os.getloadavg()[0]
        except (AttributeError, OSError):  # pragma: no cover - no load average on this OS
            return 0.0
    total = sum(after) - sum(before)
    idle = (after[3] + after[4]) - (before[3] + before[4])
    if total <= 0:
        return 0.0
    return (total - idle) / total * (os.cpu_count() or 1)


def free_cores() -> int:
    """The cores this process may use less the ones other processes keep busy now
    (:func:`busy_cores`), at least 1: the fastest count on a shared machine, where two OpenMP
    threads competing with other jobs for two cores are several times slower than one (they
    spin-wait on each other). It follows the load, so two runs can get different counts: used
    only for ``threads = "auto"`` and ``workers = "auto"``."""
    cores = cpu_cores()
    return max(1, min(cores, int(cores - busy_cores() + 0.5)))


def default_threads() -> int:
    """The thread count of a fit that was given none: :data:`DEFAULT_THREADS`, whatever the load."""
    return DEFAULT_THREADS


def resolve_threads(threads: int | None) -> int:
    """A thread setting as a count: a number as it is, None (``auto``) as :func:`free_cores` now."""
    if threads is None:
        return free_cores()
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ConfigError(f"threads = {threads!r} must be an integer >= 1, or None for the free cores")
    return threads


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` -> CUDA when available, else CPU; ``'cuda'`` without CUDA raises ConfigError."""
    import torch

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


def pin_threads(estimator: Any, threads: int | None = None) -> Any:
    """A clone of a torch estimator with ``num_threads`` set (``threads``, else its own, else
    :func:`default_threads`), so that all windows train alike; any other estimator unchanged."""
    if not (hasattr(estimator, "num_threads") and hasattr(estimator, "device")):
        return estimator
    want = threads or estimator.num_threads or default_threads()
    if estimator.num_threads == want:
        return estimator
    from sklearn.base import clone

    return clone(estimator).set_params(num_threads=want)


def local_threads(estimator: Any) -> int:
    """The thread count a fit of ``estimator`` uses: its ``num_threads``, else :func:`default_threads`
    (non-torch models: the count their BLAS calls get)."""
    n = getattr(estimator, "num_threads", None)
    return int(n) if n else default_threads()


def blas_threads() -> int | None:
    """The BLAS thread count of this process (the largest of its BLAS libraries), None if unknown."""
    from threadpoolctl import threadpool_info

    counts = [int(i["num_threads"]) for i in threadpool_info() if i.get("user_api") == "blas"]
    return max(counts) if counts else None


#: the thread counts seen inside the current :func:`recording_threads` block (None outside one)
_SEEN: ContextVar[dict[str, set[int]] | None] = ContextVar("signals_threads_seen", default=None)


@contextlib.contextmanager
def recording_threads() -> Iterator[dict[str, list[int]]]:
    """Record the thread counts really in force while the block runs, read from the libraries:
    ``torch`` as set during every fit and CPU prediction inside the block (:func:`torch_session`,
    :func:`inference_threads`; the count at the start when none ran), ``blas`` at the start (no fit
    changes it). The yielded dict is filled in when the block ends, as sorted lists."""
    import torch

    seen: dict[str, set[int]] = {"torch": set(), "blas": set()}
    out: dict[str, list[int]] = {}
    start = int(torch.get_num_threads())
    b = blas_threads()
    if b is not None:
        seen["blas"].add(b)
    token = _SEEN.set(seen)
    try:
        yield out
    finally:
        _SEEN.reset(token)
        out["torch"] = sorted(seen["torch"] or {start})
        out["blas"] = sorted(seen["blas"])


def _note_torch_threads(n: int) -> None:
    seen = _SEEN.get()
    if seen is not None:
        seen["torch"].add(int(n))


@contextlib.contextmanager
def thread_limits(torch_threads: int | None, blas: int | None) -> Iterator[None]:
    """Torch and BLAS thread counts for the block (None: unchanged), restored after. BLAS matters
    too: the logistic baseline's solver sums in a thread-count dependent order."""
    import torch
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


#: glibc's mallopt parameters (malloc.h) and the values :func:`keep_freed_heap` sets: keep up to
#: 1 GiB of freed memory at the top of the heap, grow it 64 MiB at a time, and serve blocks up to
#: 32 MiB (glibc's largest threshold on 64-bit) from the heap, not from a fresh mapping each time
_MALLOPT = ((-1, 1 << 30), (-2, 1 << 26), (-3, 1 << 25))  # M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD
_heap_kept: list[bool] = []


def keep_freed_heap() -> bool:
    """Once per process, where the C library is glibc: keep freed heap memory for reuse (see the
    module's note on memory). Returns whether the settings are in force; elsewhere a no-op."""
    if not _heap_kept:
        ok = False
        if sys.platform.startswith("linux"):
            try:
                import ctypes

                libc = ctypes.CDLL(None)
                mallopt = getattr(libc, "mallopt", None)
                if mallopt is not None and hasattr(libc, "gnu_get_libc_version"):
                    done = [mallopt(param, value) == 1 for param, value in _MALLOPT]  # every one, then check
                    ok = all(done)
            except (OSError, TypeError, AttributeError):
                ok = False
        _heap_kept.append(ok)
    return _heap_kept[0]


@contextlib.contextmanager
def torch_session(seed: int, device: torch.device, threads: int | None) -> Iterator[None]:
    """Seeded, deterministic torch settings for one fit, restoring the caller's global state after."""
    import torch
    import torch.utils.deterministic

    old_threads = torch.get_num_threads()
    old_det = torch.are_deterministic_algorithms_enabled()
    old_warn = torch.is_deterministic_algorithms_warn_only_enabled()
    old_cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    det_mod: Any = torch.utils.deterministic  # the attribute is missing from torch's stubs
    old_fill = det_mod.fill_uninitialized_memory
    devices = ([torch.cuda.current_device() if device.index is None else device.index]
               if device.type == "cuda" else [])
    keep_freed_heap()
    try:
        if device.type == "cpu":
            torch.set_num_threads(threads or default_threads())
            _note_torch_threads(torch.get_num_threads())
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
    import torch

    old = torch.get_num_threads()
    try:
        if device.type == "cpu":
            torch.set_num_threads(threads or default_threads())
            _note_torch_threads(torch.get_num_threads())
        yield
    finally:
        torch.set_num_threads(old)

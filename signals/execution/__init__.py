"""Where and how windows compute: executors (in this process or on Ray) and the runtime (threads, devices).

- :mod:`~signals.execution.base`: the executor contract (task results, faults, one task run);
- :mod:`~signals.execution.local`: the local executor (this process, the default);
- :mod:`~signals.execution.factory`: :class:`ExecutorConfig` and :func:`make_executor`;
- :mod:`~signals.execution.ray_executor`: the toolkit's only Ray code;
- :mod:`~signals.execution.runtime`: devices, CPU thread counts, determinism.

Nothing here imports torch or Ray at import time.
"""

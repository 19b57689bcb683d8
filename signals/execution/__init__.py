"""Where and how windows compute: executors (this process, worker processes, Ray) and the runtime (threads, devices).

- :mod:`~signals.execution.base`: the executor contract (task results, faults, one task run);
- :mod:`~signals.execution.local`: the local executor (this process, or worker processes of this machine);
- :mod:`~signals.execution.pool`: the worker processes of the local executor;
- :mod:`~signals.execution.sharing`: large arrays handed to worker processes through shared memory;
- :mod:`~signals.execution.factory`: :class:`ExecutorConfig` and :func:`make_executor`;
- :mod:`~signals.execution.ray_executor`: the toolkit's only Ray code;
- :mod:`~signals.execution.runtime`: devices, CPU thread counts, determinism.

Nothing here imports torch or Ray at import time.
"""

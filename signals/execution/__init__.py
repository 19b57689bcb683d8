"""Where and how windows compute: executors (in this process or on Ray) and the runtime (threads, devices).

- :mod:`~signals.execution.executors`: the executor contract and the local executor;
- :mod:`~signals.execution.ray_executor`: the toolkit's only Ray code;
- :mod:`~signals.execution.runtime`: devices, CPU thread counts, determinism.

Nothing here imports torch or Ray at import time.
"""

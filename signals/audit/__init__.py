"""The leakage audit: change or delete the data after a cut date; no prediction up to it may move.

- :mod:`~signals.audit.leakage`: :func:`leakage_audit` and its :class:`AuditReport`;
- :mod:`~signals.audit.checks`: the scrambled future and the comparisons it makes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

__all__ = ["AuditReport", "leakage_audit"]

__getattr__, __dir__ = lazy_exports(__name__, {"AuditReport": "leakage", "leakage_audit": "leakage"}, globals())

if TYPE_CHECKING:
    from .leakage import AuditReport, leakage_audit

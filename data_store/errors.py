"""Exceptions of the data layer: the user cache and the vendor sources.

The errors every layer shares (:class:`~core.errors.ToolkitError`, :class:`~core.errors.ConfigError`,
:class:`~core.errors.DataValidationError`) live in :mod:`core.errors`; they are re-exported here for
callers that catch the data layer's errors by this module.
"""

from __future__ import annotations

from core.errors import ConfigError, DataValidationError, ToolkitError

__all__ = ["CacheError", "ConfigError", "DataValidationError", "FatalSourceError", "NoDataError", "SourceError",
           "ToolkitError", "VendorDownError"]


class CacheError(ToolkitError, OSError):
    """The user cache is unreadable, corrupt or locked; the message names the file and the repair."""


class SourceError(ToolkitError, RuntimeError):
    """A vendor source (akshare, tushare) failed: network, timeout, empty or malformed answer."""


class NoDataError(SourceError):
    """The vendor answered, with no rows: a suspended or delisted symbol, or no trading day in the
    range. Asking again gives the same answer, so it is never retried."""


class VendorDownError(SourceError):
    """The vendor failed a run of consecutive calls (or answered nothing for too long): the update
    stops at once instead of retrying every remaining symbol; what was fetched stays committed."""


class FatalSourceError(SourceError):
    """An answer no retry can change (a wrong token, an account without the permission): the
    update stops at once; the message names the fix."""

"""Exceptions shared by every layer of the toolkit.

Each specific error also inherits the built-in a caller would naturally catch (``ValueError``,
``OSError``, ...), and its message names the offending value and the fix.
"""

from __future__ import annotations


class ToolkitError(Exception):
    """Base class of every error raised on purpose by this toolkit."""


class DataValidationError(ToolkitError, ValueError):
    """Market data broke a rule of the canonical schema.

    The message names the file or source, the rule, how many rows break it and a few examples.
    """

    def __init__(self, source: str, rule: str, count: int, examples: str = "") -> None:
        self.source = source
        self.rule = rule
        self.count = count
        self.examples = examples
        msg = f"{source}: {count} row(s) break the rule '{rule}'"
        if examples:
            msg += f"; for example:\n{examples}"
        super().__init__(msg)

    def __reduce__(self) -> tuple[object, ...]:  # picklable (a Ray task may raise it)
        return (DataValidationError, (self.source, self.rule, self.count, self.examples))


class CacheError(ToolkitError, OSError):
    """The user cache is unreadable, corrupt or locked; the message names the file and the repair."""


class SourceError(ToolkitError, RuntimeError):
    """A vendor source (akshare, tushare) failed: network, timeout, empty or malformed answer."""


class ConfigError(ToolkitError, ValueError):
    """A parameter is out of its allowed range; the message names the field, value and range."""

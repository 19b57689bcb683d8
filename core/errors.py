"""Exceptions every layer of the toolkit shares (the ground floor; each layer adds its own).

Each specific error also inherits the built-in a caller would naturally catch (``ValueError``,
``OSError``, ...), and its message names the offending value and the fix.
"""

from __future__ import annotations

__all__ = ["ConfigError", "DataValidationError", "ToolkitError"]


class ToolkitError(Exception):
    """Base class of every error raised on purpose by this toolkit."""


class DataValidationError(ToolkitError, ValueError):
    """Market data broke a rule of the canonical schema.

    The message names the file or source, the rule, how many rows break it and a few examples.

    The first line stands alone (a CLI prints only it): source, rule, count and, when given, the
    fix; the examples follow on the next lines.
    """

    def __init__(self, source: str, rule: str, count: int, examples: str = "", fix: str = "") -> None:
        self.source = source
        self.rule = rule
        self.count = count
        self.examples = examples
        self.fix = fix
        msg = f"{source}: {count} row(s) break the rule '{rule}'"
        if fix:
            msg += f"; {fix}"
        if examples:
            msg += f"\nfor example:\n{examples}"
        super().__init__(msg)

    def __reduce__(self) -> tuple[object, ...]:  # picklable (a Ray task may raise it)
        return (DataValidationError, (self.source, self.rule, self.count, self.examples))


class ConfigError(ToolkitError, ValueError):
    """A parameter is out of its allowed range; the message names the field, value and range."""

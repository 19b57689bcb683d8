"""Lazy package exports (PEP 562): a package's public names imported from their submodules on
first use, so that importing the package (and its configuration classes) costs no heavy library.

    # in a package's __init__.py
    __getattr__, __dir__ = lazy_exports(__name__, {"run_backtest": "engine", ...}, globals())

The package's ``TYPE_CHECKING`` block keeps the same names visible to type checkers and IDEs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, exports: Mapping[str, str],
                 namespace: dict[str, Any]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The module ``__getattr__`` and ``__dir__`` of ``package``: a name of ``exports`` (public
    name -> submodule) is imported from its submodule on first use, any other name as a submodule
    itself (``signals.errors``), and cached in ``namespace`` (the package's globals)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f".{exports[name]}", package), name)
        elif not name.startswith("__"):
            try:
                value = importlib.import_module(f".{name}", package)
            except ModuleNotFoundError as exc:
                if exc.name != f"{package}.{name}":
                    raise
                raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports})

    return __getattr__, __dir__

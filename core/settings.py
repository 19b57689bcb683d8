"""Typed settings: every field of a configuration dataclass carries its range, choices and meaning.

A configuration class of any layer (``signals.FeatureConfig``, ``strategies.TopKConfig``, ...) is a
frozen dataclass whose fields are declared with :func:`setting`, and whose ``__post_init__`` calls
:func:`check_settings`. The same declaration serves a research script (``FeatureConfig(lookback=20)``)
and the command line (``--set features.lookback=20``, built by :func:`build` from TOML or text), so
a setting has one default, one range and one error message wherever it is given.

Rules applied to every field, from its annotation and its :class:`Spec`:

* the type: ``bool`` is never taken for a number, a whole ``float`` is accepted for an ``int``,
  ``int`` for a ``float``; text (from the command line) is parsed only when built with
  ``from_text=True``; a TOML string ``"64"`` for an integer is refused;
* numbers must be finite (NaN and infinities are refused everywhere) and inside ``lo..hi``;
* ``choices`` limit a value (or each item of a tuple); ``pattern`` is a regular expression each
  text item must match;
* ``none``: the field may be None ("automatic"); the word given here stands for None in TOML and on
  the command line (TOML has no null), e.g. ``embargo_days = "auto"``.

Errors are :class:`SettingError` (a :class:`ConfigError`), naming the field, the value and what is
allowed; :meth:`SettingError.at` re-labels one with the path a user typed (``model.dropout``).
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from .errors import ConfigError

__all__ = ["SettingError", "Spec", "Text", "build", "check_field", "check_settings", "describe", "setting", "spec_of",
           "to_plain"]

_MISSING = dataclasses.MISSING


class Text(str):
    """A value typed by a user as text (a command-line ``--set``): parsed by its field's type, while
    a value of a TOML file must already have the type (``hidden_size = "64"`` is refused)."""


class SettingError(ConfigError):
    """A setting broke its rule: ``owner.name = value`` and what is allowed."""

    def __init__(self, owner: str, name: str, value: Any, rule: str) -> None:
        self.owner, self.name, self.value, self.rule = owner, name, value, rule
        where = f"{owner}.{name}" if owner else name
        super().__init__(f"{where} = {value!r} {rule}")

    def __reduce__(self) -> tuple[Any, ...]:  # picklable (a Ray task may raise it)
        return (SettingError, (self.owner, self.name, self.value, self.rule))

    def at(self, path: str) -> SettingError:
        """The same error, naming the field by ``path`` (e.g. ``model`` for ``model.dropout``)."""
        return SettingError(path, self.name, self.value, self.rule)


@dataclass(frozen=True)
class Spec:
    """What a setting allows and means (see the module docstring)."""

    lo: float | None = None
    hi: float | None = None
    choices: tuple[Any, ...] | None = None
    pattern: str | None = None
    none: str | None = None
    doc: str = ""

    def describe(self) -> str:
        """``doc; range`` for help texts."""
        rng = ""
        if self.choices:
            rng = "one of " + ", ".join(map(str, self.choices))
        elif self.lo is not None or self.hi is not None:
            rng = f"{_num(self.lo, '-inf')}..{_num(self.hi, 'inf')}"
        if self.none:
            rng = f"{rng}, or {self.none!r}" if rng else f"or {self.none!r}"
        return "; ".join(x for x in (self.doc, rng) if x)

    def check(self, owner: str, name: str, value: Any) -> None:
        """Raise :class:`SettingError` unless ``value`` (already of the field's type) is allowed."""
        if value is None:
            if self.none is None:
                raise SettingError(owner, name, value, "must be set (None is not allowed here)")
            return
        items = value if isinstance(value, tuple) else (value,)
        for v in items:
            if isinstance(v, float) and not math.isfinite(v):
                raise SettingError(owner, name, value, "must be a finite number (NaN and infinities are refused)")
            which = f" ({v!r})" if isinstance(value, tuple) else ""
            if self.choices is not None and v not in self.choices:
                raise SettingError(owner, name, value, f"is not allowed{which}: choose from {list(self.choices)}")
            if self.pattern is not None and not (isinstance(v, str) and re.fullmatch(self.pattern, v)):
                raise SettingError(owner, name, value, f"is not allowed{which}: {self.doc or self.pattern}")
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if (self.lo is not None and v < self.lo) or (self.hi is not None and v > self.hi):
                    alt = f", or {self.none!r}" if self.none else ""
                    raise SettingError(owner, name, value, f"is out of range: allowed {_num(self.lo, '-inf')}.."
                                                           f"{_num(self.hi, 'inf')}{alt}")


def _num(x: float | None, missing: str) -> str:
    if x is None:
        return missing
    return str(x) if isinstance(x, int) else f"{x:g}"


def setting(default: Any, *, lo: float | None = None, hi: float | None = None, choices: tuple[Any, ...] | None = None,
            pattern: str | None = None, none: str | None = None, doc: str = "", spec: Spec | None = None) -> Any:
    """A dataclass field with its :class:`Spec` (``default`` must be immutable: use tuples).

    ``spec``: a :class:`Spec` declared elsewhere (shared by a function parameter and a field)."""
    if isinstance(default, (list, dict, set)):
        raise TypeError("a setting's default must be immutable: use a tuple")
    return dataclasses.field(default=default, metadata={"spec": spec or Spec(lo, hi, choices, pattern, none, doc)})


def spec_of(cls: type, name: str) -> Spec:
    """The :class:`Spec` of field ``name`` of configuration class ``cls``."""
    for f in dataclasses.fields(cls):
        if f.name == name:
            return f.metadata.get("spec", Spec())
    raise KeyError(f"{cls.__name__} has no setting {name!r}")


_HINTS: dict[type, dict[str, Any]] = {}


def _hints(cls: type) -> dict[str, Any]:
    """The resolved annotations of a configuration class (cached per class)."""
    if cls not in _HINTS:
        _HINTS[cls] = typing.get_type_hints(cls)
    return _HINTS[cls]


def _optional(typ: Any) -> tuple[Any, bool]:
    """(the type without None, whether None is part of the annotation)."""
    if typing.get_origin(typ) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(typ) if a is not type(None)]
        return (args[0] if len(args) == 1 else typ), len(args) < len(typing.get_args(typ))
    return typ, False


def _convert(owner: str, name: str, value: Any, typ: Any, spec: Spec, from_text: bool) -> Any:
    """``value`` as the field's type, or :class:`SettingError`. Text is parsed only ``from_text``
    or when it is a :class:`Text`."""
    base, _ = _optional(typ)
    from_text = from_text or isinstance(value, Text)
    if value is None or (spec.none is not None and isinstance(value, str) and value.strip().lower() == spec.none):
        return None
    bad = SettingError(owner, name, value, f"is not a valid {_type_name(base)}")
    if base is bool:
        if isinstance(value, bool):
            return value
        if from_text and isinstance(value, str) and value.strip().lower() in ("true", "1", "yes", "on"):
            return True
        if from_text and isinstance(value, str) and value.strip().lower() in ("false", "0", "no", "off"):
            return False
        raise bad
    if base is int:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str) and from_text:
            try:
                value = float(value.strip()) if any(c in value for c in ".eE") else int(value.strip())
            except ValueError:
                raise bad from None
        if isinstance(value, numbers.Real) and not isinstance(value, numbers.Integral):
            value = float(value)
            if not math.isfinite(value):
                raise SettingError(owner, name, value, "must be a finite number (NaN and infinities are refused)")
            if not value.is_integer():
                raise bad
            return int(value)
        if isinstance(value, numbers.Integral):
            return int(value)
        raise bad
    if base is float:
        if isinstance(value, bool):
            raise bad
        if isinstance(value, str) and from_text:
            try:
                value = float(value.strip())
            except ValueError:
                raise bad from None
        if isinstance(value, numbers.Real):
            return float(value)
        raise bad
    if base is str:
        if isinstance(value, str):
            return str(value)
        raise bad
    if base is pd.Timestamp:
        try:
            ts = pd.Timestamp(str(value) if isinstance(value, str) else value)
        except (ValueError, TypeError):
            raise SettingError(owner, name, value, "is not a date (use YYYY-MM-DD)") from None
        if pd.isna(ts):
            raise SettingError(owner, name, value, "is not a date (use YYYY-MM-DD)")
        return ts
    if typing.get_origin(base) is tuple:
        if isinstance(value, str) and from_text:
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise bad
        (item,) = {a for a in typing.get_args(base) if a is not Ellipsis} or {str}
        return tuple(_convert(owner, name, Text(v) if from_text and isinstance(v, str) else v, item, Spec(), from_text)
                     for v in value)
    raise ConfigError(f"{owner}.{name}: unsupported setting type {typ}")


def _type_name(t: Any) -> str:
    if typing.get_origin(t) is tuple:
        return "list"
    return getattr(t, "__name__", str(t))


def check_settings(obj: Any, *, convert: bool = True) -> None:
    """Check (and normalise: ``1.0`` -> ``1`` for an int field) every setting of dataclass ``obj``.

    Call it first in ``__post_init__``. Raises :class:`SettingError` naming the class and field."""
    cls = type(obj)
    owner = cls.__name__
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("spec")
        if spec is None:
            continue
        value = getattr(obj, f.name)
        if convert:
            new = _convert(owner, f.name, value, hints[f.name], spec, from_text=False)
            if new is not value:
                object.__setattr__(obj, f.name, new)
            value = new
        spec.check(owner, f.name, value)


def check_field(cls: type, name: str, value: Any, owner: str | None = None) -> Any:
    """Check one value against field ``name`` of configuration class ``cls`` (its type and spec),
    for objects that take such a setting as a plain parameter (e.g. an estimator's
    ``hidden_size``); return the value as the field's type. Errors name ``owner.name``."""
    who = owner or cls.__name__
    spec = spec_of(cls, name)
    out = _convert(who, name, value, _hints(cls)[name], spec, from_text=False)
    spec.check(who, name, out)
    return out


def build(cls: type, data: Mapping[str, Any], path: str = "", *, from_text: bool = False) -> Any:
    """An instance of configuration class ``cls`` from a (nested) mapping, e.g. parsed TOML.

    Unknown keys are refused; nested dataclass fields take a nested mapping. ``from_text``: values
    may be text to parse (command-line overrides). Errors name the field by its ``path``."""
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)
              if f.init and ("spec" in f.metadata or dataclasses.is_dataclass(hints[f.name]))}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        where = f"[{path}]" if path else "the top level"
        raise ConfigError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(fields)}")
    kwargs: dict[str, Any] = {}
    for name, value in data.items():
        f, typ = fields[name], hints[name]
        sub = f"{path}.{name}" if path else name
        if dataclasses.is_dataclass(typ):
            if not isinstance(value, Mapping):
                raise ConfigError(f"[{sub}] must be a table of settings, got {value!r}")
            kwargs[name] = build(typing.cast(type, typ), value, sub, from_text=from_text)
            continue
        spec = f.metadata.get("spec", Spec())
        try:
            kwargs[name] = _convert(path, name, value, typ, spec, from_text)
        except SettingError as exc:
            raise exc.at(path) from None
    try:
        return cls(**kwargs)
    except SettingError as exc:
        raise exc.at(path) if path else exc from None
    except ConfigError as exc:  # a rule across fields of this section: say which section
        if not path or str(exc).startswith(f"{path}:"):
            raise
        raise type(exc)(f"{path}: {exc}") from None


def to_plain(obj: Any) -> dict[str, Any]:
    """A TOML-ready dict of a configuration dataclass (nested ones as tables, None as its word,
    dates as ``YYYY-MM-DD``, tuples as lists); fields that are not settings are left out."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value) and not isinstance(value, type):
            out[f.name] = to_plain(value)
            continue
        spec = f.metadata.get("spec")
        if spec is None:
            continue
        if value is None:
            if spec.none is not None:
                out[f.name] = spec.none
            continue
        if isinstance(value, pd.Timestamp):
            value = value.strftime("%Y-%m-%d")
        elif isinstance(value, tuple):
            value = list(value)
        out[f.name] = value
    return out


def describe(cls: type, path: str = "") -> list[tuple[str, Any, str]]:
    """(``path.field``, default, meaning and range) of every setting of ``cls``, nested included."""
    rows: list[tuple[str, Any, str]] = []
    hints = _hints(cls)
    for f in dataclasses.fields(cls):
        sub = f"{path}.{f.name}" if path else f.name
        if dataclasses.is_dataclass(hints[f.name]):
            rows += describe(typing.cast(type, hints[f.name]), sub)
        elif "spec" in f.metadata:
            default = f.default if f.default is not _MISSING else None
            rows.append((sub, default, f.metadata["spec"].describe()))
    return rows

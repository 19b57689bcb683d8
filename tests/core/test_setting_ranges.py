"""Every setting refuses a value outside what it declares: cases generated from the declarations.

For each field of every configuration class a run reads (``RunConfig`` and its sections, found by
walking the dataclasses), a value just below ``lo``, just above ``hi``, outside ``choices``, against
``pattern``, NaN for a float and None where None is not allowed are built from the field's own
:class:`~core.settings.Spec`. Each must be refused as a :class:`~core.settings.SettingError` naming
the field's path and the value, from a TOML table and from the command line's text alike; the
boundary values themselves must be accepted. A new setting is covered the day it is declared.
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Any

import pytest

from backtests.config import RunConfig
from core.settings import SettingError, Spec, Text, build


def _settings(cls: type, path: str = "") -> list[tuple[str, type, Spec, Any]]:
    rows = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        sub = f"{path}.{f.name}" if path else f.name
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            rows += _settings(typ, sub)
        elif "spec" in f.metadata and f.init:
            rows.append((sub, typ, f.metadata["spec"], f.default))
    return rows


SETTINGS = _settings(RunConfig)


def _base(typ: Any) -> Any:
    """The scalar type of a field (``int | None`` -> int, ``tuple[str, ...]`` -> str)."""
    args = [a for a in typing.get_args(typ) if a is not type(None)]
    if typing.get_origin(typ) is tuple:
        return args[0], True
    if args:
        return _base(args[0])[0], False
    return typ, False


def _bad_values(typ: Any, spec: Spec) -> list[tuple[str, Any]]:
    base, is_tuple = _base(typ)
    out: list[tuple[str, Any]] = []
    if base in (int, float):
        step = 1 if base is int else None
        if spec.lo is not None:
            below = spec.lo - 1 if step else spec.lo - max(abs(spec.lo) * 1e-3, 1e-9)
            out.append(("below lo", base(below) if base is int else below))
        if spec.hi is not None:
            above = spec.hi + 1 if step else spec.hi + max(abs(spec.hi) * 1e-3, 1e-9)
            out.append(("above hi", base(above) if base is int else above))
        if base is float:
            out.append(("nan", math.nan))
    if spec.choices is not None and base is str:
        out.append(("not a choice", "no-such-choice"))
    if spec.pattern is not None and base is str:
        out.append(("against the pattern", "!!not valid!!"))
    if is_tuple:
        out = [(why, (v,)) for why, v in out]
    return out


CASES = [pytest.param(path, typ, spec, why, value, id=f"{path}:{why}")
         for path, typ, spec, _ in SETTINGS for why, value in _bad_values(typ, spec)]


def _nested(path: str, value: Any) -> dict[str, Any]:
    *sections, name = path.split(".")
    out: dict[str, Any] = {name: value}
    for s in reversed(sections):
        out = {s: out}
    return out


def test_the_walk_finds_every_section_and_enough_cases():
    sections = {p.split(".")[0] for p, *_ in SETTINGS}
    assert {"features", "labels", "walk_forward", "model", "strategy", "costs", "execution", "report"} <= sections
    assert len(CASES) > 80


@pytest.mark.parametrize(("path", "typ", "spec", "why", "value"), CASES)
def test_an_out_of_range_value_is_refused_naming_the_field(path, typ, spec, why, value):
    name = path.rsplit(".", 1)[-1]
    with pytest.raises(SettingError) as err:
        build(RunConfig, _nested(path, value))
    assert err.value.name == name, str(err.value)
    assert path in str(err.value), str(err.value)


@pytest.mark.parametrize(("path", "typ", "spec", "why", "value"),
                         [c for c in CASES if not (isinstance(c.values[4], float) and math.isnan(c.values[4]))])
def test_the_same_value_typed_on_the_command_line_is_refused(path, typ, spec, why, value):
    text = ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    with pytest.raises(SettingError) as err:
        build(RunConfig, _nested(path, Text(text)), from_text=True)
    assert path in str(err.value)


@pytest.mark.parametrize(("path", "typ", "spec"),
                         [pytest.param(p, t, s, id=p) for p, t, s, _ in SETTINGS
                          if _base(t)[0] in (int, float) and (s.lo is not None or s.hi is not None)])
def test_the_bounds_themselves_are_accepted_or_refused_by_a_rule_across_fields(path, typ, spec):
    """A bound is allowed by its own field; a refusal may only come from a rule joining two fields."""
    base, is_tuple = _base(typ)
    for bound in (spec.lo, spec.hi):
        if bound is None:
            continue
        value = base(bound)
        try:
            build(RunConfig, _nested(path, (value,) if is_tuple else value))
        except SettingError as exc:
            assert "out of range" not in str(exc), f"{path} = {value} refused by its own range: {exc}"
        except ValueError:
            pass  # a rule across fields (e.g. a window shorter than the lookback): not this field's range

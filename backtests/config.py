"""Typed run configuration: frozen dataclasses built once from TOML plus CLI overrides.

Every field carries its allowed range or choices in its metadata; :func:`validate` checks them all
and raises :class:`ConfigError` naming the field, the value and what is allowed. Presets live in
``backtests/presets/*.toml`` and are ordinary config files.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from data_store.errors import ConfigError

PRESETS = ("quick", "full")


def _f(default: Any, *, lo: float | None = None, hi: float | None = None,
       choices: tuple[Any, ...] | None = None, doc: str = "") -> Any:
    meta = {"lo": lo, "hi": hi, "choices": choices, "doc": doc}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use tuples for defaults")
    return field(default=default, metadata=meta)


@dataclass(frozen=True)
class DataConfig:
    use_cache: bool = _f(False, doc="merge the user cache (akshare/tushare updates) into the snapshot")
    cache_dir: str = _f("", doc="cache folder; empty = $CSI300_CACHE_DIR or the user cache dir")


@dataclass(frozen=True)
class UniverseConfig:
    symbols: tuple[str, ...] = _f((), doc="empty = the whole point-in-time CSI-300; else a study of these symbols")
    start: str = _f("2019-01-01", doc="first day of data used (training starts here)")
    end: str = _f("2025-06-30", doc="last day of data used")


@dataclass(frozen=True)
class FeaturesConfig:
    lookback: int = _f(20, lo=2, hi=250, doc="trading days in each input sequence")
    engineered: tuple[str, ...] = _f(
        ("ret_5", "ret_20", "vol_20", "range", "gap"),
        choices=("ret_1", "ret_5", "ret_10", "ret_20", "ret_60", "vol_20", "vol_60", "range", "gap"),
        doc="engineered features added to the raw OHLCV sequence",
    )


@dataclass(frozen=True)
class LabelsConfig:
    horizon: int = _f(1, lo=1, hi=20, doc="label: direction of adjusted open(t+1+H)/open(t+1) - 1")
    excess: bool = _f(False, doc="label on the return in excess of the CSI-300 index")


@dataclass(frozen=True)
class WalkForwardConfig:
    train_days: int = _f(484, lo=20, hi=5000, doc="trading days of training data per window")
    val_days: int = _f(60, lo=5, hi=1000, doc="trading days of validation (early stopping)")
    test_days: int = _f(121, lo=5, hi=2000, doc="trading days tested per window")
    step_days: int = _f(0, lo=0, hi=2000, doc="days between window starts; 0 = test_days")
    expanding: bool = _f(False, doc="expanding instead of sliding training span")
    embargo_days: int = _f(0, lo=0, hi=100, doc="0 = horizon + 1 (the minimum that purges label overlap)")
    test_start: str = _f("2022-01-01", doc="first test day (windows are laid out from here)")
    max_train_samples: int = _f(0, lo=0, hi=100_000_000, doc="0 = all; else a seeded random subsample")


@dataclass(frozen=True)
class ModelConfig:
    kind: str = _f("lstm", choices=("lstm", "gru", "attention", "logistic"), doc="the model traded")
    hidden_size: int = _f(32, lo=1, hi=4096)
    num_layers: int = _f(1, lo=1, hi=8)
    dropout: float = _f(0.0, lo=0.0, hi=0.9)
    lr: float = _f(1e-3, lo=1e-6, hi=1.0)
    batch_size: int = _f(1024, lo=1, hi=1_000_000)
    max_epochs: int = _f(6, lo=1, hi=1000)
    patience: int = _f(2, lo=0, hi=1000)
    weight_decay: float = _f(0.0, lo=0.0, hi=1.0)
    grad_clip: float = _f(1.0, lo=0.0, hi=1e6)
    seed: int = _f(0, lo=0, hi=2**31 - 1)
    device: str = _f("auto", choices=("auto", "cpu", "cuda"), doc="auto = CUDA when available")
    baselines: tuple[str, ...] = _f(("logistic", "always_up", "yesterday"),
                                    choices=("logistic", "always_up", "yesterday"))


@dataclass(frozen=True)
class StrategyConfig:
    kind: str = _f("topk", choices=("topk", "threshold"))
    k: int = _f(30, lo=1, hi=1000, doc="TopK: names held")
    max_replace: int = _f(10, lo=1, hi=1000, doc="TopK: most names replaced per day")
    cash_buffer: float = _f(0.02, lo=0.0, hi=0.5, doc="share of equity kept in cash for fees")
    upper: float = _f(0.52, lo=0.0, hi=1.0, doc="Threshold: go long above this p_up")
    lower: float = _f(0.48, lo=0.0, hi=1.0, doc="Threshold: go flat below this p_up")
    initial_cash: float = _f(10_000_000.0, lo=1e4, hi=1e12, doc="CNY")
    baseline_backtests: bool = _f(True, doc="also trade the baselines' predictions")


@dataclass(frozen=True)
class CostsConfig:
    commission_rate: float = _f(0.00025, lo=0.0, hi=0.01, doc="per side, fraction of value")
    min_commission: float = _f(5.0, lo=0.0, hi=1000.0, doc="CNY per order")
    slippage: float = _f(0.0, lo=0.0, hi=0.05, doc="fraction of price, against the trader")


@dataclass(frozen=True)
class ReportConfig:
    title: str = _f("", doc="tearsheet title; empty = derived from the run")
    audit: bool = _f(False, doc="run the leakage audit and record its verdict")
    audit_symbols: int = _f(20, lo=2, hi=1000, doc="symbols the audit reruns on (it retrains)")


@dataclass(frozen=True)
class OutputConfig:
    runs_dir: str = _f("runs", doc="parent folder of run folders")
    name: str = _f("", doc="run name; empty = preset and model")
    checkpoints: bool = _f(True, doc="save per-window model checkpoints in the run folder")


@dataclass(frozen=True)
class ExecutionConfig:
    executor: str = _f("local", choices=("local", "ray"),
                       doc="where walk-forward windows run: local = this process; ray = one Ray task per window")
    ray_address: str = _f("", doc="Ray cluster to join (auto, host:6379, ray://host:10001); empty = start a local Ray")
    max_retries: int = _f(2, lo=0, hi=100, doc="ray: extra attempts of a failed window task (also a lost worker)")
    task_threads: int = _f(0, lo=0, hi=1024,
                           doc="torch and BLAS threads per window; 0 = as a local run (bit-identical on CPU)")


@dataclass(frozen=True)
class RunConfig:
    preset: str = _f("quick", choices=PRESETS)
    data: DataConfig = field(default_factory=DataConfig)
    universe: UniverseConfig = field(default_factory=UniverseConfig)
    features: FeaturesConfig = field(default_factory=FeaturesConfig)
    labels: LabelsConfig = field(default_factory=LabelsConfig)
    walk_forward: WalkForwardConfig = field(default_factory=WalkForwardConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    strategy: StrategyConfig = field(default_factory=StrategyConfig)
    costs: CostsConfig = field(default_factory=CostsConfig)
    report: ReportConfig = field(default_factory=ReportConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    execution: ExecutionConfig = field(default_factory=ExecutionConfig)

    @property
    def run_name(self) -> str:
        if self.output.name:
            return self.output.name
        tag = f"{self.preset}-{self.model.kind}"
        if self.universe.symbols:
            tag += "-" + "_".join(self.universe.symbols[:3])
        return tag


SECTIONS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name != "preset")


# ---------------------------------------------------------------- building from dicts
def _coerce(path: str, value: Any, typ: Any) -> Any:
    """Convert a TOML/CLI value to the field's type, or raise ConfigError naming the field."""
    origin = typing.get_origin(typ)
    try:
        if typ is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "1", "yes", "on"):
                return True
            if isinstance(value, str) and value.lower() in ("false", "0", "no", "off"):
                return False
            raise ValueError
        if typ is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if typ is float:
            if isinstance(value, bool):
                raise ValueError
            return float(value)
        if typ is str:
            if not isinstance(value, (str, int, float)):
                raise ValueError
            return str(value)
        if origin is tuple:
            if isinstance(value, str):
                value = [v.strip() for v in value.split(",") if v.strip()]
            if not isinstance(value, (list, tuple)):
                raise ValueError
            return tuple(str(v) for v in value)
    except (ValueError, TypeError):
        pass
    else:
        raise ConfigError(f"{path}: unsupported field type {typ}")
    raise ConfigError(f"{path} = {value!r} is not a valid {getattr(typ, '__name__', typ)}")


def _build(cls: type, data: dict[str, Any], prefix: str) -> Any:
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown:
        where = f"[{prefix}]" if prefix else "top level"
        raise ConfigError(f"unknown key(s) {unknown} in {where}; allowed: {sorted(names)}")
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        path = f"{prefix}.{f.name}" if prefix else f.name
        typ = hints[f.name]
        if dataclasses.is_dataclass(typ):
            if not isinstance(data[f.name], dict):
                raise ConfigError(f"[{path}] must be a table of settings, got {data[f.name]!r}")
            kwargs[f.name] = _build(typing.cast(type, typ), data[f.name], path)
        else:
            kwargs[f.name] = _coerce(path, data[f.name], typ)
    return cls(**kwargs)


def _check_field(path: str, value: Any, meta: typing.Mapping[str, Any]) -> None:
    lo, hi, choices = meta.get("lo"), meta.get("hi"), meta.get("choices")
    if choices is not None:
        vals = value if isinstance(value, tuple) else (value,)
        bad = [v for v in vals if v not in choices]
        if bad:
            raise ConfigError(f"{path} = {value!r} is not allowed: choose from {list(choices)}")
    if lo is not None and value < lo:
        raise ConfigError(f"{path} = {value!r} is out of range: allowed {lo}..{hi}")
    if hi is not None and value > hi:
        raise ConfigError(f"{path} = {value!r} is out of range: allowed {lo}..{hi}")


def validate(cfg: RunConfig) -> RunConfig:
    """Check every field's range/choices and the cross-field rules; return ``cfg`` unchanged."""
    _check_field("preset", cfg.preset, dataclasses.fields(RunConfig)[0].metadata)
    for sec in SECTIONS:
        obj = getattr(cfg, sec)
        for f in dataclasses.fields(obj):
            _check_field(f"{sec}.{f.name}", getattr(obj, f.name), f.metadata)
    for name in ("start", "end"):
        val = getattr(cfg.universe, name)
        try:
            pd.Timestamp(val)
        except (ValueError, TypeError):
            raise ConfigError(f"universe.{name} = {val!r} is not a date (use YYYY-MM-DD)") from None
    try:
        pd.Timestamp(cfg.walk_forward.test_start)
    except (ValueError, TypeError):
        raise ConfigError(f"walk_forward.test_start = {cfg.walk_forward.test_start!r} is not a date (use YYYY-MM-DD)") from None
    u = cfg.universe
    if pd.Timestamp(u.start) >= pd.Timestamp(u.end):
        raise ConfigError(f"universe.start = {u.start!r} must be before universe.end = {u.end!r}")
    ts = pd.Timestamp(cfg.walk_forward.test_start)
    if not pd.Timestamp(u.start) < ts <= pd.Timestamp(u.end):
        raise ConfigError(
            f"walk_forward.test_start = {cfg.walk_forward.test_start!r} must lie inside "
            f"universe.start..universe.end ({u.start}..{u.end}] so there is training data before it"
        )
    emb, need = cfg.walk_forward.embargo_days, cfg.labels.horizon + 1
    if 0 < emb < need:
        raise ConfigError(
            f"walk_forward.embargo_days = {emb} is shorter than labels.horizon + 1 = {need}: the last "
            f"training labels would reach into the validation and test spans; use 0 (automatic) or >= {need}"
        )
    s = cfg.strategy
    if s.lower > s.upper:
        raise ConfigError(f"strategy.lower = {s.lower} must not exceed strategy.upper = {s.upper}")
    if s.kind == "threshold" and len(u.symbols) != 1:
        raise ConfigError(
            f"strategy.kind = 'threshold' trades one instrument: give exactly one symbol "
            f"(--symbols SH600519), got {list(u.symbols) or 'the whole universe'}"
        )
    if s.max_replace > s.k:
        raise ConfigError(f"strategy.max_replace = {s.max_replace} exceeds strategy.k = {s.k}")
    ex = cfg.execution
    if ex.ray_address and ex.executor != "ray":
        raise ConfigError(f"execution.ray_address = {ex.ray_address!r} is set but execution.executor = "
                          f"{ex.executor!r}: add --executor ray (or drop the address)")
    return cfg


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = v
    return out


def preset_dict(name: str) -> dict[str, Any]:
    if name not in PRESETS:
        raise ConfigError(f"preset = {name!r} is unknown: choose from {list(PRESETS)}")
    text = (resources.files("backtests") / "presets" / f"{name}.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    data["preset"] = name
    return data


def read_toml(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"config file {str(p)!r} does not exist")
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {str(p)!r} is not valid TOML: {exc}") from None


def parse_override(text: str) -> dict[str, Any]:
    """``section.field=value`` -> nested dict (value kept as a string; coerced by field type)."""
    if "=" not in text or "." not in text.split("=", 1)[0]:
        raise ConfigError(f"override {text!r} must look like section.field=value (e.g. model.hidden_size=64)")
    key, value = text.split("=", 1)
    sec, name = key.strip().split(".", 1)
    return {sec: {name: value.strip()}}


def load_config(
    preset: str | None = None,
    config_file: str | Path | None = None,
    overrides: list[dict[str, Any]] | None = None,
) -> RunConfig:
    """Preset (default ``quick``, or the file's ``preset`` key) <- TOML file <- overrides; validated."""
    file_data = read_toml(config_file) if config_file else {}
    name = preset or file_data.get("preset") or "quick"
    data = preset_dict(str(name))
    data = _merge(data, file_data)
    data["preset"] = name
    for over in overrides or []:
        data = _merge(data, over)
    return validate(_build(RunConfig, data, ""))


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    def conv(v: Any) -> Any:
        if isinstance(v, tuple):
            return list(v)
        return v

    out: dict[str, Any] = {"preset": cfg.preset}
    for sec in SECTIONS:
        out[sec] = {k: conv(v) for k, v in dataclasses.asdict(getattr(cfg, sec)).items()}
    return out


def to_toml(cfg: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(to_dict(cfg))


def describe_fields() -> list[tuple[str, Any, str]]:
    """(``section.field``, default, doc + range) rows for the README and ``--help-config``."""
    rows = []
    for sec in SECTIONS:
        cls = typing.get_type_hints(RunConfig)[sec]
        for f in dataclasses.fields(cls):
            m = f.metadata
            rng = ""
            if m.get("choices"):
                rng = "one of " + ", ".join(map(str, m["choices"]))
            elif m.get("lo") is not None:
                rng = f"{m['lo']}..{m['hi']}"
            doc = "; ".join(x for x in (m.get("doc", ""), rng) if x)
            rows.append((f"{sec}.{f.name}", f.default, doc))
    return rows


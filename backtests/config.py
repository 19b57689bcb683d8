"""The run configuration: the layers' own configuration objects, built once from TOML and the CLI.

A :class:`RunConfig` holds the very classes a research script uses (``signals.FeatureConfig``,
``signals.LabelConfig``, ``signals.WalkForwardSplit``, ``signals.ModelConfig``,
``strategies.TopKConfig``, ``strategies.ThresholdConfig``, ``strategies.CostModel``,
``signals.ExecutorConfig``) plus the few settings only a run has (data, universe, report, output).
Every field's range, choices and meaning is declared once, on its class, with
:mod:`data_store.settings`; this module only stacks preset <- config file <- overrides and adds
the rules that join two sections. Presets live in ``backtests/presets/*.toml``.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from data_store.errors import ConfigError
from data_store.settings import Text, build, check_settings, describe, setting, to_plain
from signals.executors import ExecutorConfig
from signals.features import FeatureConfig
from signals.labels import LabelConfig
from signals.models import ModelConfig
from signals.split import WalkForwardSplit
from strategies.engine import DEFAULT_INITIAL_CASH, INITIAL_CASH
from strategies.rules import CostModel
from strategies.targets import ThresholdConfig, TopKConfig

__all__ = ["PRESETS", "RunConfig", "describe_fields", "load_config", "parse_override", "to_toml"]

PRESETS = ("quick", "research", "full")


@dataclass(frozen=True)
class DataConfig:
    use_cache: bool = setting(False, doc="merge the user cache (akshare/tushare updates) into the snapshot")
    cache_dir: str = setting("", doc="cache folder; empty = $CSI300_CACHE_DIR or the user cache dir")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class UniverseConfig:
    symbols: tuple[str, ...] = setting((), doc="empty = the whole point-in-time CSI-300; else a study of these symbols")
    start: pd.Timestamp = setting(pd.Timestamp("2019-01-01"), doc="first day of data used (training starts here)")
    end: pd.Timestamp = setting(pd.Timestamp("2025-06-30"), doc="last day of data used")

    def __post_init__(self) -> None:
        check_settings(self)
        if self.start >= self.end:
            raise ConfigError(f"universe.start = {self.start.date()} must be before universe.end = {self.end.date()}")


@dataclass(frozen=True)
class StrategySection:
    """Which strategy trades the predictions, with what capital; each strategy's own settings are
    its section (``[strategy.topk]``, ``[strategy.threshold]``)."""

    kind: str = setting("topk", choices=("topk", "threshold"),
                        doc="topk: the k best of the universe; threshold: one stock, long above upper")
    initial_cash: float = setting(DEFAULT_INITIAL_CASH, spec=INITIAL_CASH)
    baseline_backtests: bool = setting(True, doc="also trade the baselines' predictions")
    topk: TopKConfig = field(default_factory=TopKConfig)
    threshold: ThresholdConfig = field(default_factory=ThresholdConfig)

    def __post_init__(self) -> None:
        check_settings(self)
        if self.threshold.symbol is not None:
            raise ConfigError(f"strategy.threshold.symbol = {self.threshold.symbol!r}: a run trades the one symbol of "
                              "universe.symbols (--symbols SH600519); leave the threshold's symbol out")


@dataclass(frozen=True)
class ReportConfig:
    title: str = setting("", doc="tearsheet title; empty = derived from the run")
    audit: bool = setting(False, doc="run the leakage audit and record its verdict")
    audit_symbols: int = setting(20, lo=2, hi=1000, doc="symbols the audit reruns on (it retrains)")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class OutputConfig:
    runs_dir: str = setting("runs", doc="parent folder of run folders")
    name: str = setting("", doc="run name; empty = preset and model")
    checkpoints: bool = setting(True, doc="save per-window model checkpoints in the run folder")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class RunConfig:
    preset: str = setting("quick", choices=PRESETS, doc="the preset the other settings start from")
    data: DataConfig = field(default_factory=DataConfig)
    universe: UniverseConfig = field(default_factory=UniverseConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    labels: LabelConfig = field(default_factory=LabelConfig)
    walk_forward: WalkForwardSplit = field(default_factory=WalkForwardSplit)
    model: ModelConfig = field(default_factory=ModelConfig)
    strategy: StrategySection = field(default_factory=StrategySection)
    costs: CostModel = field(default_factory=CostModel)
    report: ReportConfig = field(default_factory=ReportConfig)
    output: OutputConfig = field(default_factory=OutputConfig)
    execution: ExecutorConfig = field(default_factory=ExecutorConfig)

    def __post_init__(self) -> None:
        check_settings(self)
        _check_across_sections(self)

    @property
    def run_name(self) -> str:
        if self.output.name:
            return self.output.name
        tag = f"{self.preset}-{self.model.kind}"
        if self.universe.symbols:
            tag += "-" + "_".join(self.universe.symbols[:3])
        return tag


SECTIONS = tuple(f.name for f in dataclasses.fields(RunConfig) if f.name != "preset")


def _check_across_sections(cfg: RunConfig) -> None:
    """The rules that join two sections (each section checks its own fields)."""
    u, wf = cfg.universe, cfg.walk_forward
    if wf.test_start is None or not u.start < wf.test_start <= u.end:
        shown = "auto" if wf.test_start is None else str(wf.test_start.date())
        raise ConfigError(
            f"walk_forward.test_start = {shown!r} must be a date inside universe.start..universe.end "
            f"({u.start.date()}..{u.end.date()}] so there is training data before it")
    # the embargo against the label horizon: the splitter's own rule, raised as LookaheadError
    wf.embargo_for(cfg.labels)
    if cfg.strategy.kind == "threshold" and len(u.symbols) != 1:
        raise ConfigError(
            f"strategy.kind = 'threshold' trades one instrument: give exactly one symbol "
            f"(--symbols SH600519), got {list(u.symbols) or 'the whole universe'}")


# ---------------------------------------------------------------- building
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
    """``section.field=value`` (or ``section.sub.field=value``) -> nested dict, the value kept as
    text (parsed by the field's type when the config is built)."""
    key = text.split("=", 1)[0].strip()
    if "=" not in text or "." not in key or any(not p for p in key.split(".")):
        raise ConfigError(f"override {text!r} must look like section.field=value (e.g. model.hidden_size=64)")
    *path, name = key.split(".")
    out: dict[str, Any] = {name: Text(text.split("=", 1)[1].strip())}
    for part in reversed(path):
        out = {part: out}
    return out


def load_config(preset: str | None = None, config_file: str | Path | None = None,
                overrides: list[dict[str, Any]] | None = None) -> RunConfig:
    """Preset (default ``quick``, or the file's ``preset`` key) <- TOML file <- overrides; checked.

    TOML values must have the field's type (``hidden_size = "64"`` is refused); values typed on
    the command line (:func:`parse_override`) are parsed by it."""
    file_data = read_toml(config_file) if config_file else {}
    name = preset or file_data.get("preset") or "quick"
    data = _merge(preset_dict(str(name)), file_data)
    data["preset"] = name
    for over in overrides or []:
        data = _merge(data, over)
    return build(RunConfig, data)


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    return to_plain(cfg)


def to_toml(cfg: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(to_dict(cfg))


def describe_fields() -> list[tuple[str, Any, str]]:
    """(``section.field``, default, meaning and range) of every setting, for the README and help."""
    return [r for r in describe(RunConfig) if r[0] != "preset"]


def settings_markdown() -> str:
    """The README's table of every setting: its value in the default (quick) preset, its meaning
    and what it allows (a test keeps the README equal to this)."""
    quick = _flat(to_plain(load_config()))
    lines = ["| setting | default (quick) | meaning and allowed values |", "| --- | --- | --- |"]
    for path, _, doc in describe_fields():
        v = quick.get(path)
        shown = "(empty)" if v in ("", None, []) else ", ".join(map(str, v)) if isinstance(v, list) else v
        lines.append(f"| `{path}` | {shown} | {doc} |")
    return "\n".join(lines)


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else k
        out.update(_flat(v, key) if isinstance(v, dict) else {key: v})
    return out

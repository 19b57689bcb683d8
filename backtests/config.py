"""The run configuration: the layers' own configuration objects, built once from TOML and the CLI.

A :class:`RunConfig` holds the very classes a research script uses (``signals.FeatureConfig``,
``signals.LabelConfig``, ``signals.WalkForwardSplit``, ``signals.ModelConfig``,
``strategies.TopKConfig``, ``strategies.ThresholdConfig``, ``strategies.CostModel``,
``signals.ExecutorConfig``) plus the few settings only a run has (data, universe, report, output).
Every field's range, choices and meaning is declared once, on its class, with
:mod:`core.settings`; this module only stacks preset <- config file <- overrides and adds
the rules that join two sections. Presets live in ``backtests/presets/*.toml``.

Only torch-free modules are imported here (the configuration classes of ``signals`` and
``strategies`` load without torch, scikit-learn or Backtrader), so ``--help``, ``--print-config``
and a configuration error answer in well under a second.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from core.errors import ConfigError
from core.settings import SettingError, Text, build, check_settings, describe, setting, to_plain
from signals.execution.factory import ExecutorConfig
from signals.inputs.features import FeatureConfig
from signals.inputs.labels import LabelConfig
from signals.models.config import ModelConfig
from signals.split import WalkForwardSplit
from signals.styles.config import StyleConfig
from strategies.rules import CostModel
from strategies.targets import DEFAULT_INITIAL_CASH, INITIAL_CASH, ThresholdConfig, TopKConfig

from .evaluation_config import EvaluationConfig
from .evidence.tradeoff import TradeoffConfig, frontier_settings

__all__ = ["PRESETS", "RunConfig", "describe_fields", "load_config", "merged_settings", "parse_override", "to_toml"]

PRESETS = ("quick", "research", "full")


@dataclass(frozen=True)
class DataConfig:
    use_cache: bool = setting(False, doc="merge the user cache (akshare/tushare updates) into the snapshot")
    cache_dir: str = setting("", doc="cache folder; empty = $CSI300_CACHE_DIR or the user cache dir")

    def __post_init__(self) -> None:
        check_settings(self)


@dataclass(frozen=True)
class UniverseConfig:
    """Which stocks and days a run uses. Symbols are exchange-prefixed codes in any case
    (``sh600519`` is ``SH600519``), each given once; dates are days (a time of day is dropped), and
    ``today`` is resolved to its date when the configuration is built, so the saved config.toml
    holds the date the run used."""

    symbols: tuple[str, ...] = setting(
        (), doc="empty = the whole point-in-time CSI-300; else a study of these symbols (any case, each once; "
                "one symbol = a single-stock study: threshold rule, raw up/down target with BCE, unless chosen)")
    start: pd.Timestamp = setting(pd.Timestamp("2019-01-01"), doc="first day of data used (training starts here)")
    end: pd.Timestamp = setting(pd.Timestamp("2025-06-30"), doc="last day of data used; 'today' = the day of the run")

    def __post_init__(self) -> None:
        check_settings(self)
        syms = tuple(s.strip().upper() for s in self.symbols)
        if any(not s for s in syms):
            raise SettingError("UniverseConfig", "symbols", self.symbols, "has an empty symbol: remove the extra comma")
        dup = sorted({s for s in syms if syms.count(s) > 1})
        if dup:
            raise SettingError("UniverseConfig", "symbols", self.symbols,
                               f"lists {', '.join(dup)} more than once: give each symbol once")
        object.__setattr__(self, "symbols", syms)
        object.__setattr__(self, "start", self.start.normalize())
        object.__setattr__(self, "end", self.end.normalize())
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
    backtest_workers: int = setting(2, lo=1, hi=64,
                                    doc="processes the run's backtests run on at once (1 = one after the other in "
                                        "the run's process); the results are the same")
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
    audit_cuts: tuple[str, ...] = setting(
        (), pattern=r"\d{4}-\d{2}-\d{2}",
        doc="cut dates T of the audit (YYYY-MM-DD, comma-separated; each reruns the windows tested on or before it); "
            "empty = one in the test span of every window")

    def __post_init__(self) -> None:
        check_settings(self)
        for c in self.audit_cuts:
            try:
                pd.Timestamp(c)
            except ValueError:
                raise SettingError("ReportConfig", "audit_cuts", self.audit_cuts, f"has {c!r}, not a date") from None

    @property
    def cut_dates(self) -> list[pd.Timestamp] | None:
        """The audit's cut dates, None for the default (one in every window)."""
        return [pd.Timestamp(c) for c in self.audit_cuts] or None


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
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    styles: StyleConfig = field(default_factory=StyleConfig)
    tradeoff: TradeoffConfig = field(default_factory=TradeoffConfig)
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
    late = [str(c.date()) for c in cfg.report.cut_dates or [] if not wf.test_start <= c < u.end]
    if late:
        raise ConfigError(f"report.audit_cuts {late} must lie in walk_forward.test_start..universe.end "
                          f"[{wf.test_start.date()}..{u.end.date()}): a cut needs predictions before it and data after")
    if cfg.model.objective == "bce" and cfg.labels.target != "updown" and cfg.model.kind != "logistic":
        raise ConfigError(f"model.objective = 'bce' trains on a binary target, but labels.target = "
                          f"{cfg.labels.target!r} is continuous: use model.objective mse or ic, "
                          "or labels.target updown")
    if len(u.symbols) == 1:
        cross = [f"{name} = {value!r}" for name, value, bad in (
            ("labels.relative", cfg.labels.relative, cfg.labels.relative == "median"),
            ("labels.target", cfg.labels.target, cfg.labels.target in CROSS_SECTIONAL_TARGETS),
            ("model.objective", cfg.model.objective, cfg.model.objective == "ic"),
            ("model.early_stop", cfg.model.early_stop, cfg.model.early_stop in ("ic", "rank_ic"))) if bad]
        if cross:
            raise ConfigError(f"{', '.join(cross)} need(s) a cross-section of stocks, but universe.symbols is one "
                              f"stock ({u.symbols[0]}): use labels.relative none or index, target updown or return, "
                              "objective bce or mse, early_stop loss (the single-stock defaults), or give more symbols")
    if len(u.symbols) == 1 and (cfg.styles.neutral_scores or cfg.labels.neutral):
        raise ConfigError(f"styles.neutral_scores / labels.neutral regress each day's cross-section of stocks on the "
                          f"styles, but universe.symbols is one stock ({u.symbols[0]}): leave them empty")
    if cfg.strategy.kind == "topk":
        try:  # each frontier point over the run's own TopK settings
            frontier_settings(cfg.strategy.topk, cfg.tradeoff.frontier)
        except ConfigError as exc:
            raise ConfigError(f"tradeoff.frontier {exc} over [strategy.topk]: change the point or the strategy"
                              ) from None
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
                overrides: list[dict[str, Any]] | None = None, defaults: dict[str, Any] | None = None) -> RunConfig:
    """Preset (default ``quick``, or the file's ``preset`` key) <- ``defaults`` <- TOML file <- overrides; checked.

    ``defaults``: a command's own defaults over the preset's (``python -m backtests.predict`` merges
    the data cache); the file and the overrides still win, and they do not count as the user's
    choice. TOML values must have the field's type (``hidden_size = "64"`` is refused); values
    typed on the command line (:func:`parse_override`) are parsed by it."""
    return build(RunConfig, merged_settings(preset, config_file, overrides, defaults))


def merged_settings(preset: str | None = None, config_file: str | Path | None = None,
                    overrides: list[dict[str, Any]] | None = None,
                    defaults: dict[str, Any] | None = None) -> dict[str, Any]:
    """The nested settings :func:`load_config` builds its :class:`RunConfig` from (layers stacked,
    the single-stock rule applied), not yet checked: for a caller that must read a section (the
    universe's dates) before it decides another."""
    file_data = read_toml(config_file) if config_file else {}
    name = preset or file_data.get("preset") or "quick"
    data = _merge(_merge(preset_dict(str(name)), defaults or {}), file_data)
    data["preset"] = name
    layers = [file_data, *(overrides or [])]
    for over in overrides or []:
        data = _merge(data, over)
    _single_stock_rule(data, layers)
    return data


def _single_stock_rule(data: dict[str, Any], layers: list[dict[str, Any]]) -> None:
    """One symbol means a single-stock study: traded with the one-instrument (threshold) rule and
    asking the tutorials' question, the raw direction, since the preset's cross-sectional target
    needs a cross-section (a median-relative rank becomes the raw up/down label with BCE, early
    stopping on the loss). A setting chosen in any layer (a TOML file, ``--set``, an option; the
    preset's choice does not count) is kept, whatever the order the layers come in; a
    cross-sectional one kept this way is refused by :func:`_check_across_sections` with its fix. The one place this
    rule lives: ``--symbols``, ``--set universe.symbols`` and a sweep's grid alike."""

    def chosen(section: str, key: str) -> bool:
        return any(isinstance(layer.get(section), dict) and key in layer[section] for layer in layers)

    if not chosen("universe", "symbols"):
        return
    syms = data["universe"]["symbols"]
    items = [s for s in syms.split(",") if s.strip()] if isinstance(syms, str) else list(syms)
    if len(items) != 1:
        return

    def put(section: str, key: str, value: Any) -> None:
        data[section] = {**data.get(section, {}), key: value}

    get = lambda section, key: data.get(section, {}).get(key)  # noqa: E731
    if not chosen("strategy", "kind"):
        put("strategy", "kind", "threshold")
    if not chosen("labels", "relative") and get("labels", "relative") == "median":
        put("labels", "relative", "none")
    if not chosen("labels", "target") and get("labels", "target") in CROSS_SECTIONAL_TARGETS:
        put("labels", "target", "updown")
    if not chosen("labels", "neutral") and get("labels", "neutral"):
        put("labels", "neutral", [])  # the preset's style-neutral target needs a cross-section
    if not chosen("styles", "neutral_scores") and get("styles", "neutral_scores"):
        put("styles", "neutral_scores", [])
    binary = get("labels", "target") in (None, "updown")
    if not chosen("model", "objective") and (get("model", "objective") == "ic" or
                                             (binary and get("model", "objective") == "mse")):
        put("model", "objective", "bce")
    if not chosen("model", "early_stop") and get("model", "early_stop") in ("ic", "rank_ic"):
        put("model", "early_stop", "loss")


#: targets defined over the day's cross-section of stocks (meaningless for one stock)
CROSS_SECTIONAL_TARGETS = ("rank", "zscore")


def to_dict(cfg: RunConfig) -> dict[str, Any]:
    return to_plain(cfg)


def to_toml(cfg: RunConfig) -> str:
    import tomli_w

    return tomli_w.dumps(to_dict(cfg))


def describe_fields() -> list[tuple[str, Any, str]]:
    """(``section.field``, default, meaning and range) of every setting, for the README and help."""
    return [r for r in describe(RunConfig) if r[0] != "preset"]


def settings_markdown() -> str:
    """The table of every setting: its value in the default (quick) preset, its meaning and what
    it allows. The documentation site's configuration page is built with it (``docs/hooks.py``)."""
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

import pytest

from backtests import config as C
from core.errors import ConfigError, ToolkitError


def test_quick_is_the_default_and_valid():
    cfg = C.load_config()
    assert cfg.preset == "quick"
    assert cfg.universe.symbols == ()  # the whole point-in-time universe
    # at least 3 test years inside the data range
    assert (C.pd.Timestamp(cfg.universe.end) - C.pd.Timestamp(cfg.walk_forward.test_start)).days >= 3 * 365


def test_full_preset_is_larger_and_starts_2013():
    q, f = C.load_config("quick"), C.load_config("full")
    assert f.universe.start.year == 2013 and f.universe.end == C.pd.Timestamp("2025-06-30")
    assert f.model.hidden_size > q.model.hidden_size and f.model.num_layers >= 2


def test_overrides_are_coerced_by_field_type():
    cfg = C.load_config(overrides=[C.parse_override("model.hidden_size=64"),
                                   C.parse_override("walk_forward.expanding=true"),
                                   C.parse_override("features.engineered=ret_5,gap")])
    assert cfg.model.hidden_size == 64
    assert cfg.walk_forward.expanding is True
    assert cfg.features.engineered == ("ret_5", "gap")


@pytest.mark.parametrize(
    ("override", "needle"),
    [
        ({"model": {"hidden_size": 0}}, "model.hidden_size = 0 is out of range: allowed 1..4096"),
        ({"model": {"kind": "transformer"}}, "model.kind = 'transformer' is not allowed"),
        ({"costs": {"commission_rate": 0.5}}, "costs.commission_rate = 0.5 is out of range"),
        ({"model": {"dropout": "lots"}}, "model.dropout = 'lots' is not a valid float"),
        ({"model": {"hidden": 3}}, "unknown key(s) ['hidden'] in [model]"),
        ({"universe": {"start": "2020-13-45"}}, "universe.start = '2020-13-45' is not a date"),
        ({"strategy": {"threshold": {"lower": 0.6, "upper": 0.5}}},
         "strategy.threshold.lower = 0.6 must not exceed upper = 0.5"),
        ({"strategy": {"topk": {"k": 0}}}, "strategy.topk.k = 0 is out of range: allowed 1..1000"),
        ({"strategy": {"threshold": {"symbol": "SH600519"}}}, "strategy.threshold.symbol = 'SH600519': a run trades"),
        ({"model": {"hidden_size": "64"}}, "model.hidden_size = '64' is not a valid int"),  # TOML text is not a number
        ({"model": {"lr": float("nan")}}, "model.lr = nan must be a finite number"),
        ({"walk_forward": {"embargo_days": 1}},
         "WalkForwardSplit.embargo_days = 1 is shorter than the label's end offset (horizon + 1) = 2"),
        ({"execution": {"ray_address": "h:1"}}, "execution: execution.ray_address = 'h:1' is set"),
        ({"strategy": {"kind": "threshold"}}, "trades one instrument"),
        ({"model": {"objective": "bce"}},
         "model.objective = 'bce' trains on a binary target, but labels.target = 'rank'"),
        ({"walk_forward": {"test_start": "2030-01-01"}},
         "walk_forward.test_start = '2030-01-01' must be a date inside"),
        ({"features": {"engineered": ["ret_5", "future_ret"]}},
         "features.engineered = ('ret_5', 'future_ret') is not allowed"),
    ],
)
def test_bad_values_name_field_value_and_range(override, needle):
    with pytest.raises(ToolkitError) as ei:  # a ConfigError, or the LookaheadError of a short embargo
        C.load_config(overrides=[override])
    assert needle in str(ei.value)


def test_toml_round_trip(tmp_path):
    cfg = C.load_config(overrides=[{"model": {"kind": "gru", "hidden_size": 8}},
                                   {"universe": {"symbols": ["SH600519"]}}])
    p = tmp_path / "c.toml"
    p.write_text(C.to_toml(cfg), encoding="utf-8")
    again = C.load_config(config_file=p)
    assert again == cfg


def test_missing_or_broken_file(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        C.load_config(config_file=tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\nkind=", encoding="utf-8")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        C.load_config(config_file=bad)


def test_override_syntax():
    with pytest.raises(ConfigError, match="section.field=value"):
        C.parse_override("hidden_size=3")


def test_command_line_text_is_parsed_by_the_field_type():
    cfg = C.load_config(overrides=[C.parse_override("strategy.topk.k=12"),
                                   C.parse_override("walk_forward.step_days=auto"),
                                   C.parse_override("walk_forward.max_train_samples=all"),
                                   C.parse_override("universe.end=2024-12-31")])
    assert cfg.strategy.topk.k == 12 and cfg.walk_forward.step_days is None
    assert cfg.walk_forward.max_train_samples is None and cfg.universe.end == C.pd.Timestamp("2024-12-31")
    with pytest.raises(ConfigError, match=r"walk_forward.step_days = 0 is out of range: allowed 1..5000, or 'auto'"):
        C.load_config(overrides=[C.parse_override("walk_forward.step_days=0")])


def test_the_run_config_holds_the_library_classes():
    import signals
    import strategies

    cfg = C.load_config()
    assert isinstance(cfg.features, signals.FeatureConfig) and isinstance(cfg.walk_forward, signals.WalkForwardSplit)
    assert isinstance(cfg.model, signals.ModelConfig) and isinstance(cfg.strategy.topk, strategies.TopKConfig)
    assert isinstance(cfg.costs, strategies.CostModel) and isinstance(cfg.execution, signals.ExecutorConfig)
    # one default per setting: the library's default is the run's, unless a preset says otherwise
    assert strategies.TopKConfig().k == cfg.strategy.topk.k == 30
    assert signals.FeatureConfig().vol_window_min == cfg.features.vol_window_min == 0.5
    assert signals.FeatureConfig().lookback == 20 and cfg.features.lookback == 10  # the quick preset's own


def test_every_field_is_documented_with_its_range():
    rows = C.describe_fields()
    assert len(rows) > 40
    by = {k: doc for k, _, doc in rows}
    assert "1..4096" in by["model.hidden_size"] and "1..1000" in by["strategy.topk.k"]
    assert "'auto'" in by["walk_forward.embargo_days"] and "CNY" in by["strategy.initial_cash"]
    assert "lstm" in by["model.kind"]


# ---------------------------------------------------------------- one rule for each input
def _cli(*args):
    from backtests.run import build_parser, config_from_args

    return config_from_args(build_parser().parse_args(list(args)))


def test_symbols_are_normalised_in_one_place_whoever_gives_them():
    via_set = C.load_config(overrides=[C.parse_override("universe.symbols=sh600519")])
    via_option = _cli("--symbols", "sh600519")
    assert via_set.universe.symbols == via_option.universe.symbols == ("SH600519",)
    # one symbol is a single-stock study, however it is given
    assert via_set.strategy.kind == via_option.strategy.kind == "threshold"
    assert _cli("--symbols", "SH600519", "--strategy", "topk").strategy.kind == "topk"
    assert _cli("--set", "strategy.kind=topk", "--symbols", "SH600519").strategy.kind == "topk"
    assert C.load_config(overrides=[{"universe": {"symbols": ["SH600519", "SZ000001"]}}]).strategy.kind == "topk"


def test_a_single_stock_study_asks_the_raw_direction_unless_told_otherwise():
    """The quick preset ranks the day's stocks (median-relative rank target, MSE); one stock has no
    cross-section, so a single-stock study trains on its raw up/down direction with BCE. A setting
    the user chose (in any layer, in any order; the preset's choice does not count) is kept, and a
    cross-sectional one is then refused with its fix."""
    quick = C.load_config()
    assert (quick.labels.relative, quick.labels.target, quick.model.objective) == ("median", "rank", "mse")
    via_set = C.load_config(overrides=[C.parse_override("universe.symbols=SH600519")])
    for cfg in (_cli("--symbols", "SH600519"), via_set):
        assert (cfg.labels.relative, cfg.labels.target) == ("none", "updown")
        assert (cfg.model.objective, cfg.model.early_stop) == ("bce", "loss")
    # a choice is kept whatever the order (each --set is a layer of its own; a sweep's grid comes last)
    target, objective, symbol = "labels.target=return", "model.objective=mse", "universe.symbols=SH600519"
    for order in ((symbol, target, objective), (objective, symbol, target), (target, objective, symbol)):
        args = [a for item in order for a in ("--set", item)]
        cfg = _cli(*args)
        assert (cfg.labels.relative, cfg.labels.target, cfg.model.objective) == ("none", "return", "mse"), args
        assert cfg.strategy.kind == "threshold"
    kept = _cli("--set", "strategy.kind=topk", "--set", "universe.symbols=SH600519")
    assert kept.strategy.kind == "topk"
    index = _cli("--symbols", "SH600519", "--set", "labels.relative=index")
    assert (index.labels.relative, index.labels.target, index.model.objective) == ("index", "updown", "bce")
    two = C.load_config(overrides=[{"universe": {"symbols": ["SH600519", "SZ000001"]}}])
    assert (two.labels.relative, two.model.objective) == ("median", "mse")


@pytest.mark.parametrize("setting", ["labels.relative=median", "labels.target=rank", "model.objective=ic",
                                     "model.early_stop=rank_ic"])
def test_a_chosen_cross_sectional_setting_on_one_stock_is_refused(setting):
    with pytest.raises(ConfigError, match=rf"{setting.split('=')[0]} = '{setting.split('=')[1]}' need\(s\) a "
                                          r"cross-section.*SH600519.*or give more symbols"):
        _cli("--symbols", "SH600519", "--set", setting)


@pytest.mark.parametrize("given", [C.parse_override("universe.symbols=SH600519,SH600519"),
                                   C.parse_override("universe.symbols=SH600519,sh600519"),
                                   {"universe": {"symbols": ["SH600519", " "]}}])
def test_a_repeated_or_empty_symbol_is_refused(given):
    with pytest.raises(ConfigError, match=r"universe\.symbols = .* (more than once|an empty symbol)"):
        C.load_config(overrides=[given])


def test_today_is_resolved_to_a_date_when_the_config_is_built():
    cfg = C.load_config(overrides=[C.parse_override("universe.end=today")])
    today = C.pd.Timestamp.today().normalize()
    assert cfg.universe.end == today and cfg.universe.end == cfg.universe.end.normalize()
    assert f'end = "{today.date()}"' in C.to_toml(cfg)
    assert C.load_config(overrides=[C.parse_override("universe.start=2019-01-02T15:30")]).universe.start == \
        C.pd.Timestamp("2019-01-02")


def test_toml_text_is_not_taken_for_a_number():
    with pytest.raises(ConfigError, match=r"model\.hidden_size = '64' is not a valid int"):
        C.load_config(overrides=[{"model": {"hidden_size": "64"}}])
    assert C.load_config(overrides=[C.parse_override("model.hidden_size=64")]).model.hidden_size == 64


def test_audit_cut_dates_are_settable_and_checked():
    cfg = C.load_config(overrides=[C.parse_override("report.audit_cuts=2023-03-01,2024-06-03")])
    assert cfg.report.cut_dates == [C.pd.Timestamp("2023-03-01"), C.pd.Timestamp("2024-06-03")]
    assert C.load_config().report.cut_dates is None
    with pytest.raises(ConfigError, match=r"report\.audit_cuts \['2021-01-04'\] must lie in walk_forward\.test_start"):
        C.load_config(overrides=[C.parse_override("report.audit_cuts=2021-01-04")])
    with pytest.raises(ConfigError, match=r"report\.audit_cuts = .*2023-02-30"):
        C.load_config(overrides=[C.parse_override("report.audit_cuts=2023-02-30")])


def test_threads_are_fixed_by_default_and_auto_on_request():
    assert C.load_config().execution.threads == 1
    assert C.load_config(overrides=[C.parse_override("execution.threads=auto")]).execution.threads is None
    assert _cli("--threads", "2").execution.threads == 2
    with pytest.raises(ConfigError, match=r"execution\.threads = 0 is out of range: allowed 1\.\.1024, or 'auto'"):
        _cli("--threads", "0")


def test_symbols_take_one_list_syntax():
    """Comma-separated, as in every CLI of the toolkit; spaces separate too."""
    a = _cli("--symbols", "SH600519,SZ000001").universe.symbols
    assert a == _cli("--symbols", "SH600519", "SZ000001").universe.symbols == ("SH600519", "SZ000001")
    assert _cli("--symbols", "sh600519, sz000001").universe.symbols == a
    with pytest.raises(ConfigError, match="empty item"):
        _cli("--symbols", "SH600519,,SZ000001")

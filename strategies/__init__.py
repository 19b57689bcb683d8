"""strategies: Backtrader strategies that trade daily up/down predictions under A-share rules.

Research scripts use::

    import data_store, strategies
    md = data_store.load()
    res = strategies.run_backtest(md, preds[["date", "symbol", "p_up"]],   # ONE model's table
                                  strategy=strategies.TopKConfig(k=20, max_replace=5),
                                  costs=strategies.CostModel(commission_rate=0.00025))
    res.returns, res.trades, res.rejected, res.summary()

Configuration: :class:`TopKConfig`, :class:`ThresholdConfig` and :class:`CostModel` are frozen
dataclasses of :func:`core.settings.setting` fields (each with its default, range and
meaning, shared with the command line, which builds these very classes); :data:`INITIAL_CASH` is
the range of ``run_backtest(initial_cash=...)``. A bad value raises
:class:`core.settings.SettingError` (a :class:`~data_store.errors.ConfigError`, like
:class:`StrategyConfigError`).

Timing: a prediction dated t is acted on after the close of t; its market orders fill at the
open of t + ``core.timing.FILL_LAG`` (1 trading day; never cheat-on-close). The strategy
only chooses targets among the tradable point-in-time members of the decision day; the broker
alone refuses or trims orders at the fill, and records each in ``res.rejected`` with its reason:

=============  ===========================================================================
suspended      no bar, volume 0 or missing volume on the fill day: no trade
not_member     buys only of point-in-time CSI-300 members (on the fill day)
limit_up       no buy when the open is at the upper limit
limit_down     no sell when the open is at the lower limit (limits: data_store.boards, from
               the previous close adjusted for ex-rights, to the fen; none in the first 5
               listed days)
t_plus_1       shares bought today cannot be sold today
lot            buys in 100-share lots (a buy whose full weight is below one lot at the
               decision close is refused); a whole position may be sold in odd lots
cash           buys trimmed to the cash left at the fill price, fees included, or refused
               when the day's budget leaves no lot for them
volume         an order fills at most ``CostModel.participation`` (default 10%) of the fill
               day's volume; the rest is trimmed (a buy is not topped up later)
=============  ===========================================================================

Each rule has one implementation (:mod:`strategies.rules`), and it is the one the backtest runs:
:func:`build_arrays` calls :class:`PriceLimit` and :class:`Suspension` on whole panels.

Costs: commission per side (default 0.025%, minimum 5 CNY per order), stamp duty on sells
(0.1% before 2023-08-28, 0.05% from then), optional slippage and square-root impact
(``CostModel.impact``). Holdings follow dividends and bonus shares through the adjustment factor
(``res.corporate_actions``).

Pace (:mod:`strategies.pacing`, settings of :class:`TopKConfig`): staggered tranches
(``hold_days``), rebalancing every N days (``rebalance_every``), an exponential average of each
stock's scores (``score_halflife``), and the cost-aware swap rule (``cost_aware``); a universe
small for ``k + buffer`` is warned about (``res.warnings``).

The names below are imported when first used (PEP 562): the configuration classes
(:mod:`strategies.targets`, :mod:`strategies.rules`) load without Backtrader.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy import lazy_exports

#: public name -> the submodule that defines it
_EXPORTS = {
    "MarketArrays": "arrays", "build_arrays": "arrays",
    "DEFAULT_INITIAL_CASH": "targets", "INITIAL_CASH": "targets", "StrategyConfig": "targets",
    "ThresholdConfig": "targets", "TopKConfig": "targets", "TopKDecision": "targets", "threshold_action": "targets",
    "topk_select": "targets", "topk_targets": "targets", "tie_keys": "targets", "universe_warning": "targets",
    "AShareStrategy": "engine", "StrategyContext": "engine", "ThresholdStrategy": "engine", "TopKStrategy": "engine",
    "run_backtest": "engine", "simulate": "engine",
    "PredictionsError": "errors", "StrategyConfigError": "errors",
    "validate_predictions": "predictions",
    "BacktestResult": "result", "trading_days_per_year": "performance",
    "REASONS": "rules", "AShareRules": "rules", "Commission": "rules", "CostModel": "rules", "LotRule": "rules",
    "PriceLimit": "rules", "Slippage": "rules", "StampDuty": "rules", "Suspension": "rules", "TPlusOne": "rules",
    "Impact": "rules", "VolumeCap": "rules",
    "momentum_predictions": "scores",
}

__all__ = [
    "AShareRules", "AShareStrategy", "BacktestResult", "Commission", "CostModel", "DEFAULT_INITIAL_CASH",
    "INITIAL_CASH", "Impact", "LotRule", "MarketArrays", "PredictionsError", "PriceLimit", "REASONS", "Slippage",
    "StampDuty", "StrategyConfig", "StrategyConfigError", "StrategyContext", "Suspension", "TPlusOne",
    "ThresholdConfig", "ThresholdStrategy", "TopKConfig", "TopKDecision", "TopKStrategy", "VolumeCap", "build_arrays",
    "momentum_predictions", "run_backtest", "simulate", "threshold_action", "tie_keys", "topk_select", "topk_targets",
    "trading_days_per_year", "universe_warning", "validate_predictions",
]


__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS, globals())


if TYPE_CHECKING:  # the same names, for type checkers and IDEs
    from .arrays import MarketArrays, build_arrays
    from .engine import AShareStrategy, StrategyContext, ThresholdStrategy, TopKStrategy, run_backtest, simulate
    from .errors import PredictionsError, StrategyConfigError
    from .performance import trading_days_per_year
    from .predictions import validate_predictions
    from .result import BacktestResult
    from .rules import (
        REASONS,
        AShareRules,
        Commission,
        CostModel,
        Impact,
        LotRule,
        PriceLimit,
        Slippage,
        StampDuty,
        Suspension,
        TPlusOne,
        VolumeCap,
    )
    from .scores import momentum_predictions
    from .targets import (
        DEFAULT_INITIAL_CASH,
        INITIAL_CASH,
        StrategyConfig,
        ThresholdConfig,
        TopKConfig,
        TopKDecision,
        threshold_action,
        tie_keys,
        topk_select,
        topk_targets,
        universe_warning,
    )

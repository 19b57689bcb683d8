"""strategies: Backtrader strategies that trade daily up/down predictions under A-share rules.

Research scripts use::

    import data_store, strategies
    md = data_store.load()
    res = strategies.run_backtest(md, preds[["date", "symbol", "p_up"]],   # ONE model's table
                                  strategy=strategies.TopKConfig(k=20, max_replace=5),
                                  costs=strategies.CostModel(commission_rate=0.00025))
    res.returns, res.trades, res.rejected, res.summary()

Timing: a prediction dated t is acted on after the close of t; its market orders fill at the
open of t+1 (never cheat-on-close). Rules applied at the fill (each refusal or trim is recorded
in ``res.rejected`` with its reason):

=============  ===========================================================================
suspended      no bar, volume 0 or missing volume on the fill day: no trade
not_member     buys only of point-in-time CSI-300 members
limit_up       no buy when the open is at the upper limit
limit_down     no sell when the open is at the lower limit (limits: data_store.boards, from
               the previous close adjusted for ex-rights, to the fen; none in the first 5
               listed days)
t_plus_1       shares bought today cannot be sold today
lot            buys in 100-share lots; a whole position may be sold in odd lots
cash           buys trimmed to the cash left at the fill price, fees included
=============  ===========================================================================

Costs: commission per side (default 0.025%, minimum 5 CNY per order), stamp duty on sells
(0.1% before 2023-08-28, 0.05% from then), optional slippage. Holdings follow dividends and bonus
shares through the adjustment factor (``res.corporate_actions``).
"""

from .arrays import MarketArrays, build_arrays
from .engine import ThresholdStrategy, TopKStrategy, run_backtest, validate_predictions
from .errors import PredictionsError, StrategyConfigError
from .result import TRADING_DAYS_PER_YEAR, BacktestResult
from .rules import (
    REASONS,
    AShareRules,
    Commission,
    CostModel,
    LotRule,
    PriceLimit,
    Slippage,
    StampDuty,
    Suspension,
    TPlusOne,
)
from .scores import momentum_predictions
from .targets import (
    ThresholdConfig,
    TopKConfig,
    TopKDecision,
    threshold_action,
    topk_select,
    topk_targets,
)

__all__ = [
    "REASONS",
    "TRADING_DAYS_PER_YEAR",
    "AShareRules",
    "BacktestResult",
    "Commission",
    "CostModel",
    "LotRule",
    "MarketArrays",
    "PredictionsError",
    "PriceLimit",
    "Slippage",
    "StampDuty",
    "StrategyConfigError",
    "Suspension",
    "TPlusOne",
    "ThresholdConfig",
    "ThresholdStrategy",
    "TopKConfig",
    "TopKDecision",
    "TopKStrategy",
    "build_arrays",
    "momentum_predictions",
    "run_backtest",
    "threshold_action",
    "topk_select",
    "topk_targets",
    "validate_predictions",
]

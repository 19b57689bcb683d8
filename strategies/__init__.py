"""strategies: Backtrader strategies that trade daily up/down predictions under A-share rules.

Research scripts use::

    import data_store, strategies
    md = data_store.load()
    res = strategies.run_backtest(md, preds[["date", "symbol", "p_up"]],
                                  strategy=strategies.TopKConfig(k=20, max_replace=5),
                                  costs=strategies.CostModel(commission_rate=0.00025))
    res.returns, res.trades, res.rejected, res.summary()

A prediction dated t is acted on after the close of t; its orders fill at the open of t+1.
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

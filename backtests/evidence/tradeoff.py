"""What trading less costs and what more money does: the frontier and the capacity of a strategy.

- :func:`alpha_figures`: the ONE function that turns a strategy's daily returns into its alpha
  figures (the frontier's and the capacity table's rows); today the alpha after the index (CAPM
  with HAC errors, :func:`backtests.evidence.stats.capm`), the place for the alpha after the
  styles as well.
- :func:`frontier`: the run's predictions traded with each of a list of turnover settings
  (:attr:`TradeoffConfig.frontier`, each over the run's own strategy settings): turnover against
  net and gross excess and alpha.
- :func:`capacity`: the run's strategy at several starting capitals (:attr:`TradeoffConfig.capitals`)
  under the participation cap and a square-root impact cost (:class:`strategies.rules.Impact`,
  coefficient :attr:`TradeoffConfig.impact`): net excess, cost drag and fill rate.

The fast path: each point is ONE backtest after costs; its gross returns are the net ones plus
each day's costs (commission, stamp duty, slippage and impact, the last two read from the fill
prices) over the previous day's equity: the same trades before costs (:func:`gross_by_accounting`).
A backtest of its own without costs (the run's gross twin) reinvests the fees it saves, so the
two differ by that compounding; the run records both for its own setting (``check`` of
:func:`measure`, in ``metrics.json``) and a test on the real data bounds the gap.

This module is also the ``[tradeoff]`` settings' home; it imports nothing heavy at the top (the
configuration is read before the run starts).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from core.errors import ConfigError
from core.settings import SettingError, build, check_settings, setting
from strategies.rules import CostModel
from strategies.targets import ThresholdConfig, TopKConfig

__all__ = ["Tradeoff", "TradeoffConfig", "alpha_figures", "capacity", "for_outcome", "frontier", "frontier_settings",
           "gross_by_accounting", "measure", "parse_point", "point_config", "runs_frontier"]

log = logging.getLogger("backtests.run")

#: ``field=value`` pairs of one frontier point, joined by ``;``
POINT_PATTERN = r"[a-z_]+=[^;=,\s]+(;[a-z_]+=[^;=,\s]+)*"


@dataclass(frozen=True)
class TradeoffConfig:
    """The ``[tradeoff]`` settings: the frontier's points and the capacity's capitals.

    Attributes:
        frontier: TopK settings to trade the run's predictions with, each point one or more
            ``field=value`` pairs joined by ``;`` over the run's own ``[strategy.topk]`` (e.g.
            ``hold_days=5;buffer=0``); the run's own setting is always a row. Empty: no frontier.
            TopK runs only.
        capitals: starting capitals (CNY) of the capacity table. Empty: no capacity table.
        impact: coefficient of the square-root impact in the capacity runs (the run's own costs
            keep theirs); with the run's participation cap. Order-book studies put the law's
            coefficient of the order of 1; 0.5 is a middle choice for large, liquid stocks, and a
            setting because it is uncertain.
    """

    frontier: tuple[str, ...] = setting(
        ("hold_days=1", "hold_days=2", "hold_days=5", "hold_days=10", "hold_days=20"), pattern=POINT_PATTERN,
        doc="TopK settings the frontier trades the predictions with, each 'field=value[;field=value]' over the "
            "run's [strategy.topk] (comma-separated points; empty: none)")
    capitals: tuple[float, ...] = setting((1e7, 1e8, 1e9, 1e10), lo=1e4, hi=1e12,
                                          doc="starting capitals (CNY) of the capacity table (empty: none)")
    impact: float = setting(0.5, lo=0.0, hi=10.0,
                            doc="square-root impact coefficient of the capacity runs (price moves impact x daily "
                                "volatility x sqrt(shares / day's volume))")

    def __post_init__(self) -> None:
        check_settings(self)
        try:  # a field or a value that no TopK setting takes is refused now
            frontier_settings(TopKConfig(k=1000), self.frontier)
        except ConfigError as exc:
            raise SettingError(type(self).__name__, "frontier", self.frontier, f"has {exc}") from None


def parse_point(point: str) -> dict[str, str]:
    """``"hold_days=5;buffer=0"`` -> ``{"hold_days": "5", "buffer": "0"}``."""
    return dict(pair.split("=", 1) for pair in point.split(";"))


def point_config(base: TopKConfig, point: str) -> TopKConfig:
    """``base`` with the point's settings (typed and checked like ``--set``); a ConfigError naming
    the point and what its value breaks."""
    data = {**dataclasses.asdict(base), **parse_point(point)}
    try:
        return build(TopKConfig, data, from_text=True)
    except ConfigError as exc:
        raise ConfigError(f"point {point!r}: {exc}") from None


def frontier_settings(base: TopKConfig, points: tuple[str, ...]) -> list[tuple[str, TopKConfig]]:
    """Each point as a configuration over ``base``; a bad value is a ConfigError naming the point."""
    return [(p, point_config(base, p)) for p in points]


# ----------------------------------------------------------------------------- the figures
def alpha_figures(returns: pd.Series, reference: pd.Series, periods_per_year: int,
                  confidence: float = 0.95, factors: pd.DataFrame | None = None) -> dict[str, float]:
    """The alpha figures of a strategy's daily returns: after the ``reference`` (the CSI-300 or
    the held stock), CAPM with Newey-West errors (:func:`backtests.evidence.stats.capm`):
    ``alpha`` (annualised, a fraction a year), ``alpha_lo``, ``alpha_hi``, ``alpha_t``, ``beta``;
    with the run's style-factor returns ``factors`` also the alpha after the index and the styles
    (:func:`backtests.evidence.attribution.attribute`): ``style_alpha``, ``style_alpha_t``. The one
    place a frontier or capacity row gets its alpha."""
    from . import stats
    from .attribution import attribute

    ref = reference.reindex(returns.index).fillna(0.0)
    c = stats.capm(returns, ref, periods_per_year, confidence)
    out = {k: c[k] for k in ("alpha", "alpha_lo", "alpha_hi", "alpha_t", "beta")}
    if factors is not None and not factors.empty:
        a = attribute(returns, ref, factors, periods_per_year, confidence)
        out.update(style_alpha=a["style_alpha"], style_alpha_t=a["style_alpha_t"])
    return out


def gross_by_accounting(res: Any, md: Any) -> pd.Series:
    """Daily returns of a backtest's own trades before costs: each day's return plus that day's
    commission, stamp duty, slippage and impact over the previous day's equity (slippage and
    impact: the fill price's distance from the day's raw open in ``md``, times the shares)."""
    t = res.trades
    r = res.returns
    if t.empty:
        return r.copy()
    o = md.panel("open")
    opens = o.to_numpy()[o.index.get_indexer(t["date"]), o.columns.get_indexer(t["symbol"])]
    cost = (t["commission"] + t["stamp_duty"] + (t["price"] - opens).abs() * t["shares"]).groupby(t["date"]).sum()
    prev = res.equity.shift(1).reindex(r.index)
    return (r + cost.reindex(r.index, fill_value=0.0) / prev).rename("gross")


def _figures(res: Any, md: Any, reference: pd.Series, ppy: int, confidence: float,
             factors: pd.DataFrame | None = None) -> dict[str, Any]:
    from strategies.performance import annual_return, sharpe_ratio

    s = res.summary(ppy)
    net, gross = res.returns, gross_by_accounting(res, md)
    ref = annual_return(reference.reindex(net.index).fillna(0.0), ppy)
    g_alpha = alpha_figures(gross, reference, ppy, confidence, factors)
    out = {
        "daily_turnover": s["turnover"], "annual_turnover": s["annual_turnover"],
        "net_annual_return": s["annual_return"], "gross_annual_return": annual_return(gross, ppy),
        "net_excess": s["annual_return"] - ref, "gross_excess": annual_return(gross, ppy) - ref,
        "sharpe": sharpe_ratio(net, ppy), "fill_rate": s["fill_rate"], "avg_names_held": s["avg_names_held"],
        "fees": s["fees"], "impact": s["impact"],
        "impact_a_year": s["impact"] / float(res.equity.mean()) * ppy / max(len(net), 1),
        **alpha_figures(net, reference, ppy, confidence, factors),
        "gross_alpha": g_alpha["alpha"], "gross_alpha_t": g_alpha["alpha_t"],
    }
    if "style_alpha" in g_alpha:
        out.update(gross_style_alpha=g_alpha["style_alpha"], gross_style_alpha_t=g_alpha["style_alpha_t"])
    out["cost_drag"] = out["gross_annual_return"] - out["net_annual_return"]
    return out


def _backtest(md: Any, preds: pd.DataFrame, strategy: TopKConfig | ThresholdConfig, costs: CostModel, cash: float,
              ppy: int) -> Any:
    import strategies

    return strategies.run_backtest(md, preds, strategy=strategy, costs=costs, initial_cash=cash, progress=False,
                                   periods_per_year=ppy)


def frontier(md: Any, preds: pd.DataFrame, base: TopKConfig, costs: CostModel, cash: float, ppy: int,
             reference: pd.Series, points: tuple[str, ...], own: Any = None,
             confidence: float = 0.95, factors: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per setting: the run's own (``own``: its backtest after costs, reused) and each of
    ``points`` over ``base``, with turnover, net and gross annual returns and excess over the
    reference, cost drag, Sharpe, alpha and t (net and gross), fill rate; sorted by turnover."""
    rows = []
    seen: set[TopKConfig] = set()
    todo: list[tuple[str, TopKConfig, bool]] = [("(the run's own)", base, True)]
    todo += [(p, cfg, False) for p, cfg in frontier_settings(base, points)]
    for name, cfg, mine in todo:
        if cfg in seen:
            continue
        seen.add(cfg)
        res = own if mine and own is not None else _backtest(md, preds, cfg, costs, cash, ppy)
        rows.append({"point": name, "own": mine, **_settings(cfg),
                     **_figures(res, md, reference, ppy, confidence, factors)})
        log.info("      frontier %s: turnover %.3f a day, net excess %+.2f%%", name, rows[-1]["daily_turnover"],
                 100 * rows[-1]["net_excess"])
    return pd.DataFrame(rows).sort_values(["daily_turnover", "point"], ignore_index=True)


def _settings(cfg: TopKConfig) -> dict[str, Any]:
    return {k: getattr(cfg, k) for k in ("hold_days", "rebalance_every", "buffer", "min_hold", "score_halflife",
                                         "cost_aware")}


def capacity(md: Any, preds: pd.DataFrame, strategy: TopKConfig | ThresholdConfig, costs: CostModel, ppy: int,
             reference: pd.Series, capitals: tuple[float, ...], impact: float,
             confidence: float = 0.95, factors: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per starting capital: the run's strategy under its participation cap and a
    square-root impact of coefficient ``impact``: net and gross excess, cost drag (gross minus net
    annual return, the gross by accounting), fill rate, turnover, alpha."""
    heavy = dataclasses.replace(costs, impact=float(impact))
    rows = []
    for cash in capitals:
        res = _backtest(md, preds, strategy, heavy, float(cash), ppy)
        rows.append({"capital": float(cash), **_figures(res, md, reference, ppy, confidence, factors)})
        log.info("      capacity %.0e CNY: net excess %+.2f%%, fill rate %.1f%%", cash, 100 * rows[-1]["net_excess"],
                 100 * rows[-1]["fill_rate"])
    return pd.DataFrame(rows)


@dataclass
class Tradeoff:
    """The frontier and capacity of a run's main strategy (empty frames when not measured), the
    settings they were measured with, and ``check``: the run's own gross annual return by
    accounting beside its gross twin's."""

    frontier: pd.DataFrame = field(default_factory=pd.DataFrame)
    capacity: pd.DataFrame = field(default_factory=pd.DataFrame)
    check: dict[str, float] = field(default_factory=dict)
    impact: float = 0.0
    participation: float = 1.0

    def record(self) -> dict[str, Any]:
        """For metrics.json."""
        return {"frontier": self.frontier.to_dict(orient="records"),
                "capacity": self.capacity.to_dict(orient="records"),
                "gross_check": self.check, "capacity_impact": self.impact, "participation": self.participation}


def measure(md: Any, preds: pd.DataFrame, strategy: TopKConfig | ThresholdConfig, costs: CostModel, cash: float,
            ppy: int, reference: pd.Series, cfg: TradeoffConfig, own: Any = None, own_gross: Any = None,
            confidence: float = 0.95, factors: pd.DataFrame | None = None) -> Tradeoff:
    """The frontier (TopK only) and the capacity of one model's predictions ``preds``
    (``date, symbol, p_up``), and the accounting check against the gross twin ``own_gross``."""
    from strategies.performance import annual_return

    out = Tradeoff(impact=float(cfg.impact), participation=float(costs.participation))
    if isinstance(strategy, TopKConfig) and cfg.frontier:
        out.frontier = frontier(md, preds, strategy, costs, cash, ppy, reference, cfg.frontier, own, confidence,
                                factors)
    if cfg.capitals:
        out.capacity = capacity(md, preds, strategy, costs, ppy, reference, cfg.capitals, cfg.impact, confidence,
                                factors)
    if own is not None and own_gross is not None and len(own.returns):
        out.check = {"gross_annual_return_accounting": annual_return(gross_by_accounting(own, md), ppy),
                     "gross_annual_return_twin": annual_return(own_gross.returns, ppy)}
    return out


def for_outcome(md: Any, outcome: Any, strategy: TopKConfig | ThresholdConfig, costs: CostModel, cash: float,
                ppy: int, reference: pd.Series, cfg: TradeoffConfig, confidence: float = 0.95,
                factors: pd.DataFrame | None = None) -> Tradeoff:
    """:func:`measure` of a traded :class:`~backtests.evidence.outcomes.ModelOutcome` (its
    predictions, its backtest after costs and its gross twin), timed in the log."""
    import time

    t0 = time.perf_counter()
    preds = outcome.predictions[["date", "symbol", "p_up"]]
    out = measure(md, preds, strategy, costs, cash, ppy, reference, cfg, outcome.backtest, outcome.gross, confidence,
                  factors)
    log.info("      frontier (%d settings) and capacity (%d capitals) of %s in %.1f s", len(out.frontier),
             len(out.capacity), outcome.model, time.perf_counter() - t0)
    return out


def runs_frontier(run_dirs: list[Any]) -> pd.DataFrame:
    """The frontier across finished runs (a sweep's points): each run's main strategy's turnover,
    net and gross annual excess, cost drag and alpha (net and gross), from its ``metrics.json``;
    sorted by turnover."""
    import json
    from pathlib import Path

    rows = []
    for d in run_dirs:
        m = json.loads((Path(d) / "metrics.json").read_text(encoding="utf-8"))
        r: dict[str, Any] = next((x for x in m["models"] if x["model"] == m["model"]), {})
        rows.append({"run": Path(d).name, "daily_turnover": r.get("daily_turnover"),
                     "net_excess": r.get("annual_excess_return"), "gross_excess": r.get("gross_annual_excess_return"),
                     "cost_drag": r.get("cost_drag"), "alpha": r.get("alpha"), "alpha_t": r.get("alpha_t"),
                     "gross_alpha": r.get("gross_alpha"), "gross_alpha_t": r.get("gross_alpha_t")})
    return pd.DataFrame(rows).sort_values("daily_turnover", ignore_index=True, na_position="last")

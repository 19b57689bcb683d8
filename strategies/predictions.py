"""The predictions contract of :func:`strategies.run_backtest`, checked in one place.

A predictions table (the contract between ``signals`` and ``strategies``) has one row per
``(date, symbol)`` of ONE model:
``date`` is the decision day (the prediction uses information up to that day's close),
``p_up`` a probability in [0, 1]. :func:`validate_predictions` checks it against the market data
and returns the three columns the backtest reads.
"""

from __future__ import annotations

import pandas as pd

from data_store import MarketData

from .errors import PredictionsError

__all__ = ["validate_predictions"]


def validate_predictions(md: MarketData, predictions: pd.DataFrame) -> pd.DataFrame:
    """Check the predictions contract and return ``date, symbol, p_up`` (dates normalised).

    Raises :class:`PredictionsError` naming the offending rows and the fix.
    """
    if not isinstance(predictions, pd.DataFrame):
        raise PredictionsError(
            f"predictions must be a pandas DataFrame with columns date, symbol, p_up; got {type(predictions).__name__}"
        )
    missing = [c for c in ("date", "symbol", "p_up") if c not in predictions.columns]
    if missing:
        raise PredictionsError(
            f"predictions lack column(s) {missing}; have {list(predictions.columns)}. Pass the "
            f"signals table (date, symbol, p_up), e.g. res.predictions[['date', 'symbol', 'p_up']]"
        )
    if "model" in predictions.columns:
        models = pd.unique(predictions["model"].astype(str))
        if len(models) > 1:
            raise PredictionsError(
                f"predictions hold {len(models)} models {sorted(models)[:6]}; a backtest trades ONE "
                f"model's table: filter by the model column, e.g. preds[preds['model'] == {models[0]!r}]"
            )
    if len(predictions) == 0:
        raise PredictionsError("predictions are empty: nothing to trade")
    p = pd.DataFrame({
        "date": pd.to_datetime(predictions["date"].to_numpy()).normalize(),
        "symbol": predictions["symbol"].astype(str).to_numpy(),
        "p_up": pd.to_numeric(predictions["p_up"], errors="coerce").to_numpy(dtype="float64"),
    })
    dup = p.duplicated(["date", "symbol"], keep=False)
    if dup.any():
        rows = predictions.loc[dup.to_numpy()].head(6)
        hint = ("filter by the `model` column (e.g. preds[preds['model'] == 'lstm'])"
                if "model" in predictions.columns else
                "keep one row per (date, symbol): the table must come from ONE model; "
                "if it mixes models, filter by the `model` column first")
        raise PredictionsError(
            f"predictions have {int(dup.sum())} rows with a repeated (date, symbol); for example:\n"
            f"{rows.to_string()}\nFix: {hint}."
        )
    bad_p = p["p_up"].notna() & ~p["p_up"].between(0.0, 1.0)
    if bad_p.any():
        raise PredictionsError(
            f"{int(bad_p.sum())} p_up value(s) outside [0, 1], e.g. {p.loc[bad_p].head(3).to_dict('records')}; "
            f"p_up is a probability (rank-transform raw scores first, see strategies.scores)"
        )
    off_cal = ~p["date"].isin(md.calendar)
    if off_cal.any():
        ex = sorted({str(d.date()) for d in p.loc[off_cal, "date"].head(5)})
        raise PredictionsError(
            f"{int(off_cal.sum())} prediction row(s) are dated off the trading calendar "
            f"({md.start.date()}..{md.end.date()}), e.g. {ex}: use trading days of md.calendar"
        )
    unknown = sorted(set(p["symbol"].unique()) - set(md.symbols))
    if unknown:
        raise PredictionsError(
            f"{len(unknown)} predicted symbol(s) have no bars in the market data, e.g. {unknown[:5]}: "
            f"drop them or load the data that has them (exchange-prefixed codes like SH600519)"
        )
    return p.sort_values(["date", "symbol"], ignore_index=True)

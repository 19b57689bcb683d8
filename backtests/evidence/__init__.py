"""The evidence behind a verdict, for any predictions table, and the verdict itself.

- :mod:`~backtests.evidence.outcomes`: what each model produced (backtests after and before costs);
- :mod:`~backtests.evidence.forward`: forward returns of each decision day (IC decay, other spans);
- :mod:`~backtests.evidence.quantiles`: the signal on each day's cross-section (alphalens style);
- :mod:`~backtests.evidence.analysis`: pure metric functions of accuracy and returns;
- :mod:`~backtests.evidence.stats`: intervals that respect dependence, HAC alpha, multiple testing;
- :mod:`~backtests.evidence.assess`: all of the above for one model, as the figures of its verdict;
- :mod:`~backtests.evidence.verdict`: what those figures say, in plain words.
"""

"""The tearsheet and how numbers are written.

- :mod:`~backtests.report.tearsheet`: the HTML tearsheet (the toolkit's sections above QuantStats' report);
- :mod:`~backtests.report.charts`: the toolkit's own charts (matplotlib, off-screen);
- :mod:`~backtests.report.qs_adapter`: the one place that talks to QuantStats, and its quirks;
- :mod:`~backtests.report.qs_charts`: the QuantStats charts the toolkit draws itself;
- :mod:`~backtests.report.formatting`: how a number is written in the terminal, tables and tearsheet.
"""

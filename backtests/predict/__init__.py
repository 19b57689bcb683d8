"""``python -m backtests.predict``: from research to tomorrow.

Fits the configured model on the latest walk-forward window the data allow, scores every tradable
member for the next session, and writes the target portfolio and the orders for the next open
(from a book of holdings and cash), beside the model's recent walk-forward record. Modules:

* :mod:`.cli`: the command line (the standard library only until a run starts: ``--help`` at once);
* :mod:`.session`: the exchange calendar: the latest session, the next one, stale data refused;
* :mod:`.holdings`: the book (holdings file and cash), checked;
* :mod:`.latest`: the configuration of the latest window and the fit;
* :mod:`.plan`: targets and orders from the scores and the book, with the strategies' own rule code;
* :mod:`.record`: the walk-forward record beside the list (and the place of the style exposures);
* :mod:`.pipeline`: the whole command, written as a run folder, all or nothing.

Nothing is imported here, so that ``python -m backtests.predict --help`` loads nothing heavy.
"""

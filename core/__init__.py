"""core: the toolkit's ground floor, imported by every layer and importing none of them.

- :mod:`core.settings`: typed settings (default, range, choices, meaning) of every configuration class;
- :mod:`core.errors`: the errors every layer shares (each also a built-in: ``ConfigError`` is a ``ValueError``);
- :mod:`core.atomic`: atomic file writes (temporary file, then rename);
- :mod:`core.lazy`: lazy package exports, so that importing a package costs no heavy library;
- :mod:`core.timing`: the one timing convention (decide after the close of t, fill at the open of t+1);
- :mod:`core.resources`: wall time and peak memory of a command's stages.

It depends on pandas and the standard library only.
"""

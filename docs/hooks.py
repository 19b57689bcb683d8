"""MkDocs hooks of the documentation site: pages that are generated from the code.

The configuration page's table of settings is built from the settings the code declares
(``backtests.config.settings_markdown``), so it can never drift from them.
"""

from __future__ import annotations

from typing import Any

MARKER = "<!-- settings-table: generated from the declared settings when the site is built -->"


def on_page_markdown(markdown: str, page: Any, **_: Any) -> str:
    if MARKER not in markdown:
        return markdown
    from backtests.config import settings_markdown

    return markdown.replace(MARKER, settings_markdown())

"""The README stays true: its settings table is the one the code declares."""

from pathlib import Path

from backtests.config import settings_markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_settings_table_matches_the_declared_settings():
    assert settings_markdown() in README.read_text(encoding="utf-8"), (
        "the README's settings table differs from the declared settings: paste "
        "backtests.config.settings_markdown() into the Configuration section")

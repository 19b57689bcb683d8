"""The front door and the documentation site stay true.

The site is built with warnings as errors (mkdocs ``strict``): a broken link between pages, an
anchor that no longer exists or an API reference to a module that moved fails here. The README
stays a short front door whose links all lead to files of the repository, and nothing in the
repository points outside it.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MAX_README_LINES = 250


def test_the_readme_is_a_short_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move detail into docs/"
    text = "\n".join(lines)
    for heading in ("## Two commands", "## What a run prints", "## Where to read on"):
        assert heading in text, heading


def test_every_link_of_the_readme_leads_to_a_file_of_the_repository():
    text = README.read_text(encoding="utf-8")
    targets = [t.split("#")[0] for t in re.findall(r"\]\(([^)\s]+)\)", text) if not t.startswith("http")]
    assert targets, "the README links to no page"
    missing = [t for t in targets if t and not (ROOT / t).exists()]
    assert missing == []


def test_nothing_points_outside_the_repository():
    out = subprocess.run(["git", "grep", "-n", "-I", "-e", "shared/", "--", ".", ":!tests/test_docs.py"],
                         cwd=ROOT, capture_output=True, text=True)
    if out.returncode not in (0, 1):
        pytest.skip("not a git checkout")
    assert out.stdout == ""


def test_the_configuration_page_is_generated_from_the_declared_settings():
    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import hooks
    finally:
        sys.path.pop(0)
    from backtests.config import settings_markdown

    page = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert hooks.MARKER in page
    assert settings_markdown() in hooks.on_page_markdown(page, page=None)


@pytest.mark.slow
def test_the_site_builds_with_warnings_as_errors(tmp_path):
    mkdocs = shutil.which("mkdocs", path=str(Path(sys.executable).parent)) or shutil.which("mkdocs")
    if mkdocs is None:
        pytest.skip("mkdocs is not installed (bash scripts/setup.sh --dev installs it)")
    proc = subprocess.run([mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")], cwd=ROOT,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    assert (tmp_path / "site" / "configuration" / "index.html").read_text(encoding="utf-8").count("<tr>") > 80

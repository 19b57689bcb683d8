"""The research notebook (examples/research.ipynb) runs from top to bottom on the snapshot, and it is
committed without outputs (what it shows is made by the code, not kept from an old run)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "examples" / "research.ipynb"
nbformat = pytest.importorskip("nbformat", reason="pip install -e .[dev] installs nbformat and nbclient")


def _code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_the_notebook_is_committed_without_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(nb)
    cells = _code_cells(nb)
    assert len(cells) >= 7
    assert [c.execution_count for c in cells] == [None] * len(cells)
    assert all(not c.outputs for c in cells)


@pytest.mark.slow
def test_the_research_notebook_runs():
    from nbclient import NotebookClient

    nb = nbformat.read(NOTEBOOK, as_version=4)
    # a cell that raises stops here with its traceback (nbclient's CellExecutionError)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(ROOT)}}).execute()
    outputs = [o for c in _code_cells(nb) for o in c.outputs]
    text = "\n".join(o.get("text", "") + o.get("data", {}).get("text/plain", "") for o in outputs)
    assert "window 0: train" in text and "window 1: train" in text and "test 2023-12-27..2024-06-28" in text
    for column in ("best_constant_accuracy", "IC 95% low", "capm alpha", "max_drawdown"):
        assert column in text, column
    figures = [o for o in outputs if o.output_type == "display_data" and "image/png" in o.get("data", {})]
    assert len(figures) == 3  # equity, rolling IC, windows: the tearsheet's own charts
    assert "style exposures" in text  # the hook's cell ran

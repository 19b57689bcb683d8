"""Helpers shared by the tutorial-illusion scripts (``tutorial_a_akshare.py``, ``tutorial_b_tushare.py``,
``tutorial_c_bidirectional.py`` and their driver ``tutorial_illusions.py``): the environment line printed
with every table, plain-text and HTML tables, PNG embedding, forward adjustment in memory."""

from __future__ import annotations

import base64
import html
import os
import platform
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

import data_store


def environment(threads: int) -> str:
    """One line: the machine, library versions and thread count the figures were measured with."""
    try:
        load = "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "load average n/a"
    return (f"python {platform.python_version()}, torch {torch.__version__}, numpy {np.__version__}, "
            f"pandas {pd.__version__}; {os.cpu_count()} CPU core(s), torch threads {threads}; {load}")


def set_threads(threads: int) -> None:
    """Fix torch's thread count (results are reproducible for a given count)."""
    torch.set_num_threads(int(threads))


@contextmanager
def timed(store: dict[str, float], name: str) -> Iterator[None]:
    """Record the wall time of the block in ``store[name]`` (seconds)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        store[name] = round(time.perf_counter() - t0, 2)


def forward_adjusted(md: data_store.MarketData, field: str, as_of: pd.Timestamp | None = None,
                     decimals: int | None = 2) -> pd.DataFrame:
    """Forward-adjusted (qfq) prices of ``field``, computed IN MEMORY as a tutorial's vendor would
    serve them on ``as_of`` (default: the last day of ``md``): raw x factor / factor of the stock's
    last bar on or before ``as_of``, rounded to the fen as vendors publish them.

    Forward adjustment rewrites the whole history after every dividend, so these prices are never
    stored and never used by the toolkit itself (it uses back-adjusted prices); they exist here
    only to reproduce a tutorial."""
    raw = md.panel(field)
    factor = md.panel("factor")
    if as_of is not None:
        factor = factor.loc[:as_of]
    last = factor.ffill().iloc[-1]
    qfq = raw * md.panel("factor") / last
    return qfq.round(decimals) if decimals is not None else qfq


def fmt_cell(v: Any, kind: str) -> str:
    if v is None or (isinstance(v, float) and not np.isfinite(v)):
        return "—"
    if kind == "pct":
        return f"{100 * float(v):.1f}%"
    if kind == "f3":
        return f"{float(v):.3f}"
    if kind == "sf3":
        return f"{float(v):+.3f}"
    if kind == "spct":
        return f"{100 * float(v):+.1f}%"
    if kind == "int":
        return f"{int(v):,}"
    return str(v)


def text_table(rows: pd.DataFrame, columns: Sequence[tuple[str, str, str]]) -> str:
    """A fixed-width table of ``rows``; ``columns``: (column, header, kind) with kind in
    pct, f3, sf3, spct, int, str."""
    cells = [[fmt_cell(r[c], k) for c, _, k in columns] for _, r in rows.iterrows()]
    heads = [h for _, h, _ in columns]
    widths = [max(len(h), *(len(c[i]) for c in cells)) if cells else len(h) for i, h in enumerate(heads)]
    left = {i for i, (_, _, k) in enumerate(columns) if k == "str"}

    def line(vals: Sequence[str]) -> str:
        pairs = enumerate(zip(vals, widths, strict=True))
        return "  ".join(v.ljust(w) if i in left else v.rjust(w) for i, (v, w) in pairs)

    return "\n".join([line(heads), "-" * len(line(heads)), *(line(c) for c in cells)])


def markdown_table(rows: pd.DataFrame, columns: Sequence[tuple[str, str, str]]) -> str:
    """The same table in GitHub markdown (for the README)."""
    out = ["| " + " | ".join(h for _, h, _ in columns) + " |",
           "| " + " | ".join("---" if k == "str" else "---:" for _, _, k in columns) + " |"]
    for _, r in rows.iterrows():
        out.append("| " + " | ".join(fmt_cell(r[c], k) for c, _, k in columns) + " |")
    return "\n".join(out)


def html_table(rows: pd.DataFrame, columns: Sequence[tuple[str, str, str]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for _, h, _ in columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(fmt_cell(r[c], k))}</td>" for c, _, k in columns) + "</tr>"
                   for _, r in rows.iterrows())
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def png_tag(path: Path) -> str:
    """An <img> with the PNG embedded (the page is one self-contained file)."""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(Path(path).stem)}" src="data:image/png;base64,{data}">'


PAGE_CSS = """<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;line-height:1.4}
table{border-collapse:collapse;margin:1em 0;font-size:90%}td,th{border:1px solid #ccc;padding:3px 7px}
td{text-align:right}td:first-child,td:nth-child(2){text-align:left}img{max-width:100%}
pre{background:#f6f6f2;padding:8px;white-space:pre-wrap}</style>"""


def write_page(path: Path, title: str, sections: Sequence[str]) -> Path:
    """A small self-contained HTML page."""
    body = "\n".join(sections)
    path.write_text(f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
                    f"{PAGE_CSS}</head><body><h1>{html.escape(title)}</h1>\n{body}\n</body></html>", encoding="utf-8")
    return path

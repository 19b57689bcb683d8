"""The tutorials' illusions, reproduced on the real CSI-300 data and corrected one fault at a time.

Runs the three protocols (each also runs on its own, with more options):
  A  ``tutorial_a_akshare.py``        the AKShare tutorial's "0.72 accuracy" (daily up/down, many stocks)
  B  ``tutorial_b_tushare.py``        the tushare tutorial's price regression and its chart
  C  ``tutorial_c_bidirectional.py``  the bidirectional LSTM of the model-variants guides vs the audit
prints each protocol's table and writes one self-contained HTML page (``report.html``) with the PNG
charts, plus every table as CSV, into OUT.

    python examples/tutorial_illusions.py                         # all three: ~3 minutes on 2 cores
    python examples/tutorial_illusions.py --protocols A           # one of them
    python examples/tutorial_illusions.py --quick --out /tmp/ill  # small arguments (what the tests run)
"""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--protocols", default="A,B,C", help="comma-separated subset of A, B, C")
    p.add_argument("--out", default="runs/tutorial-illusions", help="folder for report.html, PNGs and tables")
    p.add_argument("--quick", action="store_true", help="small arguments for every protocol (seconds; the tests)")
    p.add_argument("--threads", type=int, default=1, help="torch threads")
    return p


if __name__ == "__main__":  # --help and a bad option answer here, before the heavy imports below
    build_parser().parse_args()

import tutorial_a_akshare as proto_a
import tutorial_b_tushare as proto_b
import tutorial_c_bidirectional as proto_c
from tutorial_common import environment, html_table, png_tag, write_page

import data_store

#: the small arguments of ``--quick`` (each protocol in seconds; for the tests)
QUICK = {
    "A": ["--max-stocks", "60", "--epochs", "30", "--seeds", "1", "--rolling", "3", "--toolkit-epochs", "1",
          "--k", "10"],
    "B": ["--epochs", "20"],
    "C": ["--n-symbols", "10", "--epochs", "4", "--batch", "32", "--start", "2021-01-01", "--test-start", "2022-01-01",
          "--end", "2022-06-30", "--train-days", "150", "--val-days", "20", "--test-days", "60"],
}


def _args(module: Any, extra: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser()
    module.add_args(p)
    return p.parse_args(extra)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = build_parser()
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s", datefmt="%H:%M:%S")
    wanted = [x.strip().upper() for x in args.protocols.split(",") if x.strip()]
    bad = sorted(set(wanted) - {"A", "B", "C"})
    if bad:
        p.error(f"--protocols: unknown protocol(s) {bad}; choose from A, B, C")
    out = Path(args.out)
    t0 = time.perf_counter()
    md = data_store.load(use_cache=False)
    results: dict[str, Any] = {}
    sections = [f"<p>{environment(args.threads)}{' (quick mode: small arguments)' if args.quick else ''}</p>"]
    threads = ["--threads", str(args.threads)]
    if "A" in wanted:
        a_args = _args(proto_a, (QUICK["A"] if args.quick else []) + threads)
        ta = time.perf_counter()
        res_a = proto_a.run_from_args(a_args, md)
        res_a.timings["total"] = round(time.perf_counter() - ta, 1)
        files = proto_a.write_outputs(res_a, out, args.threads)
        text = proto_a.report_text(res_a, args.threads)
        print(text, end="\n\n")
        sections += ["<h2>Protocol A: the AKShare tutorial's one-day accuracy</h2>", png_tag(files["png"]),
                     html_table(res_a.steps, proto_a.STEP_COLUMNS), f"<pre>{_esc(text)}</pre>"]
        results["A"] = res_a
    if "B" in wanted:
        res_b = proto_b.run_from_args(_args(proto_b, (QUICK["B"] if args.quick else []) + threads), md)
        files = proto_b.write_outputs(res_b, out, args.threads)
        text = proto_b.report_text(res_b, args.threads)
        print(text, end="\n\n")
        sections += ["<h2>Protocol B: the tushare tutorial's price regression</h2>", png_tag(files["png"]),
                     html_table(proto_b.figures_table(res_b.figures), proto_b.TABLE_COLUMNS),
                     f"<pre>{_esc(text)}</pre>"]
        results["B"] = res_b
    if "C" in wanted:
        res_c = proto_c.run_from_args(_args(proto_c, (QUICK["C"] if args.quick else []) + threads), md)
        files = proto_c.write_outputs(res_c, out, args.threads)
        text = proto_c.report_text(res_c, args.threads)
        print(text, end="\n\n")
        cols = [c for c in proto_c.TABLE_COLUMNS if c[0] in res_c.table]
        sections += ["<h2>Protocol C: the bidirectional LSTM and the leakage audit</h2>", png_tag(files["png"]),
                     html_table(res_c.table, cols), f"<pre>{_esc(text)}</pre>"]
        results["C"] = res_c
    total = time.perf_counter() - t0
    sections.append(f"<p>Total wall time {total:.0f} s.</p>")
    page = write_page(out / "report.html", "The tutorials' illusions on the real CSI-300 data", sections)
    print(f"finished in {total:.0f} s; open {page}")
    results["page"] = page
    return results


def _esc(text: str) -> str:
    import html

    return html.escape(text)


if __name__ == "__main__":
    main()

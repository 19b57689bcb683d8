"""What a chart of the tearsheet draws, read from its inline SVG (QuantStats' charts are SVGs that
matplotlib writes with each text as a comment and each plotted series as a clipped path)."""

import re

_CLIPPED = re.compile(r"<path [^>]*?d=\"([^\"]*)\"[^>]*clip-path=|<path [^>]*clip-path=[^>]*?d=\"([^\"]*)\"")


def svgs(html):
    """Every inline SVG of ``html``."""
    return re.findall(r"<svg\b.*?</svg>", html, re.S)


def series_lengths(svg):
    """Vertices of each path drawn inside the axes (a line of n points has n; grid lines have 2)."""
    return [len(re.findall(r"[ML]", a or b)) for a, b in _CLIPPED.findall(svg)]


def chart_problems(html, years):
    """(position, title, what) of every SVG chart of ``html`` that plots no data (no image and no
    path of 3 or more points inside its axes) or dates its axis in a year outside ``years``."""
    out = []
    for k, svg in enumerate(svgs(html)):
        texts = re.findall(r"<!-- ([^>]*?) -->", svg)
        title = texts[-1] if texts else "?"
        if "<image" not in svg and not any(v >= 3 for v in series_lengths(svg)):
            out.append((k, title, "no data"))
        off = sorted({y for y in re.findall(r"<!-- (\d{4})(?:-\d\d){0,2} -->", svg) if int(y) not in years})
        if off:
            out.append((k, title, f"axis dated {off[0]}..{off[-1]}"))
    return out

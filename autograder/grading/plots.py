"""Pictures for the HTML pages, all inline (no file, no network): SVG heatmaps and matplotlib histograms.

Heatmaps are drawn as SVG here (one ``<rect>`` and one value per cell: crisp, searchable, and
fast enough for hundreds of feedback pages). Histograms use matplotlib's Agg backend and are
embedded as ``data:image/png;base64`` images.
"""

from __future__ import annotations

import base64
import io
import math
import threading
from collections.abc import Sequence
from html import escape

CELL = 46  # px per heatmap cell
LABEL = 52  # px for the row labels


def _colour(value: float, low: float, high: float) -> str:
    """A white-to-blue scale; NaN grey, infinities dark red."""
    if math.isnan(value):
        return "#bbbbbb"
    if math.isinf(value):
        return "#7f1d1d"
    share = 0.0 if high <= low else min(1.0, max(0.0, (value - low) / (high - low)))
    start, end = (247, 251, 255), (8, 69, 148)
    red, green, blue = (round(a + (b - a) * share) for a, b in zip(start, end, strict=True))
    return f"#{red:02x}{green:02x}{blue:02x}"


def _text(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "-inf" if value < 0 else "inf"
    return f"{value:.2f}"


def heatmap_svg(matrix: Sequence[Sequence[float]], rows: Sequence[str], columns: Sequence[str], *,
                low: float | None = None, high: float | None = None, label: str = "") -> str:
    """An inline ``<svg>`` of ``matrix`` (len(rows), len(columns)), each cell coloured and showing its value.

    ``low``/``high`` fix the colour scale (so two heatmaps side by side share it); by default the
    finite values' range.
    """
    finite = [v for row in matrix for v in row if math.isfinite(v)]
    low = min(finite, default=0.0) if low is None else low
    high = max(finite, default=1.0) if high is None else high
    top = 22
    width = LABEL + CELL * len(columns) + 4
    height = top + CELL * len(rows) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
             f"<title>{escape(label)}</title>"]
    for j, name in enumerate(columns):
        x = LABEL + CELL * j + CELL / 2
        parts.append(f'<text x="{x:.0f}" y="{top - 7}" text-anchor="middle">{escape(name)}</text>')
    for i, (name, row) in enumerate(zip(rows, matrix, strict=True)):
        y = top + CELL * i
        parts.append(f'<text x="{LABEL - 4}" y="{y + CELL / 2 + 4:.0f}" text-anchor="end">{escape(name)}</text>')
        for j, value in enumerate(row):
            fill = _colour(value, low, high)
            dark = fill in ("#7f1d1d",) or (math.isfinite(value) and high > low and (value - low) / (high - low) > .55)
            x = LABEL + CELL * j
            parts.append(f'<rect x="{x}" y="{y}" width="{CELL - 1}" height="{CELL - 1}" fill="{fill}"/>'
                         f'<text x="{x + CELL / 2:.0f}" y="{y + CELL / 2 + 4:.0f}" text-anchor="middle" '
                         f'fill="{"#ffffff" if dark else "#111111"}">{_text(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def prewarm() -> threading.Thread:
    """Import matplotlib (Agg) in a background thread while submissions are graded.

    The grader mostly waits on its sandboxed children meanwhile, so the ~0.4 s import overlaps
    with that wait instead of adding to the run (a lone submission grades in about half a second).
    """
    def load() -> None:
        import matplotlib

        matplotlib.use("Agg", force=True)
        import matplotlib.figure  # noqa: F401 - the import is the point

    thread = threading.Thread(target=load, name="matplotlib-prewarm", daemon=True)
    thread.start()
    return thread


def histogram_png(values: Sequence[float], *, bins: Sequence[float] | int, title: str, xlabel: str,
                  width: float = 6.0, height: float = 2.6) -> str:
    """A histogram as a ``data:image/png;base64,...`` URI (matplotlib, Agg backend)."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    axes = figure.add_subplot()
    axes.hist(list(values), bins=bins, color="#2b6cb0", edgecolor="white")
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel, fontsize=9)
    axes.set_ylabel("submissions", fontsize=9)
    axes.yaxis.get_major_locator().set_params(integer=True)
    axes.tick_params(labelsize=8)
    figure.subplots_adjust(left=0.1, right=0.97, bottom=0.2, top=0.88)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def small_histograms_png(panels: Sequence[tuple[str, Sequence[float], float]], *, columns: int = 4,
                         panel_width: float = 2.5, panel_height: float = 1.7) -> str:
    """One figure of small histograms, ``(title, values, maximum)`` each, 5 bins from 0 to ``maximum``; x: points.

    One figure for all the steps: a single render (a figure per step costs ~0.4 s each).
    """
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    rows = max(1, math.ceil(len(panels) / columns))
    figure = Figure(figsize=(panel_width * columns, panel_height * rows), dpi=100)
    for index, (title, values, maximum) in enumerate(panels):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.hist(list(values), bins=score_bins(maximum, 5), color="#2b6cb0", edgecolor="white")
        axes.set_title(title, fontsize=8)
        axes.set_xlabel("points scored", fontsize=7)
        axes.yaxis.get_major_locator().set_params(integer=True)
        axes.tick_params(labelsize=7)
    figure.supylabel("submissions", fontsize=8)
    height = panel_height * rows  # fixed margins below: tight_layout would draw the figure twice
    figure.subplots_adjust(left=0.06, right=0.98, bottom=0.65 / height, top=1 - 0.35 / height, wspace=0.25,
                           hspace=1.25)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def score_bins(maximum: float, count: int = 10) -> list[float]:
    """``count`` equal bins from 0 to ``maximum`` (one bin when the maximum is 0)."""
    if maximum <= 0:
        return [0.0, 1.0]
    return [maximum * i / count for i in range(count + 1)]

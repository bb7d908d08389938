"""Learner text made inert wherever the grader writes it: CSV cells, markdown, the terminal.

Folder and file names, roster fields, exception messages and printed output are text learners
control. HTML pages escape it with `html.escape`; every other output goes through here.

**CSV** (every CSV file the grader writes: grades.csv, lms_grades.csv, mistakes.csv). A text
cell that begins with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel,
LibreOffice and Google Sheets as a formula (``=HYPERLINK(...)``, ``@SUM(...)``). As OWASP
recommends for CSV injection, such a cell gets a single quote in front (shown, never evaluated);
the csv module quotes embedded quotes and separators. A number stays a number: ``-1.5`` or
``2e-3`` is written as it is.

**Markdown** (Gradescope's ``output``): learner text in a fenced block whose fence is longer than
any run of backticks in it, and outside blocks with its markup escaped (`markdown_text`).

**Terminal**: control characters shown escaped, rich's markup escaped (`terminal_text`).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
INERT_PREFIX = "'"
_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def inert_cell(value: object) -> str:
    """``value`` as a CSV cell that no spreadsheet evaluates (numbers unchanged)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(text):
        return INERT_PREFIX + text
    return text


def cell_value(cell: str) -> str:
    """The text `inert_cell` made ``cell`` from (a CSV cell read back: ``'=x`` -> ``=x``)."""
    rest = cell[len(INERT_PREFIX):]
    if cell.startswith(INERT_PREFIX) and rest.startswith(FORMULA_STARTS) and not _NUMBER.fullmatch(rest):
        return rest
    return cell


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """The CSV file holding ``rows`` (``\\n`` line ends), every cell through `inert_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([inert_cell(cell) for cell in row])
    return buffer.getvalue()


# -- markdown (Gradescope's results.json) ---------------------------------------------------------------

# Marks that open code, emphasis, links or HTML anywhere in a line; ``_`` only at a word's edge (``d_k`` is text).
_MARKDOWN_INLINE = re.compile(r"[\\`*\[\]<>~]|(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_MARKDOWN_LINE_START = re.compile(r"^(\s*)([#+=-]|\d+(?=[.)]))")


def markdown_text(text: str) -> str:
    """``text`` as literal markdown inline text: line breaks as spaces, every mark that could open code,
    emphasis, a link or HTML backslash-escaped, and so is a heading or list marker at its start."""
    flat = shown_text(" ".join(text.splitlines()))
    flat = _MARKDOWN_INLINE.sub(lambda match: "\\" + match.group(0), flat)
    match = _MARKDOWN_LINE_START.match(flat)
    if match is None:
        return flat
    if match.group(2).isdigit():  # "1. item": the full stop is the marker
        end = match.end()
        return flat[:end] + "\\" + flat[end:]
    return flat[:match.start(2)] + "\\" + flat[match.start(2):]


def markdown_block(text: str) -> str:
    """``text`` in a fenced code block whose fence is longer than any run of backticks inside it."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}\n{text}\n{fence}"


# -- the terminal ---------------------------------------------------------------------------------------


def shown_text(text: str) -> str:
    """``text`` with control characters (escape sequences, carriage returns, ...) and undecodable bytes of a
    file name shown escaped (``\\x1b``), so that printing it moves no cursor and sets no colour."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch == " " else ch.encode("unicode_escape",
                                                                        "backslashreplace").decode("ascii")
                   for ch in text)


def shown_name(name: str) -> str:
    """A file name as text: bytes that are not UTF-8 (a name from another system) as ``\\xe9``, so that
    every file the grader writes can hold it."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def terminal_text(text: str) -> str:
    """`shown_text` with rich's markup escaped too (``[bold]`` is printed, not applied)."""
    from rich.markup import escape

    return escape(shown_text(text))

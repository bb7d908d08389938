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


def csv_text(rows: Iterable[Iterable[object]]) -> str:
    """The CSV file holding ``rows`` (``\\n`` line ends), every cell through `inert_cell`."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    for row in rows:
        writer.writerow([inert_cell(cell) for cell in row])
    return buffer.getvalue()


# -- markdown (Gradescope's results.json) ---------------------------------------------------------------

_MARKDOWN_SPECIAL = re.compile(r"[\\`*_{}\[\]<>#+\-!|~&]")


def markdown_text(text: str) -> str:
    """``text`` as literal markdown inline text: line breaks as spaces, and every mark that could open a block,
    a link, emphasis, code or HTML backslash-escaped (CommonMark allows it for any ASCII punctuation)."""
    flat = shown_text(" ".join(text.splitlines()))
    flat = _MARKDOWN_SPECIAL.sub(lambda match: "\\" + match.group(0), flat)
    return re.sub(r"^(\d+)([.)])", r"\1\\\2", flat)


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

"""``DIR/grades.csv`` across runs: grading a subset into an existing output folder keeps the other rows.

`merge_grades` takes the rows of this run (`report.grades_csv`) and the file already in the output
folder. Rows of submissions graded now replace their old rows in place; new submissions are
appended; every other row is kept as it was (the roster's columns, which ``--roster`` writes
after the merge, are dropped from the old file first). A file with other columns (another course version)
or one that cannot be read is never merged into nor lost: it is moved aside to a backup that
never overwrites an earlier one, and the summary line says where.
"""

from __future__ import annotations

import csv
import io
import os
from dataclasses import dataclass
from pathlib import Path

from .inert import csv_text
from .roster import ROSTER_COLUMNS


@dataclass
class Merged:
    text: str  # the new grades.csv
    message: str  # one line for the terminal


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def backup_path(path: Path) -> Path:
    """``grades.previous.csv`` beside ``path``, or ``grades.previous-N.csv``: never an existing file."""
    candidate = path.with_name(f"{path.stem}.previous{path.suffix}")
    number = 2
    while os.path.lexists(candidate):
        candidate = path.with_name(f"{path.stem}.previous-{number}{path.suffix}")
        number += 1
    return candidate


def merge_grades(path: Path, new_text: str) -> Merged:
    """The grades.csv to write at ``path`` given this run's rows ``new_text`` (header included)."""
    header, *rows = _rows(new_text)
    if not os.path.lexists(path):
        return Merged(new_text, f"{path}: {_count(len(rows))} written")
    try:
        old = _rows(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        old, problem = [], f"could not be read ({type(error).__name__})"
    else:
        if old and old[0][len(header):] == list(ROSTER_COLUMNS) and old[0][:len(header)] == header:
            old = [row[:len(header)] for row in old]  # an earlier run's roster columns: --roster adds them again
        problem = None if old and old[0] == header else _difference(old[0] if old else [], header)
    if problem is not None:
        backup = backup_path(path)
        os.replace(path, backup)
        return Merged(new_text, f"{path} {problem}: it was kept as {backup}, and {path.name} now holds only "
                                f"this run's {_count(len(rows))}")
    graded = {row[0]: row for row in rows}
    merged, updated, kept = [header], 0, 0
    for row in old[1:]:
        if not row:
            continue
        if row[0] in graded:
            merged.append(graded.pop(row[0]))
            updated += 1
        else:
            merged.append(row)
            kept += 1
    added = [row for row in rows if row[0] in graded]
    merged += added
    message = f"{path}: updated {_count(updated)}, kept {kept}"
    if added:
        message += f", added {len(added)}"
    return Merged(csv_text(merged), message)


def _difference(old: list[str], new: list[str]) -> str:
    if not old:
        return "is empty or has no header"
    there, here = [c for c in old if c not in new], [c for c in new if c not in old]
    detail = "; ".join(part for part in (f"only there: {', '.join(there)}" if there else "",
                                         f"not there: {', '.join(here)}" if here else "") if part)
    return f"has other columns than this course's ({detail or 'another order'}; another course version?)"


def _count(rows: int) -> str:
    return f"{rows} row" + ("" if rows == 1 else "s")

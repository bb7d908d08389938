"""Which course a grade was given under, so that a folder of grades never mixes two courses.

`course_fingerprint` is a short hash of what a score means: the course version, every step's id and
points, and every concept question's step and points. Each ``results.json`` records it
(``extra_data.course_fingerprint``, `autograder.grading.report.results_json`). Before a regrade
writes into a folder that already holds grades, `check_regrade` compares the rows the run would
keep (those it does not regrade) with the course of this run: a row graded under another version
or other points makes the command refuse, in one line, offering ``--regrade-all`` (which keeps the
old ``grades.csv`` aside and starts the folder's table afresh), so ``grades.csv``, the class report
and the LMS file never mix rows whose points mean different things.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Iterable
from pathlib import Path

from ..course import Course
from ..errors import UsageError
from ..hidden.questions import questions_of
from .inert import cell_value


def course_fingerprint(course: Course) -> str:
    """12 hex digits naming the course version and its points (steps and concept questions)."""
    described = {
        "version": course.version,
        "steps": [[s.id, s.points] for s in course.steps],
        "questions": [[q.name, q.step, q.points] for s in course.steps for q in questions_of(s.id)],
    }
    return hashlib.sha256(json.dumps(described, sort_keys=True).encode()).hexdigest()[:12]


def recorded_fingerprint(results_file: Path) -> tuple[str, str] | None:
    """(fingerprint, course version) a ``results.json`` records; None when it is missing or records none."""
    try:
        data = json.loads(results_file.read_text(encoding="utf-8"))
        extra = data["extra_data"]
        return str(extra["course_fingerprint"]), str(extra.get("course_version", "?"))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def grades_rows(path: Path) -> list[dict[str, str]]:
    """The rows of a ``grades.csv`` (header keys), cells as they were before `inert.inert_cell`;
    [] when there is none or it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    try:
        return [{key: cell_value(value) if isinstance(value, str) else value for key, value in row.items()}
                for row in csv.DictReader(io.StringIO(text)) if row.get("submission")]
    except csv.Error:
        return []


def mismatches(out_dir: Path, course: Course, names: Iterable[str]) -> list[str]:
    """The rows of ``out_dir/grades.csv`` graded under another course than ``course``: one phrase each.

    A row is checked by its ``results.json`` (its fingerprint); a row without one (an older grader)
    by its ``max_score`` and by whether ``grades.csv`` has this course's step columns.
    """
    rows = grades_rows(out_dir / "grades.csv")
    if not rows:
        return []
    mine = course_fingerprint(course)
    header = list(rows[0])
    steps_match = header[3:3 + len(course.steps)] == course.step_ids
    found = []
    for row in rows:
        name = row["submission"]
        if name in names:
            continue
        recorded = recorded_fingerprint(out_dir / name / "results.json") if _plain_name(name) else None
        if recorded is not None:
            if recorded[0] != mine:
                found.append(f"{printable(name)} (course version {printable(recorded[1])}, fingerprint "
                             f"{printable(recorded[0])})")
        elif not steps_match or _number(row.get("max_score")) != course.max_score:
            found.append(f"{printable(name)} (max_score {printable(str(row.get('max_score')))}, steps "
                         f"{printable(', '.join(header[3:])) or 'none'})")
    return found


def check_regrade(out_dir: Path, course: Course, names: Iterable[str], *, regrade_all: bool) -> str | None:
    """Refuse (`UsageError`, one line) a run that would keep rows of another course; a note with ``regrade_all``.

    ``names``: the submissions this run grades (their rows are replaced, so they never mix).
    """
    other = mismatches(out_dir, course, set(names))
    if not other:
        return None
    shown = ", ".join(other[:3]) + (f" and {len(other) - 3} more" if len(other) > 3 else "")
    if not regrade_all:
        raise UsageError(
            f"{out_dir} holds grades given under another course version or other points ({shown}), and this "
            f"course is version {course.version} (fingerprint {course_fingerprint(course)}, "
            f"{course.max_score:g} points): "
            "grade every submission again with --regrade-all (the old grades.csv is kept aside), or use another --out")
    return f"--regrade-all: {len(other)} row(s) graded under another course are left out of {out_dir}/grades.csv"


def printable(text: str) -> str:
    """``text`` for a one-line message: as it is when printable, else escaped (a folder name may hold a newline)."""
    return text if text.isprintable() else repr(text)[1:-1]


def _plain_name(name: str) -> bool:
    return bool(name) and name not in (".", "..") and os.sep not in name and "/" not in name


def _number(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None

"""``--roster roster.csv``: who each submission folder belongs to, and the hand-off to an LMS.

The roster is a CSV with a header row and the columns ``submission`` (the folder name, as in
grades.csv), ``student_id``, ``name`` and ``email`` (other columns are ignored). With it, a grade
run

- appends ``student_id``, ``name``, ``email`` to every row of ``DIR/grades.csv``, after the
  columns SPEC.md fixes (``submission``, ``score``, ``max_score``, one per step), so tools
  reading grades.csv by position keep working;
- writes ``DIR/lms_grades.csv`` in the Canvas gradebook import format (``Student``, ``ID``,
  ``SIS User ID``, ``SIS Login ID``, ``Section``, then one assignment column; a ``Points
  Possible`` row first), which Moodle's CSV grade import also reads (map ``SIS Login ID`` to
  the email identifier). Scores there are rounded to ``course.yml``'s ``score_decimals``
  (default 2); grades.csv keeps them exact. Everyone on the roster gets a row; a student with
  no graded submission gets an empty score, not a 0.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from ..course import Course
from ..errors import UsageError
from .inert import csv_text, inert_cell

REQUIRED = ("submission", "student_id", "name", "email")
ROSTER_COLUMNS = ("student_id", "name", "email")
CANVAS_COLUMNS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")


class RosterError(Exception):
    """The roster cannot be used. ``str()`` is one line naming the file and the problem."""


@dataclass(frozen=True)
class Student:
    submission: str
    student_id: str
    name: str
    email: str


def roster_or_usage_error(path: Path | str) -> dict[str, Student]:
    """`load_roster`, a bad roster being one line (`UsageError`, exit 2) for the commands."""
    try:
        return load_roster(path)
    except RosterError as error:
        raise UsageError(str(error)) from None


def load_roster(path: Path | str) -> dict[str, Student]:
    """Folder name -> student; raises `RosterError` for a missing file, a missing column, a repeated folder."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise RosterError(f"{path}: roster file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise RosterError(f"{path}: cannot read the roster ({error})") from None
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if missing:
        raise RosterError(f"{path}: the roster needs the columns {', '.join(REQUIRED)} "
                          f"(missing: {', '.join(missing)})")
    students: dict[str, Student] = {}
    for line, row in enumerate(reader, start=2):
        fields = {k.strip().lower(): (v or "").strip() for k, v in row.items() if k is not None}
        folder = fields["submission"]
        if not folder:
            raise RosterError(f"{path}: line {line}: empty submission folder name")
        if folder in students:
            raise RosterError(f"{path}: line {line}: submission {folder!r} appears twice")
        students[folder] = Student(folder, fields["student_id"], fields["name"], fields["email"])
    return students


def with_roster_columns(grades_csv: str, roster: dict[str, Student]) -> tuple[str, list[str]]:
    """grades.csv with ``student_id, name, email`` appended, and the submissions the roster does not know."""
    rows = list(csv.reader(io.StringIO(grades_csv)))
    if not rows:
        return grades_csv, []
    header = rows[0]
    if header[-len(ROSTER_COLUMNS):] == list(ROSTER_COLUMNS):  # written by an earlier run with a roster
        keep = len(header) - len(ROSTER_COLUMNS)
        rows = [row[:keep] for row in rows]
    by_cell = {inert_cell(folder): student for folder, student in roster.items()}  # grades.csv holds inert names
    unknown = [row[0] for row in rows[1:] if row and row[0] not in by_cell]
    written: list[list[str]] = [[*rows[0], *ROSTER_COLUMNS]]
    for row in rows[1:]:
        student = by_cell.get(row[0])
        written.append([*row, *((student.student_id, student.name, student.email) if student else ("", "", ""))])
    return csv_text(written), unknown


def lms_csv(grades_csv: str, roster: dict[str, Student], course: Course, assignment: str | None = None) -> str:
    """The Canvas gradebook import file: one row per student on the roster, the score rounded per course.yml."""
    rows = list(csv.DictReader(io.StringIO(grades_csv)))
    scores = {row["submission"]: row["score"] for row in rows}
    column = assignment or course.title
    decimals = course.score_decimals
    written: list[list[str]] = [[*CANVAS_COLUMNS, column],
                                ["Points Possible", "", "", "", "", _rounded(course.max_score, decimals)]]
    for folder, student in roster.items():
        score = scores.get(inert_cell(folder))
        written.append([student.name, "", student.student_id, student.email, "",
                        "" if score in (None, "") else _rounded(float(score), decimals)])
    return csv_text(written)


def _rounded(value: float, decimals: int) -> str:
    text = f"{round(value, decimals):.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def write_lms_files(out_dir: Path, roster: dict[str, Student], course: Course) -> list[str]:
    """Add the roster's columns to ``DIR/grades.csv`` and write ``DIR/lms_grades.csv``; returns unknown folders."""
    from .report import write_atomic

    grades = (out_dir / "grades.csv").read_text(encoding="utf-8")
    text, unknown = with_roster_columns(grades, roster)
    write_atomic(out_dir / "grades.csv", text)
    write_atomic(out_dir / "lms_grades.csv", lms_csv(grades, roster, course))
    return unknown

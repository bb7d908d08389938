"""``python -m autograder report DIR [DIR ...] --out OUT [--roster CSV]``: the class files, rebuilt without grading.

A folder written by ``grade`` holds ``grades.csv`` and, per row, ``<submission>/results.json``.
From the rows of every ``DIR/grades.csv`` and their ``results.json`` (`report.result_from_json`),
this writes into ``OUT``: ``grades.csv``, ``report.html``, ``mistakes.csv`` and, with a roster,
the roster columns and ``lms_grades.csv``; each submission's folder is copied along when ``OUT``
is another folder. So a class report always covers the whole class, after a one-student regrade
too (``grade`` calls `class_results` itself), and several folders (say, the shards of one batch)
merge into one. Nothing is graded and no learner code runs.

Refused in one line (exit 2): a folder without ``grades.csv``, a row without a readable
``results.json``, a submission in two folders, or a row graded under another course version or
other points than the course given (`course_version.course_fingerprint`): one table never mixes them.
Without ``--roster``, the roster columns the folders' ``grades.csv`` already hold are used.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..errors import UsageError
from .course_version import course_fingerprint, grades_rows, printable
from .engine import SubmissionResult
from .roster import ROSTER_COLUMNS, Student, roster_or_usage_error


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folders", nargs="+", metavar="DIR", help="output folders of `grade` (shards, sections, ...)")
    parser.add_argument("--out", required=True, metavar="OUT", help="where to write (may be one of the DIRs)")
    parser.add_argument("--course", default=None, metavar="FILE", help="course file (default: course.yml)")
    parser.add_argument("--roster", default=None, metavar="CSV",
                        help="roster (submission, student_id, name, email): roster columns and lms_grades.csv")


def load_row(folder: Path, name: str, course_print: str) -> SubmissionResult:
    """The result of row ``name`` of ``folder/grades.csv``, from its ``results.json``; `UsageError` when unusable."""
    from .report import result_from_json

    path = folder / name / "results.json"
    if not name or "/" in name or name in (".", ".."):
        raise UsageError(f"{folder}/grades.csv: a row names no usable submission folder ({printable(name)})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        result = result_from_json(name, data)
        recorded = str(data["extra_data"].get("course_fingerprint", "none"))
        version = str(data["extra_data"].get("course_version", "?"))
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise UsageError(f"{printable(str(path))} is missing or was not written by this grader "
                         f"({type(error).__name__}); grade {printable(name)} into {folder} again") from None
    if recorded != course_print:
        raise UsageError(f"{printable(str(path))} was graded under course version {printable(version)} (fingerprint "
                         f"{printable(recorded)}), not this course ({course_print}): pass --course with the course "
                         "it was graded under, or regrade it")
    return result


def class_results(folder: Path, course, graded: Mapping[str, SubmissionResult] | None = None,  # noqa: ANN001
                  ) -> tuple[list[SubmissionResult], list[str]]:
    """Every row of ``folder/grades.csv`` as a result (``graded``: results in memory, by name), and the rows
    whose ``results.json`` could not be used (left out, with the reason)."""
    graded = graded or {}
    course_print = course_fingerprint(course)
    results, problems = [], []
    for row in grades_rows(folder / "grades.csv"):
        name = row["submission"]
        if name in graded:
            results.append(graded[name])
            continue
        try:
            results.append(load_row(folder, name, course_print))
        except UsageError as error:
            problems.append(str(error))
    return results, problems


def roster_from_rows(folders: Sequence[Path]) -> dict[str, Student]:
    """The roster the folders' ``grades.csv`` columns hold (``student_id``, ``name``, ``email``), if any."""
    students = {}
    for folder in folders:
        for row in grades_rows(folder / "grades.csv"):
            if all(column in row for column in ROSTER_COLUMNS) and any(row[c] for c in ROSTER_COLUMNS):
                students[row["submission"]] = Student(row["submission"], row["student_id"], row["name"], row["email"])
    return students


def seeds_of(results: Sequence[SubmissionResult]) -> int | str:
    """The seed of the rows, or every seed when they differ (a regrade with another seed)."""
    seeds = sorted({r.seed for r in results})
    return seeds[0] if len(seeds) == 1 else ", ".join(map(str, seeds))


def write_class_files(out_dir: Path, results: list[SubmissionResult], course,  # noqa: ANN001
                      students: Mapping[str, str] | None = None) -> None:
    """``report.html`` and ``mistakes.csv`` for ``results`` (every row of the folder's grades.csv;
    ``students``: the roster's names by submission)."""
    from . import class_report

    class_report.write_class_report(out_dir, results, course, seed=seeds_of(results),  # type: ignore[arg-type]
                                    students=students)


def run(args: argparse.Namespace) -> int:
    from ..course import COURSE_FILE, load_course
    from . import report

    course = load_course(args.course or COURSE_FILE, package_dir=None)
    folders = [Path(f) for f in args.folders]
    out_dir = Path(args.out)
    course_print = course_fingerprint(course)
    results: list[SubmissionResult] = []
    found_in: dict[str, Path] = {}
    for folder in folders:
        if not (folder / "grades.csv").is_file():
            raise UsageError(f"{folder}: no grades.csv (not a folder `python -m autograder grade` wrote)")
        for row in grades_rows(folder / "grades.csv"):
            name = row["submission"]
            if name in found_in:
                raise UsageError(f"{printable(name)} is in both {found_in[name]} and {folder}: a submission may "
                                 "be in one folder only")
            found_in[name] = folder
            results.append(load_row(folder, name, course_print))
    if len(folders) > 1:  # merged shards or sections: in name order, as one run over a batch folder writes them
        results.sort(key=lambda result: result.name)
    roster = roster_or_usage_error(args.roster) if args.roster else roster_from_rows(folders)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        for name, folder in found_in.items():
            if folder.resolve() != out_dir.resolve():
                shutil.copytree(folder / name, out_dir / name, dirs_exist_ok=True)
        report.write_atomic(out_dir / "grades.csv", report.grades_csv(results, course))
        write_class_files(out_dir, results, course,
                          students={folder: s.name for folder, s in roster.items()} if roster else None)
        if roster:
            from .roster import write_lms_files

            write_lms_files(out_dir, roster, course)
    except OSError as error:
        raise UsageError(f"{out_dir}: cannot write the class files there ({error.strerror or error})") from None
    written = "grades.csv, report.html, mistakes.csv" + (", lms_grades.csv" if roster else "")
    print(f"{out_dir}: {written} for {len(results)} submission(s) from {len(folders)} folder(s), "
          f"course version {course.version}; nothing was graded", file=sys.stderr)
    return 0



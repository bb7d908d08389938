"""``python -m autograder similarity [SUBMISSION ...] --out DIR [--roster CSV]``: the similarity report alone.

SUBMISSION is what ``grade`` takes (folders, zips, folders of them; default: the bundled
samples). Writes ``DIR/similarity.html`` and ``DIR/similarity.csv``
(`autograder.grading.similarity`); when ``DIR/grades.csv`` is there (a grade run wrote it), each
pair shows both students' grades. ``grade`` writes the same two files for every batch of two or
more submissions unless ``--no-similarity`` is given.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import io
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from .. import PACKAGE_DIR
from ..course import Course
from ..errors import UsageError
from .intake import Submission, SubmissionError, resolve_submissions
from .report import writable_folder
from .roster import Student

SAMPLES = PACKAGE_DIR / "samples"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submissions", nargs="*", metavar="SUBMISSION",
                        help="submission folders or .zip files, or folders of them (default: autograder/samples)")
    parser.add_argument("--out", default="grades", metavar="DIR",
                        help="output folder (default: ./grades); its grades.csv, if any, gives the grades shown")
    parser.add_argument("--course", default=None, metavar="FILE", help="course file (default: course.yml)")
    parser.add_argument("--roster", default=None, metavar="CSV", help="roster (submission, student_id, name, email): "
                        "shows the students' names beside their folders")


def grades_from_csv(path: Path) -> dict[str, str]:
    """Submission -> ``score/max_score`` from a grades.csv (empty when it is missing or unreadable)."""
    try:
        rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8")))
        return {row["submission"]: f"{row['score']}/{row['max_score']}" for row in rows
                if row.get("submission") and row.get("score") is not None}
    except (OSError, UnicodeDecodeError, KeyError, csv.Error):
        return {}


def write_similarity(out_dir: Path, submissions: Sequence[Submission], course: Course, *,
                     grades: dict[str, str] | None = None, roster: dict[str, Student] | None = None) -> str:
    """Compare ``submissions`` and write ``DIR/similarity.html`` and ``DIR/similarity.csv``; one line saying so."""
    from .report import write_atomic
    from .similarity import similarity_of
    from .similarity_page import similarity_csv, similarity_html

    started = time.monotonic()
    result = similarity_of(submissions, course)
    write_atomic(out_dir / "similarity.csv", similarity_csv(result, course, grades=grades, roster=roster))
    write_atomic(out_dir / "similarity.html", similarity_html(result, course, grades=grades, roster=roster))
    return (f"similarity: {len(result.names)} submissions, {len(result.flagged)} pair(s) marked for review, "
            f"in {time.monotonic() - started:.1f} s: {out_dir}/similarity.html (for a human to review, not a verdict)")


def run(args: argparse.Namespace) -> int:
    from ..course import COURSE_FILE, load_course

    if importlib.util.find_spec("copydetect") is None:
        raise UsageError("copydetect is not installed: pip install -r requirements/course.txt")
    course = load_course(args.course or COURSE_FILE)
    paths = args.submissions or [str(SAMPLES)]
    for text in paths:
        if (Path(text) / "grades.csv").is_file() and not (Path(text) / "attention").exists():
            raise UsageError(f"{text}: a folder of grading results, not of submissions; give the submissions, "
                             f"and --out {text} to show their grades")
    try:
        submissions = resolve_submissions(paths, course)
    except SubmissionError as error:
        raise UsageError(str(error)) from None
    if len(submissions) < 2:
        raise UsageError(f"{len(submissions)} submission found: similarity compares two or more")
    roster = None
    if args.roster:
        from .roster import roster_or_usage_error

        roster = roster_or_usage_error(args.roster)
    out_dir = Path(args.out)
    writable_folder(out_dir, "the similarity report")
    grades = grades_from_csv(out_dir / "grades.csv")
    print(write_similarity(out_dir, submissions, course, grades=grades, roster=roster), file=sys.stderr)
    return 0

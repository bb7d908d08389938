"""``python -m autograder check-course [PATH]``: validate a course file (every error at once) and show its steps."""

from __future__ import annotations

import argparse
import sys

from .course import COURSE_FILE, Course, CourseError, CourseProblems, check_course
from .errors import UsageError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=str(COURSE_FILE), help="course file (default: course.yml)")
    parser.add_argument("--markdown", action="store_true", help="print the README's step table")


def markdown_table(course: Course) -> str:
    """The step table of README.md (a test keeps the README's copy equal to this)."""
    lines = ["| # | step | module | notebook | points | you implement |", "|---|---|---|---|---|---|"]
    for number, step in enumerate(course.steps, start=1):
        api = ", ".join(f"`{name}`" for name in step.api)
        lines.append(f"| {number} | {step.title} (`{step.id}`) | `attention/{step.module}.py` | "
                     f"`{step.notebook}.ipynb` | {step.points:g} | {api} |")
    lines.append(f"| | **total** | | | **{course.max_score:g}** | |")
    note = questions_note(course)
    return "\n".join(lines) + (f"\n\n{note}" if note else "")


def questions_note(course: Course) -> str:
    """Why a notebook's "Check step N" header shows fewer points than the table: its concept questions."""
    from .hidden.questions import questions_of  # the keys module; light, and never shipped

    parts = []
    for number, step in enumerate(course.steps, start=1):
        asked = questions_of(step.id)
        if asked:
            question_points = sum(q.points for q in asked)
            parts.append(f"step {number}: {step.points - question_points:g} + {question_points:g}")
    if not parts:
        return ""
    return (f"A step's points include the concept questions of its notebook: the questions are worth their own "
            f"points and the code the rest ({', '.join(parts)}: code + questions); a notebook's \"Check step\" "
            "header says so. Learners who hand in the `attention/` package answer the same questions in "
            "`attention/answers.py`; every way of grading gives the same points for the same answers.")


def run(args: argparse.Namespace) -> int:
    """Print every error of the course file (one line each, exit status 2), or its steps and any warnings."""
    try:
        course, warnings = check_course(args.path)
    except CourseProblems as problems:
        for line in problems.errors:
            print(f"error: {line}", file=sys.stderr)
        print(f"{len(problems.errors)} error(s) in {args.path}", file=sys.stderr)
        return 2
    except CourseError as error:
        raise UsageError(str(error)) from None
    for line in warnings:
        print(f"warning: {line}", file=sys.stderr)
    if args.markdown:
        print(markdown_table(course))
        return 0
    print(f"{course.title} (version {course.version}): {len(course.steps)} steps, {course.max_score:g} points")
    for number, step in enumerate(course.steps, start=1):
        print(f"  {number:>2}. {step.id:<17} {step.points:>4g} pts  attention/{step.module}.py  {step.title}")
    return 0

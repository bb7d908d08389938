"""``python -m autograder check-course [PATH]``: validate a course file and show its steps."""

from __future__ import annotations

import argparse

from .cli import UsageError
from .course import COURSE_FILE, CourseError, load_course


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("path", nargs="?", default=str(COURSE_FILE), help="course file (default: course.yml)")


def run(args: argparse.Namespace) -> int:
    try:
        course = load_course(args.path)
    except CourseError as error:
        raise UsageError(str(error)) from None
    print(f"{course.title} (version {course.version}): {len(course.steps)} steps, {course.max_score:g} points")
    for number, step in enumerate(course.steps, start=1):
        print(f"  {number:>2}. {step.id:<17} {step.points:>4g} pts  attention/{step.module}.py  {step.title}")
    return 0

"""``python -m autograder release [--check] [--out DIR]``: regenerate ``exercises/`` from ``solutions/``.

Writes what the `GENERATORS` render (`autograder.build.generate`), removes what they no longer
render, then runs the leak scanner on ``exercises/``; with ``--out`` it also builds the learner
bundle (`autograder.build.bundle`). ``--check`` writes nothing and exits 1 when anything is out
of date or leaked.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder.course import load_course
from autograder.errors import MarkerError, NbgraderError, UsageError

from .generate import check_release, find_leaks, remove_stale, write_release
from .layout import Layout, check_output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list out-of-date or stale generated files and leaked solution code, exit 1 if any",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="also build the learner bundle in DIR (exercises/, a learner README, a zip), leak-checked",
    )


def run(args: argparse.Namespace) -> int:
    course = load_course()
    layout = Layout()
    if getattr(args, "check", False):
        try:
            problems = check_release(course, layout)
        except NbgraderError as error:  # one line, the real cause (`learner.nbgrader_cause`)
            raise UsageError(str(error)) from None
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s) with exercises/", file=sys.stderr)
            return 1
        print("exercises/ is up to date and holds no solution code")
        return 0
    if getattr(args, "out", None):
        check_output_folder(Path(args.out))  # before the release's slow work
    try:
        written = write_release(course, layout)
        removed = remove_stale(course, layout)
    except (MarkerError, NbgraderError) as error:
        raise UsageError(str(error)) from None
    for path in written:
        print(f"wrote {layout.show(path)}")
    for path in removed:
        print(f"removed {layout.show(path)} (no longer generated)")
    if not written and not removed:
        print("exercises/ is up to date")
    leaks = find_leaks(layout)
    for leak in leaks:
        print(f"leak: {leak}", file=sys.stderr)
    if leaks:
        return 1
    if getattr(args, "out", None):
        from .bundle import build_bundle

        return build_bundle(course, Path(args.out))
    return 0

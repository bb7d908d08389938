"""``python -m autograder export gradescope|classroom``: deploy the course beyond one machine.

- ``export gradescope [--out autograder.zip] [--seed S]``: a Gradescope autograder zip
  (`autograder.build.gradescope`); ``run_autograder`` grades with the same sandboxed engine.
- ``export classroom --out DIR``: a GitHub Classroom template repository, the learner release
  plus a workflow running the public self-checks with points (`autograder.build.classroom`).

The learner release itself is ``python -m autograder release --out DIR`` (`autograder.build.bundle`).
Importing this package is cheap: each target's module is imported when it runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    targets = parser.add_subparsers(dest="target", metavar="TARGET", required=True)
    gradescope = targets.add_parser(
        "gradescope", help="build a Gradescope autograder zip",
        description="Build a Gradescope autograder zip: setup.sh, run_autograder, the grader and the hidden tests "
                    "(never the solutions). Upload it as the assignment's autograder.",
    )
    gradescope.add_argument("--out", default="autograder.zip", metavar="ZIP",
                            help="the zip to write (default: ./autograder.zip)")
    gradescope.add_argument("--seed", type=int, default=None, metavar="S",
                            help="grade every submission with this seed (default: a fresh seed per run, "
                                 "recorded in results.json)")
    classroom = targets.add_parser(
        "classroom", help="write a GitHub Classroom template repository",
        description="Write a GitHub Classroom template repository: the learner release plus "
                    ".github/workflows/classroom.yml, which runs the public self-checks with points.",
    )
    classroom.add_argument("--out", required=True, metavar="DIR", help="the folder to write (new or empty, or a "
                           "template this command wrote before)")


def run(args: argparse.Namespace) -> int:
    from autograder.course import load_course

    course = load_course()
    if args.target == "gradescope":
        from .gradescope import build_gradescope

        return build_gradescope(course, Path(args.out), seed=args.seed)
    from .classroom import build_classroom

    return build_classroom(course, Path(args.out))

"""Command line: ``python -m autograder <command>``.

Each command lives in its own module with ``add_arguments(parser)`` and ``run(args) -> int``;
the module is imported only when its command runs, so ``grade`` never pays for nbformat.
Errors the user can fix (a bad path, an invalid ``course.yml``) print one line and exit 2.
Every command works from a virtualenv that is not activated (``/path/to/venv/bin/python -m
autograder release``, as cron or an IDE runs it): `interpreter_on_path` puts the interpreter's
scripts folder on ``PATH`` first, so the tools nbgrader runs (``alembic``) are found.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import sysconfig
from typing import NoReturn

from .errors import UsageError

__all__ = ["COMMANDS", "UsageError", "main"]

COMMANDS = {
    "grade": ("autograder.grading.cli", "grade submissions in the sandbox (default: the bundled samples)"),
    "report": ("autograder.grading.report_cli",
               "rebuild (and merge) grades.csv, the class report and the LMS file from graded folders"),
    "release": ("autograder.build.release_cli",
                "regenerate exercises/ (stubs, steps table, notebooks) from solutions/"),
    "check-course": ("autograder.course_cli", "validate course.yml and print the step table"),
    "similarity": ("autograder.grading.similarity_cli",
                   "compare submissions' code: similarity.html and similarity.csv, for a human to review"),
    "bench": ("autograder.bench", "measure grading speed against a bare `import torch`"),
    "export": ("autograder.build.export_cli", "build a Gradescope autograder or a GitHub Classroom template"),
}


def interpreter_on_path(environment: dict[str, str] | os._Environ[str] = os.environ) -> None:
    """Put this interpreter's scripts folder (a virtualenv's ``bin/``) at the front of ``environment["PATH"]``
    when it is not on it already: subprocesses then find the tools installed beside it."""
    folders = [os.path.dirname(sys.executable), sysconfig.get_path("scripts")]
    path = [p for p in environment.get("PATH", "").split(os.pathsep) if p]
    missing = [folder for folder in dict.fromkeys(folders) if folder and folder not in path]
    if missing:
        environment["PATH"] = os.pathsep.join([*missing, *path])


def main(argv: list[str] | None = None) -> int:
    interpreter_on_path()
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    modules = {}
    argv = sys.argv[1:] if argv is None else argv
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # only the chosen command's module is imported
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    from .course import CourseError

    try:
        return int(modules[args.command].run(args) or 0)
    except (UsageError, CourseError) as error:
        from .grading.inert import shown_text  # a path or name in the message may hold control characters

        print(f"error: {shown_text(str(error))}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def exit_process(status: int) -> NoReturn:
    """Exit with ``status``; after grading, without the interpreter's teardown.

    With torch loaded the teardown takes 0.3 s or more (over a second on a busy machine): a good
    part of grading one submission. By then the grader has written and closed every file and
    stopped its worker; only the standard streams still hold output.
    """
    if "autograder.grading.engine" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    sys.exit(status)

"""``python -m autograder release``: regenerate ``exercises/`` from ``solutions/``.

Writes ``exercises/selfcheck/steps.py`` (the step table the public checks need, from
``course.yml``). Stub and notebook generation are added here too, so that one command
regenerates everything learners get.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from . import REPO_ROOT
from .course import Course, load_course

EXERCISES = REPO_ROOT / "exercises"
STEPS_MODULE = EXERCISES / "selfcheck" / "steps.py"


def render_steps_module(course: Course) -> str:
    """Source of ``selfcheck/steps.py``: the course's steps in order, for the public checks."""
    lines = [
        '"""The course\'s steps, in order. Generated from course.yml by `python -m autograder release`."""',
        "",
        "from typing import NamedTuple",
        "",
        "",
        "class StepInfo(NamedTuple):",
        "    number: int",
        "    id: str",
        "    title: str",
        "    module: str",
        "    notebook: str",
        "    api: tuple[str, ...]",
        "",
        "",
        "STEPS = (",
    ]
    for number, step in enumerate(course.steps, start=1):
        lines.append(
            f"    StepInfo({number}, {step.id!r}, {step.title!r}, {step.module!r}, {step.notebook!r}, {tuple(step.api)!r}),"
        )
    lines += [")", "", "BY_ID = {step.id: step for step in STEPS}", ""]
    return "\n".join(lines)


def generated_files(course: Course) -> dict[Path, str]:
    """Every generated learner file (path -> content)."""
    return {STEPS_MODULE: render_steps_module(course)}


def write_release(course: Course) -> list[Path]:
    """Write every generated file whose content changed; return the paths written."""
    written = []
    for path, content in generated_files(course).items():
        if not path.exists() or path.read_text(encoding="utf-8") != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written


def add_arguments(parser: argparse.ArgumentParser) -> None:
    del parser  # no options yet


def run(args: argparse.Namespace) -> int:
    del args
    course = load_course()
    written = write_release(course)
    for path in written:
        print(f"wrote {path.relative_to(REPO_ROOT)}")
    if not written:
        print("exercises/ is up to date")
    return 0

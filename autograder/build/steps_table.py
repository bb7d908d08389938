"""The generated step table ``exercises/selfcheck/steps.py``: course.yml's steps, for the public checks."""

from __future__ import annotations

from pathlib import Path

from autograder.course import Course

from .layout import Layout

MAX_LINE = 120  # generated Python follows the project's line length (pyproject.toml)


def render_steps_module(course: Course) -> str:
    """Source of ``selfcheck/steps.py``: the course's steps in order, for the public checks."""
    lines = [
        '"""The course\'s steps, in order. Generated when the course is released: do not edit."""',
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
        "    from_scratch: bool = False  # forbidden APIs (selfcheck.forbidden) cost such a step all its points",
        "",
        "",
        "STEPS = (",
    ]
    for number, step in enumerate(course.steps, start=1):
        fields = [repr(number), repr(step.id), repr(step.title), repr(step.module), repr(step.notebook)]
        api = tuple(step.api)
        scratch = ["True"] if step.from_scratch else []
        one_line = f"    StepInfo({', '.join([*fields, repr(api), *scratch])}),"
        if len(one_line) <= MAX_LINE:
            lines.append(one_line)
            continue
        lines.append("    StepInfo(")
        lines += [f"        {field}," for field in fields]
        if len(f"        {api!r},") <= MAX_LINE:
            lines.append(f"        {api!r},")
        else:
            lines += ["        (", *(f"            {name!r}," for name in api), "        ),"]
        lines += [f"        {flag}," for flag in scratch]
        lines.append("    ),")
    lines += [")", "", "BY_ID = {step.id: step for step in STEPS}", ""]
    return "\n".join(lines)


def render_steps_table(course: Course, layout: Layout) -> dict[Path, str]:
    return {layout.steps_module: render_steps_module(course)}

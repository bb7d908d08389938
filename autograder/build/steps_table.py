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
        "    points: float = 0.0  # the step's points in the grade",
        "    question_points: float = 0.0  # the share of them its notebook's concept questions carry",
        "",
        "",
        f"OUTPUT_KB = {course.limits.output_kb!r}  # what learner code may print per step, in the grader",
        "",
        "STEPS = (",
    ]
    for number, step in enumerate(course.steps, start=1):
        fields = [repr(number), repr(step.id), repr(step.title), repr(step.module), repr(step.notebook)]
        api = tuple(step.api)
        scratch = ["True"] if step.from_scratch else []
        counted = f"points={float(step.points)!r}, question_points={_question_points(step.id)!r}"
        one_line = f"    StepInfo({', '.join([*fields, repr(api), *scratch, counted])}),"
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
        lines += [f"        {counted},", "    ),"]
    lines += [")", "", "BY_ID = {step.id: step for step in STEPS}", ""]
    return "\n".join(lines)


def _question_points(step_id: str) -> float:
    """Points of a step's concept questions (published in its notebook's "Check step" header)."""
    from autograder.hidden.questions import questions_of  # light; the keys stay out of the generated file

    return float(sum(q.points for q in questions_of(step_id)))


def render_steps_table(course: Course, layout: Layout) -> dict[Path, str]:
    return {layout.steps_module: render_steps_module(course)}

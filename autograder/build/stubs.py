"""The learner stubs ``exercises/attention/*.py``, made from the solution modules.

Each solution module becomes a stub by `make_stub`: every region between a ``### BEGIN SOLUTION``
line and its ``### END SOLUTION`` line (`autograder.markers`) becomes, at the BEGIN line's
indentation, ::

    raise NotImplementedError("<step id>: <qualified name> is not implemented yet")

e.g. ``"self_attention: SelfAttention.forward is not implemented yet"``. Everything outside the
regions (imports, signatures, docstrings and their ``Hint:`` lines, comments) is kept.
"""

from __future__ import annotations

import ast
from pathlib import Path

from autograder.course import Course
from autograder.errors import MarkerError
from autograder.grading.concept_answers import ANSWERS_FILE
from autograder.markers import solution_regions

from .layout import Layout


def make_stub(source: str, step_id: str, filename: str = "<source>") -> str:
    """The learner stub of a solution module: every solution region replaced by a ``raise``.

    The region (markers included) becomes ``Region.stub_line(step_id)`` at the BEGIN line's
    indentation; all other lines are kept as they are. Raises `MarkerError` for misplaced
    markers or when the stub would not be valid Python.
    """
    regions = solution_regions(source, filename)
    lines = source.splitlines(keepends=True)
    stub: list[str] = []
    done = 0
    for region in regions:
        stub += lines[done : region.begin - 1]
        stub.append(region.stub_line(step_id) + "\n")
        done = region.end
    stub += lines[done:]
    text = "".join(stub)
    try:
        ast.parse(text, filename=filename)
    except SyntaxError as error:
        raise MarkerError(
            f"{filename}: the stub is not valid Python (stub line {error.lineno}: {error.msg}); "
            "each solution region must be a complete block of statements"
        ) from None
    return text


def render_stubs(course: Course, layout: Layout) -> dict[Path, str]:
    """``exercises/attention/<module>.py`` for every ``solutions/attention/<module>.py`` but ``answers.py``."""
    step_of_module = {step.module: step.id for step in course.steps}
    stubs = {}
    for path in sorted(layout.solution_package.glob("*.py")):
        if path.name == ANSWERS_FILE:  # the concept questions' key: `answers_file` renders the learner's file
            continue
        step_id = step_of_module.get(path.stem, path.stem)
        source = path.read_text(encoding="utf-8")
        stubs[layout.stub_package / path.name] = make_stub(source, step_id, filename=layout.show(path))
    return stubs


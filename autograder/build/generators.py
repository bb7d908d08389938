"""The release's generators: a declared list, one kind of generated file each.

``python -m autograder release`` writes the union of `GENERATORS`; ``release --check`` and the
project's sync test compare it with the tree (`autograder.build.generate`).

**Order.** A generator may read what an earlier one writes, never a later one: the step table
and the stubs come first (the public checks and the notebooks import them), then the source
notebooks, then the learner notebooks, which nbgrader makes from the source notebooks.

To generate more files, write ``render_x(course, layout) -> {path: text}`` and append
``Generator("x", render_x, owns=(...))`` in its place in that order; ``owns`` (globs under
``exercises/``) lets ``release`` remove files of that kind that are no longer generated.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from autograder.course import Course

from .answers_file import render_answers
from .layout import Layout
from .steps_table import render_steps_table
from .stubs import render_stubs

Render = Callable[[Course, Layout], "dict[Path, str]"]


@dataclass(frozen=True)
class Generator:
    """One kind of generated file.

    ``render(course, layout)`` returns ``{path: text}``; it is a function, or ``"module:function"``
    for one imported only when it runs (the notebooks' modules import nbformat and the checks).
    ``owns`` are globs, relative to ``exercises/``, matching only files this generator produces:
    a file there that ``render`` no longer produces is stale (reported by `check_release`,
    removed by the command). ``fast``: cheap enough (milliseconds) to re-render before every
    learner bundle.
    """

    name: str
    render_with: Render | str
    owns: tuple[str, ...] = ()
    fast: bool = False

    def render(self, course: Course, layout: Layout) -> dict[Path, str]:
        render = self.render_with
        if isinstance(render, str):
            module, _, function = render.partition(":")
            render = getattr(importlib.import_module(module), function)
        return render(course, layout)


GENERATORS: list[Generator] = [
    Generator("step table", render_steps_table, fast=True),
    Generator("stubs", render_stubs, owns=("attention/*.py",), fast=True),
    Generator("concept questions for the package", render_answers, owns=("attention/answers.py",), fast=True),
    Generator("source notebooks", "autograder.build.notebooks.learner:render_sources"),
    Generator("learner notebooks", "autograder.build.notebooks.learner:render_learner_notebooks",
              owns=("notebooks/*",)),
]

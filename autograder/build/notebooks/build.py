"""Build the nbgrader source notebooks (``solutions/notebooks/*.ipynb``) from their one source.

A notebook is the authored cells of ``solutions/notebooks/src/<notebook>.py`` (see
`autograder.build.notebooks.source`) with its generated cells filled in:

- **answer** (``# %% [answer] <step>``): a "your turn" markdown cell, then, when the step uses
  an earlier step written in *another* notebook, a locked cell that loads it
  (``init_projections = from_notebook("03_projections", "init_projections")``, see
  ``course_notebook.from_notebook``), then the answer cell: ``solutions/attention/<module>.py``
  without its module docstring and its ``from attention.<module> import ...`` lines
  (`answer_code`). Names from an earlier step of the *same* notebook are already defined above.
  nbgrader turns every solution region into the release stub's
  ``raise NotImplementedError("<step>: <name> is not implemented yet")``
  (`autograder.build.notebooks.nbgrader_ext`).
- **tests** (``# %% [tests] <step>``): the step's points split over a few locked test cells
  (`split_tests`); each calls some public checks (``check("tokens", globals(), ...)``) and, in a
  ``### BEGIN HIDDEN TESTS`` block, some hidden checks (``run_hidden("tokens", globals(),
  check=[...])``). nbgrader grades a cell all or nothing, so several cells give partial credit.
- **question** (``# %% [question] <name>``): an answer cell (the key between solution markers)
  and a 1-point test cell (`autograder.hidden.questions`).

The points of a step's test and question cells add up to its points in ``course.yml``.
"""

from __future__ import annotations

import ast
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from autograder.course import Course, Step
from autograder.hidden.questions import KINDS, QUESTIONS, Question, questions_of
from autograder.notebook_ids import (
    HELPER,
    NOTEBOOK_FOLDER,
    SETUP_ID,
    answer_id,
    earlier_id,
    question_id,
    question_test_id,
)

from .source import BuildError, SourceCell, SourceError, read_source
from .test_cells import points_text, quoted, split_tests, test_cell_source

NBFORMAT_MINOR = 5
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
LANGUAGE_INFO = {"name": "python"}



# ---------------------------------------------------------------------------------------
# Which steps go in which notebook
# ---------------------------------------------------------------------------------------


def notebook_steps(course: Course) -> dict[str, list[Step]]:
    """Notebook name -> its steps, in course order (``course.yml``'s ``notebook`` field)."""
    plan: dict[str, list[Step]] = {}
    for step in course.steps:
        plan.setdefault(step.notebook, []).append(step)
    return plan


# ---------------------------------------------------------------------------------------
# Answer cells: a step's module, as a notebook cell
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EarlierImport:
    """``from attention.<module> import <name> as <alias>`` in a solution module."""

    module: str
    name: str
    alias: str
    step: Step  # the step that owns ``module``
    line: str  # the import statement's text, for the extractor


@dataclass
class AnswerCode:
    code: str  # the cell's source
    imports: list[EarlierImport] = field(default_factory=list)  # every attention.* import removed

    def cross_notebook(self, notebook: str) -> list[EarlierImport]:
        return [i for i in self.imports if i.step.notebook != notebook]


def answer_code(source: str, course: Course, filename: str = "<module>") -> AnswerCode:
    """The answer cell of a step: its module without docstring and ``attention.*`` imports."""
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise BuildError(f"{filename}, line {error.lineno}: not valid Python ({error.msg})") from None
    by_module = {step.module: step for step in course.steps}
    drop: set[int] = set()
    imports: list[EarlierImport] = []
    lines = source.splitlines()
    body = list(tree.body)
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        drop.update(range(body[0].lineno, (body[0].end_lineno or body[0].lineno) + 1))
    for node in body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "attention":
            module = (node.module or "").split(".", 1)[-1]
            if module not in by_module:
                raise BuildError(f"{filename}, line {node.lineno}: imports attention.{module}, which is no step")
            text = "\n".join(lines[node.lineno - 1 : node.end_lineno])
            for alias in node.names:
                imports.append(EarlierImport(module, alias.name, alias.asname or alias.name, by_module[module], text))
            drop.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "attention" for a in node.names):
            raise BuildError(f"{filename}, line {node.lineno}: use `from attention.<module> import <name>`")
    kept = [line for number, line in enumerate(lines, start=1) if number not in drop]
    code = _tidy("\n".join(kept))
    return AnswerCode(code, imports)


def _tidy(code: str) -> str:
    """Strip leading/trailing blank lines and squeeze runs of more than two blank lines."""
    out: list[str] = []
    blank = 0
    for line in code.splitlines():
        if not line.strip():
            blank += 1
            if blank > 2 or not out:
                continue
        else:
            blank = 0
        out.append(line.rstrip())
    while out and not out[-1].strip():
        out.pop()
    return "\n".join(out)


# ---------------------------------------------------------------------------------------
# Cells
# ---------------------------------------------------------------------------------------


def _nbgrader(grade_id: str, *, grade: bool = False, solution: bool = False, locked: bool = False,
              points: float | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


class _Cells:
    """Accumulates a notebook's cells with stable ids (``<notebook prefix>-<index>``)."""

    def __init__(self, notebook: str) -> None:
        self.prefix = notebook.split("_", 1)[0]
        self.cells: list[dict] = []

    def _add(self, cell_type: str, source: str, metadata: dict | None = None) -> None:
        cell: dict = {
            "cell_type": cell_type,
            "id": f"c{self.prefix}-{len(self.cells):02d}",
            "metadata": metadata or {},
            "source": source,
        }
        if cell_type == "code":
            cell["execution_count"] = None
            cell["outputs"] = []
        self.cells.append(cell)

    def markdown(self, source: str, metadata: dict | None = None) -> None:
        self._add("markdown", source, metadata)

    def code(self, source: str, metadata: dict | None = None) -> None:
        self._add("code", source, metadata)


@dataclass
class Registries:
    """Check names (and hidden weights) per step, as the test cells need them."""

    public: dict[str, list[str]]
    hidden: dict[str, list[tuple[str, float]]]

    @classmethod
    def load(cls) -> Registries:
        from autograder.hidden import load_hidden_checks
        from selfcheck.public import PUBLIC

        hidden = load_hidden_checks()
        steps = set(PUBLIC.steps()) | set(hidden.steps())
        return cls(
            public={s: [c.name for c in PUBLIC.for_step(s)] for s in steps},
            hidden={s: [(c.name, c.weight) for c in hidden.for_step(s)] for s in steps},
        )


def build_notebook(name: str, cells: list[SourceCell], course: Course, solution_package: Path,
                   registries: Registries, filename: str = "<source>") -> dict:
    """The nbgrader source notebook ``name`` as a JSON-ready dict (nbformat 4.5)."""
    steps = notebook_steps(course).get(name)
    if not steps:
        raise BuildError(f"{filename}: no step of course.yml has notebook {name!r}")
    numbers = {step.id: number for number, step in enumerate(course.steps, start=1)}
    mine = {step.id: step for step in steps}
    seen: dict[str, list[str]] = {}
    provided: set[str] = set()  # earlier-step names a cell of this notebook already loads
    out = _Cells(name)
    for cell in cells:
        if cell.kind == "markdown":
            out.markdown(cell.body)
        elif cell.kind == "setup":
            out.code(cell.body, _nbgrader(SETUP_ID, locked=True))
        elif cell.kind == "code":
            out.code(cell.body)
        elif cell.kind == "plot":
            out.code(cell.body, {"tags": ["plot"]})
        elif cell.kind in ("answer", "tests"):
            step = mine.get(cell.arg or "")
            if step is None:
                raise BuildError(f"{filename}, line {cell.line}: step {cell.arg!r} does not belong to notebook "
                                 f"{name!r} (course.yml: {', '.join(mine)})")
            seen.setdefault(step.id, []).append(cell.kind)
            if cell.kind == "answer":
                _answer_cells(out, step, numbers[step.id], name, course, solution_package, provided)
            else:
                if seen[step.id] != ["answer", "tests"]:
                    raise BuildError(f"{filename}, line {cell.line}: [tests] {step.id} must follow [answer] {step.id}")
                _test_cells(out, step, numbers[step.id], registries)
        elif cell.kind == "question":
            question = QUESTIONS.get(cell.arg or "")
            if question is None or question.step not in mine:
                raise BuildError(f"{filename}, line {cell.line}: {cell.arg!r} is not a question of this notebook's "
                                 "steps (autograder/hidden/questions.py)")
            seen.setdefault(f"question {question.name}", []).append("question")
            _question_cells(out, question)
    for step in steps:
        if seen.get(step.id) != ["answer", "tests"]:
            raise BuildError(f"{filename}: needs one `# %% [answer] {step.id}` and then one `# %% [tests] {step.id}`")
        for question in questions_of(step.id):
            if seen.get(f"question {question.name}") != ["question"]:
                raise BuildError(f"{filename}: needs one `# %% [question] {question.name}`")
    return {
        "cells": out.cells,
        "metadata": {"kernelspec": dict(KERNELSPEC), "language_info": dict(LANGUAGE_INFO)},
        "nbformat": 4,
        "nbformat_minor": NBFORMAT_MINOR,
    }


def _answer_cells(out: _Cells, step: Step, number: int, notebook: str, course: Course, package: Path,
                  provided: set[str]) -> None:
    path = package / f"{step.module}.py"
    answer = answer_code(path.read_text(encoding="utf-8"), course, f"solutions/attention/{step.module}.py")
    text = [
        f"## Your turn: step {number}, {_and([f'`{name}`' for name in step.api])}",
        "",
        "Complete the code below: replace each `raise NotImplementedError(...)` line with your code, run the "
        "cell, then run the test cells after it. The docstrings say what each function takes and returns, "
        "with shapes.",
        "",
        f"This cell is the module `attention/{step.module}.py` of the course package (without its "
        "docstring): the same code works in both places.",
    ]
    uses = answer.cross_notebook(notebook)
    earlier = [i for i in uses if i.alias not in provided]
    provided.update(i.alias for i in earlier)
    if uses:
        used = _and([f"`{i.alias}` (step {course.step_ids.index(i.step.id) + 1}, `{i.step.notebook}.ipynb`)"
                     for i in uses])
        where = ("The first cell below loads them from where you wrote them: your own notebooks (save them "
                 "first), or the package `attention/` for a step you wrote there. It says where it found each."
                 if earlier else "A cell above loaded them from your own notebooks or the package `attention/`.")
        text += [
            "",
            f"Your code uses {used}. {where} When your work is graded, every step is checked with the "
            "grader's reference version of the earlier steps, so a mistake costs points in its own step only.",
        ]
    out.markdown("\n".join(text))
    if earlier:
        lines = [
            "# Earlier steps this code uses: your own versions, from the notebooks where you wrote them.",
            "from course_notebook import from_notebook",
            "",
        ]
        lines += [f"{i.alias} = from_notebook({i.step.notebook!r}, {i.name!r})" for i in earlier]
        out.code("\n".join(lines), _nbgrader(earlier_id(step.id), locked=True))
    out.code(answer.code, _nbgrader(answer_id(step.id), solution=True))


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _test_cells(out: _Cells, step: Step, number: int, registries: Registries) -> None:
    questions = questions_of(step.id)
    code_points = step.points - sum(q.points for q in questions)
    tests = split_tests(step.id, code_points, registries.public.get(step.id, []), registries.hidden.get(step.id, []))
    out.markdown(
        f"### Check step {number} ({points_header(step.points, code_points, len(questions))})\n\n"
        "Each test cell prints ✓ for every check that passes and stops at the first one that fails, saying "
        "what is wrong. When your work is graded, hidden tests with new inputs (other sizes, batches, edge "
        "cases) run in these cells too: code that only reproduces the examples will not pass them."
    )
    for cell in tests:
        out.code(test_cell_source(cell, number), _nbgrader(cell.grade_id, grade=True, locked=True,
                                                            points=cell.points))


def points_header(step_points: float, code_points: float, questions: int) -> str:
    """``"6 points"``, or ``"10 of the step's 12 points; the 2 concept questions below give the other 2"``.

    The README's step table gives a step's points in ``course.yml``, questions included, and says so.
    """
    if questions == 0:
        return points_text(step_points)
    which = "the concept question below gives" if questions == 1 else f"the {questions} concept questions below give"
    return f"{code_points:g} of the step's {step_points:g} points; {which} the other {step_points - code_points:g}"


def _question_cells(out: _Cells, question: Question) -> None:
    source = "\n".join([
        f"# Your answer: {KINDS[question.kind]}",
        "### BEGIN SOLUTION",
        question.solution_line,
        "### END SOLUTION",
    ])
    out.code(source, _nbgrader(question_id(question.name), solution=True))
    test = "\n".join([
        f"# Question `{question.name}`: {points_text(question.points)}.",
        "from course_notebook import check_answer",
        f"check_answer({quoted(question.name)}, globals(), {quoted(question.kind)})",
        "### BEGIN HIDDEN TESTS",
        "from autograder.hidden.notebook import run_question",
        f"run_question({quoted(question.name)}, globals())",
        "### END HIDDEN TESTS",
    ])
    out.code(test, _nbgrader(question_test_id(question.name), grade=True, locked=True, points=question.points))


# ---------------------------------------------------------------------------------------
# All source notebooks
# ---------------------------------------------------------------------------------------


def sources_dir(solutions: Path) -> Path:
    return solutions / NOTEBOOK_FOLDER / "src"


def notebook_text(notebook: dict) -> str:
    """The notebook as nbformat writes it, validated against the nbformat schema."""
    import nbformat

    node = nbformat.from_dict(notebook)
    nbformat.validate(node)
    return nbformat.writes(node) + "\n"


_CACHE: dict[str, dict[Path, str]] = {}


def render_source_notebooks(course: Course, solutions: Path, registries: Registries | None = None) -> dict[Path, str]:
    """``solutions/notebooks/<notebook>.ipynb`` for every notebook of ``course.yml`` (path -> text).

    Raises `BuildError` (or `SourceError`) with a one-line reason for a source that does not fit.
    """
    src = sources_dir(solutions)
    plan = notebook_steps(course)
    registries = registries or Registries.load()
    key = _cache_key(course, solutions, registries)
    if key in _CACHE:
        return dict(_CACHE[key])
    missing = [name for name in plan if not (src / f"{name}.py").is_file()]
    if missing:
        raise BuildError(f"{src.as_posix()}: no source for notebook(s) {', '.join(missing)} (course.yml)")
    extra = sorted(p.stem for p in src.glob("*.py") if p.stem not in plan)
    if extra:
        raise BuildError(f"{src.as_posix()}: {', '.join(extra)} is no notebook of course.yml")
    questions = {q.name for q in QUESTIONS.values()}
    files: dict[Path, str] = {}
    asked: set[str] = set()
    for name in plan:
        path = src / f"{name}.py"
        try:
            cells = read_source(path)
        except SourceError as error:
            raise BuildError(str(error)) from None
        asked.update(c.arg for c in cells if c.kind == "question" and c.arg)
        notebook = build_notebook(name, cells, course, solutions / "attention", registries,
                                  filename=f"solutions/{NOTEBOOK_FOLDER}/src/{name}.py")
        files[solutions / NOTEBOOK_FOLDER / f"{name}.ipynb"] = notebook_text(notebook)
    if questions - asked:
        raise BuildError(f"questions asked in no notebook: {', '.join(sorted(questions - asked))}")
    _CACHE[key] = dict(files)
    return files


def _cache_key(course: Course, solutions: Path, registries: Registries) -> str:
    digest = hashlib.sha256()
    digest.update(course.model_dump_json().encode())
    digest.update(json.dumps([registries.public, registries.hidden], sort_keys=True).encode())
    for folder in (solutions / "attention", sources_dir(solutions)):
        for path in sorted(folder.glob("*.py")):
            digest.update(path.as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(repr(sorted((q.name, q.step, q.points, q.kind, repr(q.answer)) for q in QUESTIONS.values())).encode())
    digest.update(HELPER.encode())
    return digest.hexdigest()

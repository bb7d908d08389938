"""The sandboxed grades in nbgrader's gradebook: ``python -m autograder grade submitted/ --gradebook gradebook.db``.

nbgrader grades a notebook cell by cell, each test cell all or nothing. So that ``nbgrader
export``, formgrader and ``nbgrader generate_feedback`` work on the grader's fast, sandboxed
path, this module writes a score for every grade cell of the assignment ``notebooks`` into the
gradebook, as ``nbgrader autograde`` would (its ``SaveAutoGrades``: a ``Grade`` row per cell
with ``auto_score``):

- **The cell layout comes from the gradebook.** ``nbgrader generate_assignment notebooks``
  stores every grade cell (its ``max_score``) and its source, hidden tests included. A test
  cell's source names its checks: ``check(step, globals(), <public check>, ...)`` and
  ``run_hidden(step, globals(), check=[<hidden check>, ...])``; a concept question's test cell
  calls ``run_question(<name>, globals())``. The sources are parsed (`ast`), never run. A
  gradebook without the assignment (generate_assignment not run), or whose cells name checks
  this course does not have (another release), is a one-line error before anything is graded.
- **A test cell** scores its points when every check it names passed in the sandbox (hidden
  checks as in ``results.json``; public checks, which the grader then runs too, in the same
  child after the hidden ones, `SubmissionResult.public`), else 0.
- **A concept question** scores its points when the grader's own test of it passed
  (`concept_answers`: the value its answer cell assigns, read with ``ast.literal_eval`` in this
  trusted process, right by the hidden key), exactly as ``run_question`` decides in nbgrader.
- **The autograded notebooks** (``autograded/<student>/notebooks/``, beside the gradebook, the
  course root): each handed-in notebook with its grade cells' sources restored and their outputs
  saying which checks passed, every other code cell's stored outputs cleared (as nbgrader's
  ``autograde`` does: a learner's stored output could hold a script), so that ``nbgrader
  generate_feedback`` (whose preprocessors clear hidden tests) and formgrader have what
  ``nbgrader autograde`` would leave. Nothing is run.
- A submission the grader itself failed on is not written (its grades stay as they were).

``grades.csv`` and ``results.json`` keep the grader's own view (every hidden check scored by
weight); the gradebook gets nbgrader's per-cell view. The README ("Grade notebooks with
nbgrader") says when the two differ.
"""

from __future__ import annotations

import ast
import datetime
import json
import os
import sqlite3
import stat
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from selfcheck.registry import CheckRegistry

from .. import parsing
from ..errors import UsageError
from ..hidden import load_hidden_checks
from ..hidden.questions import QUESTIONS
from ..notebook_ids import ASSIGNMENT, question_id
from .engine import SubmissionResult
from .extract import notebook_path, read_notebook

REGENERATE = f"run `nbgrader generate_assignment {ASSIGNMENT} --force` in the course folder"
NBGRADER_TABLES = {"assignment", "notebook", "grade_cells", "source_cell", "grade"}


@dataclass(frozen=True)
class GradeCell:
    """One grade cell of the assignment, and what decides its score."""

    notebook: str
    grade_id: str
    points: float
    step: str | None = None  # a test cell's step
    public: tuple[str, ...] = ()  # the public checks it runs
    hidden: tuple[str, ...] = ()  # the hidden checks it runs
    question: str | None = None  # a concept question's name

    def results(self, result: SubmissionResult,
                public_titles: Mapping[tuple[str, str], str]) -> list[tuple[bool, str]]:
        """(passed, what it says) for everything this cell checks, as the cell's output would say it."""
        if self.question is not None:  # scored by the grader itself (`concept_answers`), one source for both views
            test = next((t for t in result.tests if t.check == question_id(self.question)), None)
            if test is None or not test.passed:
                said = "not answered" if test is None or test.output.startswith("not answered") else \
                    "not the right answer"
                return [(False, f"{self.question}: {said}")]
            return [(True, f"{self.question}: right")]
        hidden = {t.check: t for t in result.tests if t.step == self.step}
        public = result.public.get(self.step or "", {})
        found = []
        for name in self.public:
            title = public_titles.get((self.step or "", name), name)
            outcome = public.get(name)
            found.append((outcome is not None and outcome.passed,
                          title if outcome is None or outcome.passed else f"{title}\n{outcome.message}"))
        for name in self.hidden:
            test = hidden.get(name)
            passed = test is not None and test.passed
            title = f"hidden test: {test.title if test else name}"
            found.append((passed, title if passed or test is None else f"{title}\n{test.output}"))
        return found

    def score(self, result: SubmissionResult, public_titles: Mapping[tuple[str, str], str] | None = None) -> float:
        """``points`` when everything this cell checks passed in ``result`` (all or nothing), else 0."""
        passed = all(ok for ok, _ in self.results(result, public_titles or {}))
        return self.points if passed else 0.0

    def output(self, result: SubmissionResult, public_titles: Mapping[tuple[str, str], str]) -> str:
        """The cell's output in the autograded notebook: one line per check, ✓ or ✗, a failure's message indented."""
        lines = []
        for passed, text in self.results(result, public_titles):
            first, *rest = text.splitlines() or [""]
            lines += [f"{'✓' if passed else '✗'} {first}", *(f"    {line}" for line in rest)]
        return "\n".join(lines) + "\n"


@dataclass
class Gradebook:
    """nbgrader's gradebook at ``path``, with the assignment's grade cells."""

    path: Path
    cells: list[GradeCell]
    public_titles: dict[tuple[str, str], str]  # (step, public check name) -> its title
    sources: dict[tuple[str, str], str]  # (notebook, grade id) -> the grade cell's source, hidden tests included

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"

    @property
    def private_paths(self) -> tuple[Path, ...]:
        """What learner code must not see: the gradebook (it holds the hidden tests' source) and the
        course's source notebooks and graded output beside it (nbgrader's course root)."""
        root = self.path.parent
        return (self.path, root / "solutions", root / "autograded", root / "feedback")

    def write(self, results: Sequence[SubmissionResult], folders: Mapping[str, Path]) -> str:
        """Write every grade cell's score for each result (student = submission name); a one-line summary.

        ``folders``: submission name -> its folder, where its notebooks are (the concept questions'
        answers were read and scored by the grader: `concept_answers`).
        """
        from nbgrader.api import Gradebook as NbgraderGradebook

        written: list[str] = []
        skipped: list[str] = []
        failed: list[str] = []
        with NbgraderGradebook(self.url) as gradebook, warnings.catch_warnings():
            warnings.simplefilter("ignore")  # SQLAlchemy's autoflush notes inside nbgrader's add_submission
            for result in results:
                if not result.tests:  # the grader failed on it: nothing to write
                    skipped.append(result.name)
                    continue
                try:
                    self._write_student(gradebook, result, folders.get(result.name))
                except Exception as error:  # noqa: BLE001 - one submission costs only its own entry
                    gradebook.db.rollback()
                    failed.append(f"{result.name} ({type(error).__name__}: {error})")
                    continue
                written.append(result.name)
        line = (f"gradebook: {len(self.cells)} grade cells written for {len(written)} students into {self.path}, "
                f"their notebooks into {self.path.parent / 'autograded'}")
        if failed:
            line += f"; could not be written: {', '.join(failed)}"
        return line + (f"; not written (the grader failed): {', '.join(skipped)}" if skipped else "")

    def _write_student(self, gradebook: Any, result: SubmissionResult, folder: Path | None) -> None:
        """One student's grade cells (``gradebook``: nbgrader's open `Gradebook`) and autograded notebooks."""
        gradebook.update_or_create_student(result.name)
        stamp = handed_in_at(folder) if folder else None  # nbgrader's late penalty reads it
        extra = {"timestamp": stamp} if stamp is not None else {}
        gradebook.update_or_create_submission(ASSIGNMENT, result.name, **extra)
        for cell in self.cells:
            grade = gradebook.find_grade(cell.grade_id, cell.notebook, ASSIGNMENT, result.name)
            grade.auto_score = cell.score(result, self.public_titles)
            grade.needs_manual_grade = grade.manual_score is not None
        gradebook.db.commit()
        if folder:
            self._write_autograded(result, folder)

    def _write_autograded(self, result: SubmissionResult, folder: Path) -> None:
        """``autograded/<student>/notebooks/*.ipynb`` beside the gradebook, as ``nbgrader autograde`` leaves them.

        Each handed-in notebook, with every grade cell's source restored from the gradebook (a
        deleted one put back at the end) and its output saying what passed: what ``nbgrader
        generate_feedback`` and formgrader read. Learner code is never run here.
        """
        target = self.path.parent / "autograded" / result.name / ASSIGNMENT
        for notebook in dict.fromkeys(c.notebook for c in self.cells):
            path = notebook_path(folder, notebook)
            data = read_notebook(path) if path is not None else None
            if data is None or not isinstance(data.get("cells"), list):
                continue
            mine = {c.grade_id: c for c in self.cells if c.notebook == notebook}
            by_id: dict[str, dict] = {}
            for cell in data["cells"]:  # the first cell of each grade id is that grade cell; no other cell is one
                meta = cell.get("metadata") if isinstance(cell, dict) else None
                marks = meta.get("nbgrader") if isinstance(meta, dict) else None
                if not isinstance(marks, dict):
                    continue
                grade_id = marks.get("grade_id")
                if isinstance(grade_id, str) and grade_id in mine and grade_id not in by_id:
                    by_id[grade_id] = cell
                    marks.update(grade=True, solution=False, locked=True, points=mine[grade_id].points)
                elif marks.get("grade"):  # a forged or duplicated grade cell: not one for nbgrader
                    marks["grade"] = False
            for cell in data["cells"]:  # stored outputs are learner text (a <script> in an HTML output): cleared,
                if isinstance(cell, dict) and cell.get("cell_type") == "code":  # as nbgrader's autograde does
                    cell.update(outputs=[], execution_count=None)
            for grade in mine.values():
                cell = by_id.get(grade.grade_id)
                if cell is None:  # deleted by the learner: nbgrader's add_missing_cells puts it back
                    cell = {"cell_type": "code", "execution_count": None, "metadata": {"nbgrader": {
                        "grade": True, "grade_id": grade.grade_id, "locked": True, "points": grade.points,
                        "solution": False, "schema_version": 3}}}
                    data["cells"].append(cell)
                cell.update(cell_type="code", execution_count=cell.get("execution_count") if isinstance(
                    cell.get("execution_count"), int) else None, source=self.sources[(notebook, grade.grade_id)])
                cell["outputs"] = [{"output_type": "stream", "name": "stdout",
                                    "text": grade.output(result, self.public_titles)}]
            target.mkdir(parents=True, exist_ok=True)
            (target / f"{notebook}.ipynb").write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n",
                                                      encoding="utf-8")


def handed_in_at(folder: Path) -> datetime.datetime | None:
    """nbgrader collect's ``timestamp.txt`` (``<folder>/notebooks/`` or ``<folder>/``), or None."""
    for path in (folder / ASSIGNMENT / "timestamp.txt", folder / "timestamp.txt"):
        try:
            if not stat.S_ISREG(os.lstat(path).st_mode):
                continue
            with path.open("rb") as reader:
                text = reader.read(200).decode("utf-8", errors="replace").strip()
        except OSError:
            continue
        from nbgrader.utils import parse_utc

        try:
            return parse_utc(text)
        except (ValueError, OverflowError):
            return None
    return None


def open_gradebook(path: str | Path, public: CheckRegistry) -> Gradebook:
    """The gradebook at ``path`` and its grade cells; `UsageError` (one line) when it cannot be used."""
    db = Path(path).resolve()
    if not db.is_file():
        raise UsageError(f"{path}: no such gradebook; {REGENERATE} first (it creates gradebook.db)")
    try:  # read-only first: nbgrader would add its tables to any SQLite file it opens
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as connection:
            tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        connection.close()
    except sqlite3.Error as error:
        raise UsageError(f"{path}: not an nbgrader gradebook ({error})") from None
    if not NBGRADER_TABLES <= tables:
        raise UsageError(f"{path}: not an nbgrader gradebook (no {', '.join(sorted(NBGRADER_TABLES - tables))} table)")
    from nbgrader.api import Gradebook as NbgraderGradebook
    from nbgrader.api import MissingEntry

    cells, sources = [], {}
    with NbgraderGradebook(f"sqlite:///{db}") as gradebook:
        try:
            assignment = gradebook.find_assignment(ASSIGNMENT)
        except MissingEntry:
            raise UsageError(f"{path} has no assignment {ASSIGNMENT!r}; {REGENERATE} first") from None
        for notebook in assignment.notebooks:
            for grade_cell in notebook.grade_cells:
                source = gradebook.find_source_cell(grade_cell.name, notebook.name, ASSIGNMENT).source
                cells.append(parse_grade_cell(notebook.name, grade_cell.name, float(grade_cell.max_score), source))
                sources[(notebook.name, grade_cell.name)] = source
    if not cells:
        raise UsageError(f"{path}: the assignment {ASSIGNMENT!r} has no grade cells; {REGENERATE}")
    _check_names(path, cells, public)
    titles = {(step, check.name): check.title for step in public.steps() for check in public.for_step(step)}
    return Gradebook(db, cells, titles, sources)


def parse_grade_cell(notebook: str, grade_id: str, points: float, source: str) -> GradeCell:
    """What a grade cell's source checks: the calls of ``check``, ``run_hidden`` and ``run_question`` in it."""
    where = f"grade cell {grade_id!r} of {notebook}"
    try:
        tree = parsing.parse(source)
    except SyntaxError:
        raise UsageError(f"the gradebook's {where} is not valid Python; {REGENERATE}") from None
    step, public, hidden, question = None, [], [], None
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.args):
            continue
        first = _literal(node.args[0])
        if node.func.id == "check":
            step = first
            public += [_literal(a) for a in node.args[2:]]
        elif node.func.id == "run_hidden":
            step = first
            named = next((_literal(k.value) for k in node.keywords if k.arg == "check"), None)
            hidden += [named] if isinstance(named, str) else list(named or [None])
        elif node.func.id == "run_question":
            question = first
    if question is not None:
        return GradeCell(notebook, grade_id, points, question=question)
    if step is None or not hidden:
        raise UsageError(f"the gradebook's {where} runs no hidden check the grader knows; {REGENERATE}")
    return GradeCell(notebook, grade_id, points, step, tuple(public), tuple(hidden))


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return None


def _check_names(path: str | Path, cells: list[GradeCell], public: CheckRegistry) -> None:
    """Every check and question the cells name exists in this course (else the gradebook is another release's)."""
    hidden = load_hidden_checks()
    for index, cell in enumerate(cells):
        if cell.question is not None:
            unknown = [] if cell.question in QUESTIONS else [cell.question]
        else:
            names = {c.name for c in hidden.for_step(cell.step)}
            if None in cell.hidden:  # run_hidden without check=: every hidden check of the step
                cells[index] = cell = GradeCell(cell.notebook, cell.grade_id, cell.points, cell.step, cell.public,
                                                tuple(sorted(names)))
            known = names | {c.name for c in public.for_step(cell.step)}
            unknown = [n for n in (*cell.public, *cell.hidden) if n not in known]
        if unknown:
            raise UsageError(f"{path}: grade cell {cell.grade_id!r} of {cell.notebook} names "
                             f"{', '.join(map(repr, unknown))}, which this course does not have; {REGENERATE}")

"""A notebook submission, as the ``attention`` package: so that ``python -m autograder grade`` grades notebooks.

A submission folder without ``attention/`` but with the step notebooks (``<folder>/*.ipynb`` or
``<folder>/notebooks/*.ipynb``, as in ``exercises/`` or in nbgrader's
``submitted/<student>/notebooks/``) is turned into ``attention/<module>.py`` files inside the
grader's private copy (`extract`, called by the intake, ``autograder/grading/intake.py``):

- for every step, the notebook course.yml names for it is read with the ``json`` module (the
  grader never imports nbformat), without following symbolic links and with the same size limit
  as Python files;
- the step's answer cells (nbgrader ``grade_id`` ``<step>_answer``) become the module, in order;
- the names of *earlier* steps' APIs that the code uses without defining them (``init_projections``
  in ``SelfAttention``, ``SelfAttention`` in the wrapper) are imported from ``attention.<module>``
  on the module's first line, where the sandbox's import router gives them the grader's stand-ins,
  exactly as for a package submission. Cell line ``n`` is module line ``n + 1``.

Everything else in the notebooks (outputs, other cells) is ignored. The concept questions' answer
cells are read by `question_answer`, without running them (``ast.literal_eval`` of the value the
cell assigns), and scored by every path (`autograder.grading.concept_answers`).
"""

from __future__ import annotations

import ast
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .. import parsing
from ..course import Course, load_course
from ..notebook_ids import NOTEBOOK_FOLDER, answer_id, question_id
from .caps import MAX_FILE_BYTES as MAX_NOTEBOOK_BYTES


@dataclass
class Extraction:
    modules: dict[str, str] = field(default_factory=dict)  # module name -> source
    notes: list[str] = field(default_factory=list)
    notebooks: list[str] = field(default_factory=list)  # the notebooks read, for the notes
    origins: dict[str, str] = field(default_factory=dict)  # module name -> the notebook it came from


def notebook_path(folder: Path, notebook: str) -> Path | None:
    """``<folder>/<notebook>.ipynb`` or ``<folder>/notebooks/<notebook>.ipynb``, if it exists."""
    for candidate in (folder / f"{notebook}.ipynb", folder / NOTEBOOK_FOLDER / f"{notebook}.ipynb"):
        if os.path.lexists(candidate):
            return candidate
    return None


def has_notebooks(folder: Path) -> bool:
    return any(folder.glob("*.ipynb")) or any((folder / NOTEBOOK_FOLDER).glob("*.ipynb"))


def _read_json(path: Path, shown: str, notes: list[str]) -> dict | None:
    try:
        info = os.lstat(path)
    except OSError:
        return None
    if not stat.S_ISREG(info.st_mode):
        notes.append(f"{shown} is not a regular file (a symbolic link?): it was ignored")
        return None
    if info.st_size > MAX_NOTEBOOK_BYTES:
        notes.append(f"{shown} is larger than {MAX_NOTEBOOK_BYTES // 1024 // 1024} MB: it was ignored")
        return None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as reader:
            data = json.loads(reader.read().decode("utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as error:
        notes.append(f"{shown} could not be read as a notebook ({type(error).__name__}): it was ignored")
        return None
    return data if isinstance(data, dict) else None


def read_notebook(path: Path) -> dict | None:
    """A notebook's JSON, read as `extract` reads it (no symbolic link, the size cap); None when it cannot be."""
    return _read_json(path, path.name, [])


def answer_sources(notebook: dict, step_id: str) -> list[str]:
    """The sources of the answer cells of ``step_id`` in a notebook's JSON, in order."""
    return cell_sources(notebook, answer_id(step_id))


def cell_sources(notebook: dict, grade_id: str) -> list[str]:
    """The sources of the code cells with nbgrader grade id ``grade_id`` in a notebook's JSON, in order."""
    found = []
    for cell in notebook.get("cells", []) if isinstance(notebook.get("cells"), list) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {})
        nbgrader = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
        if not isinstance(nbgrader, dict) or nbgrader.get("grade_id") != grade_id:
            continue
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(str(part) for part in source)
        found.append(str(source))
    return found


def earlier_imports(source: str, step_id: str, course: Course) -> list[str]:
    """``from attention.<module> import <name>`` for earlier steps' names ``source`` uses but never defines."""
    try:
        tree = parsing.parse(source)
    except SyntaxError:
        return []  # the grader reports the syntax error for this step
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    defined: set[str] = set()
    for node in tree.body:  # what the module defines at its top level
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            defined.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            defined.update(n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name))
    lines = []
    for step in course.earlier_steps(step_id):
        names = [name for name in step.api if name in used and name not in defined]
        if names:
            lines.append(f"from attention.{step.module} import {', '.join(names)}")
    return lines


EXTRACTED_BY = " by the grader"  # ends the first line `extract` writes above a notebook's answer cells


def learner_code(module_source: str) -> str:
    """A module's code without the first line `extract` added (the earlier steps' imports), if it has one."""
    first, newline, rest = module_source.partition("\n")
    return rest if newline and first.endswith(EXTRACTED_BY) and "# extracted from " in first else module_source


def extract(folder: Path, course: Course | None = None) -> Extraction:
    """The ``attention`` modules a notebook submission in ``folder`` holds (see the module docstring)."""
    course = course or load_course(package_dir=None)
    result = Extraction()
    cache: dict[str, dict | None] = {}
    for step in course.steps:
        path = notebook_path(folder, step.notebook)
        if path is None:
            continue
        shown = path.relative_to(folder).as_posix()
        if shown not in cache:
            cache[shown] = _read_json(path, shown, result.notes)
            if cache[shown] is not None:
                result.notebooks.append(shown)
        notebook = cache[shown]
        if notebook is None:
            continue
        sources = answer_sources(notebook, step.id)
        if not sources:
            result.notes.append(f"{shown} has no answer cell for step {step.id!r} (grade id {answer_id(step.id)})")
            continue
        code = "\n\n".join(sources)
        imports = earlier_imports(code, step.id, course)
        first = "; ".join(imports) if imports else "# (no earlier step used)"
        result.modules[step.module] = f"{first}  # extracted from {shown}{EXTRACTED_BY}\n{code}\n"
        result.origins[step.module] = shown
    return result


NO_ANSWER = object()  # `question_answer` when the notebook gives no literal value for the question


def question_answer(folder: Path, notebook: str, name: str) -> object:
    """The value the concept question ``name``'s answer cell in ``<folder>/[notebooks/]<notebook>.ipynb`` assigns.

    The cell is never run: see `assigned_value` (its answer cells have grade id
    ``question_<name>``). `NO_ANSWER` when the notebook or the cell is missing too.
    """
    path = notebook_path(folder, notebook)
    data = read_notebook(path) if path is not None else None
    if data is None:
        return NO_ANSWER
    return assigned_value(cell_sources(data, question_id(name)), name)


def assigned_value(sources: list[str], name: str) -> object:
    """The value the last top-level ``name = <literal>`` of ``sources`` assigns, read, never run.

    Each source is parsed (`parsing.parse`) and the assigned expression read with
    ``ast.literal_eval`` in this trusted process. `NO_ANSWER` when a source does not parse (or is
    too deep or too large to), the value is no literal (``...``, an expression, a call), or
    ``name`` is never assigned. Used for the notebooks' answer cells and ``attention/answers.py``.
    """
    value = NO_ANSWER
    for source in sources:
        for tree in _statements(source, name):
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name
                                                        for t in node.targets):
                    try:
                        value = ast.literal_eval(node.value)
                    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
                        value = NO_ANSWER
    return NO_ANSWER if value is Ellipsis else value


def _statements(source: str, name: str) -> list[ast.Module]:
    """``source`` parsed whole; when it does not parse, each top-level ``name = ...`` of it parsed alone.

    So that one answer that cannot be parsed (a syntax error, nesting too deep for the parser)
    in a file of several answers costs that answer only: the statement runs from its line to the
    next line that starts another top-level assignment.
    """
    try:
        return [parsing.parse(source)]
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        pass
    lines = source.splitlines()
    starts = [i for i, line in enumerate(lines) if _TOP_ASSIGNMENT.match(line)] + [len(lines)]
    mine = [(first, end) for first, end in zip(starts, starts[1:], strict=False)
            if _TOP_ASSIGNMENT.match(lines[first]).group(1) == name]  # type: ignore[union-attr]
    for first, end in reversed(mine[-MAX_RETRIES:]):  # the last one that parses, as when the whole file does
        try:
            return [parsing.parse("\n".join(lines[first:end]))]
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    return []


MAX_RETRIES = 20  # statements of one name tried alone, at most: a file of thousands costs no more
_TOP_ASSIGNMENT = re.compile(r"^([A-Za-z_]\w*)\s*=")

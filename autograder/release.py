"""``python -m autograder release``: regenerate ``exercises/`` from ``solutions/`` and ``course.yml``.

What one run writes is the union of the *generators* in `GENERATORS`:

- ``exercises/selfcheck/steps.py``: the step table the public checks need (`render_steps_module`);
- ``exercises/attention/*.py``: the learner stubs (`render_stubs`). Each solution module becomes a
  stub by `make_stub`: every region between a ``### BEGIN SOLUTION`` line and its
  ``### END SOLUTION`` line becomes, at the BEGIN line's indentation, ::

      raise NotImplementedError("<step id>: <qualified name> is not implemented yet")

  e.g. ``"self_attention: SelfAttention.forward is not implemented yet"``. Everything outside the
  regions (imports, signatures, docstrings and their ``Hint:`` lines, comments) is kept.

To generate more files (the notebooks), write ``render_x(course, layout) -> {path: text}`` and
append ``Generator("x", render_x, owns=(...))`` to `GENERATORS`: `write_release`, the sync part
of `check_release` and the command pick it up; ``owns`` (globs under ``exercises/``) lets
``release`` remove files of that kind that are no longer generated.

`check_release` is the read-only counterpart, for tests and for exporting a learner bundle: it
reports generated files that are missing, out of date or stale, misplaced solution markers, and
solution code found anywhere under ``exercises/`` (the leak check, `find_leaks`).
``python -m autograder release --check`` prints those problems and exits 1 when there are any.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import re
import sys
import tokenize
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from . import REPO_ROOT
from .course import Course, load_course

EXERCISES = REPO_ROOT / "exercises"
STEPS_MODULE = EXERCISES / "selfcheck" / "steps.py"

BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"

MAX_LINE = 120  # generated Python follows the project's line length (pyproject.toml)


class MarkerError(ValueError):
    """A solution module cannot be turned into a stub (misplaced markers, invalid Python).

    ``str()`` is one line naming the file and the line.
    """


# ---------------------------------------------------------------------------------------
# Where release reads and writes
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """The folders release reads and writes, under ``root`` (tests use a temporary copy)."""

    root: Path = REPO_ROOT

    @property
    def solutions(self) -> Path:
        return self.root / "solutions"

    @property
    def exercises(self) -> Path:
        return self.root / "exercises"

    @property
    def solution_package(self) -> Path:
        return self.solutions / "attention"

    @property
    def stub_package(self) -> Path:
        return self.exercises / "attention"

    @property
    def steps_module(self) -> Path:
        return self.exercises / "selfcheck" / "steps.py"

    def show(self, path: Path) -> str:
        """``path`` relative to the root, for messages: ``exercises/attention/tokens.py``."""
        try:
            return path.relative_to(self.root).as_posix()
        except ValueError:
            return str(path)


# ---------------------------------------------------------------------------------------
# The step table
# ---------------------------------------------------------------------------------------


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
        fields = [repr(number), repr(step.id), repr(step.title), repr(step.module), repr(step.notebook)]
        api = tuple(step.api)
        one_line = f"    StepInfo({', '.join([*fields, repr(api)])}),"
        if len(one_line) <= MAX_LINE:
            lines.append(one_line)
            continue
        lines.append("    StepInfo(")
        lines += [f"        {field}," for field in fields]
        if len(f"        {api!r},") <= MAX_LINE:
            lines.append(f"        {api!r},")
        else:
            lines += ["        (", *(f"            {name!r}," for name in api), "        ),"]
        lines.append("    ),")
    lines += [")", "", "BY_ID = {step.id: step for step in STEPS}", ""]
    return "\n".join(lines)


def render_steps_table(course: Course, layout: Layout) -> dict[Path, str]:
    return {layout.steps_module: render_steps_module(course)}


# ---------------------------------------------------------------------------------------
# Solution regions and stubs
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Region:
    """One ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region of a solution module."""

    begin: int  # line number (1-based) of the BEGIN line
    end: int  # line number of the END line
    indent: str  # the BEGIN line's indentation, where the stub's `raise` goes
    qualname: str  # the enclosing function, e.g. "SelfAttention.forward"

    def stub_line(self, step_id: str) -> str:
        """The line that replaces the region in the stub."""
        return f'{self.indent}raise NotImplementedError("{not_implemented_message(step_id, self.qualname)}")'


def not_implemented_message(step_id: str, qualname: str) -> str:
    """``"tokens: build_vocab is not implemented yet"``: what a stub raises."""
    return f"{step_id}: {qualname} is not implemented yet"


def solution_regions(source: str, filename: str = "<source>") -> list[Region]:
    """The solution regions of a module's ``source``, in order.

    Rules (a violation raises `MarkerError` naming the line): markers are alone on their line,
    spelled exactly ``### BEGIN SOLUTION`` / ``### END SOLUTION``; every BEGIN has an END at the
    same indentation and regions do not nest; a region holds at least one statement, its first
    statement is at the BEGIN line's indentation, and all its statements belong to the body of
    one function or method (never module level or a class body), so a stub still defines every
    name and each region is a self-contained body that nbgrader can replace too.
    """
    pairs: list[tuple[int, int, str]] = []
    open_at: tuple[int, str] | None = None
    for number, line in enumerate(source.splitlines(), start=1):
        stripped = line.strip()
        indent = line[: len(line) - len(line.lstrip())]
        if stripped == BEGIN_SOLUTION:
            if open_at is not None:
                raise MarkerError(
                    f"{filename}, line {number}: {BEGIN_SOLUTION} inside the region opened at line {open_at[0]}"
                )
            open_at = (number, indent)
        elif stripped == END_SOLUTION:
            if open_at is None:
                raise MarkerError(f"{filename}, line {number}: {END_SOLUTION} without a {BEGIN_SOLUTION}")
            if indent != open_at[1]:
                raise MarkerError(
                    f"{filename}, line {number}: {END_SOLUTION} is not indented like its "
                    f"{BEGIN_SOLUTION} (line {open_at[0]})"
                )
            pairs.append((open_at[0], number, open_at[1]))
            open_at = None
        elif BEGIN_SOLUTION in line or END_SOLUTION in line:
            raise MarkerError(f"{filename}, line {number}: a solution marker must be alone on its line")
    if open_at is not None:
        raise MarkerError(f"{filename}, line {open_at[0]}: {BEGIN_SOLUTION} without an {END_SOLUTION}")
    if not pairs:
        return []
    try:
        tree = ast.parse(source, filename=filename)
    except SyntaxError as error:
        raise MarkerError(f"{filename}, line {error.lineno}: not valid Python ({error.msg})") from None
    statements = _statement_owners(tree)
    regions = []
    for begin, end, indent in pairs:
        inside = [s for s in statements if begin < s.line < end]
        if not inside:
            raise MarkerError(f"{filename}, line {begin}: the solution region holds no code")
        first = min(inside, key=lambda s: s.line)
        if first.owner is None:
            raise MarkerError(
                f"{filename}, line {begin}: the solution region is not inside a function body "
                "(regions at module level or in a class body would remove names from the stub)"
            )
        if first.column != len(indent):
            raise MarkerError(
                f"{filename}, line {first.line}: the region's first statement is not at the indentation of its "
                f"{BEGIN_SOLUTION} line"
            )
        for statement in inside:
            if statement.owner != first.owner and not (statement.owner or "").startswith(first.owner + "."):
                raise MarkerError(
                    f"{filename}, line {statement.line}: the solution region opened at line {begin} "
                    f"leaves the body of {first.owner}"
                )
            if statement.end_line >= end:
                raise MarkerError(f"{filename}, line {statement.line}: a statement runs past the {END_SOLUTION} line")
        regions.append(Region(begin, end, indent, first.owner))
    return regions


@dataclass(frozen=True)
class _Statement:
    line: int
    end_line: int
    column: int
    owner: str | None  # qualified name of the innermost function whose body holds it


def _statement_owners(tree: ast.Module) -> list[_Statement]:
    found: list[_Statement] = []

    def visit(node: ast.AST, scope: tuple[str, ...], owner: str | None) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.stmt):
                found.append(_Statement(child.lineno, child.end_lineno or child.lineno, child.col_offset, owner))
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                inner = (*scope, child.name)
                visit(child, inner, ".".join(inner))
            elif isinstance(child, ast.ClassDef):
                visit(child, (*scope, child.name), None)
            else:
                visit(child, scope, owner)

    visit(tree, (), None)
    return found


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
    """``exercises/attention/<module>.py`` for every ``solutions/attention/<module>.py``."""
    step_of_module = {step.module: step.id for step in course.steps}
    stubs = {}
    for path in sorted(layout.solution_package.glob("*.py")):
        step_id = step_of_module.get(path.stem, path.stem)
        source = path.read_text(encoding="utf-8")
        stubs[layout.stub_package / path.name] = make_stub(source, step_id, filename=layout.show(path))
    return stubs


# ---------------------------------------------------------------------------------------
# Generators, writing, sync check
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Generator:
    """One kind of generated file.

    ``render(course, layout)`` returns ``{path: text}``. ``owns`` are globs, relative to
    ``exercises/``, matching only files this generator produces: a file there that ``render``
    no longer produces is stale (reported by `check_release`, removed by the command).
    """

    name: str
    render: Callable[[Course, Layout], dict[Path, str]]
    owns: tuple[str, ...] = ()


def render_source_notebooks(course: Course, layout: Layout) -> dict[Path, str]:
    """``solutions/notebooks/*.ipynb``: the nbgrader source notebooks (`autograder.notebooks.build`)."""
    from .notebooks.learner import render_sources  # lazily: nbformat and the checks are slow to import

    return render_sources(course, layout)


def render_learner_notebooks(course: Course, layout: Layout) -> dict[Path, str]:
    """``exercises/notebooks/*``: what ``nbgrader generate_assignment`` makes of the source notebooks."""
    from .notebooks.learner import render_learner_notebooks as render  # lazily: runs nbgrader

    return render(course, layout)


GENERATORS: list[Generator] = [
    Generator("step table", render_steps_table),
    Generator("stubs", render_stubs, owns=("attention/*.py",)),
    Generator("source notebooks", render_source_notebooks),
    Generator("learner notebooks", render_learner_notebooks, owns=("notebooks/*",)),
]


def generated_files(course: Course, layout: Layout | None = None) -> dict[Path, str]:
    """Every generated learner file (path -> content). Raises `MarkerError` for a bad solution."""
    layout = layout or Layout()
    files: dict[Path, str] = {}
    for generator in GENERATORS:
        for path, content in generator.render(course, layout).items():
            if path in files:
                raise ValueError(f"{layout.show(path)} is produced twice (generator {generator.name!r})")
            files[path] = content
    return files


def stale_files(course: Course, layout: Layout | None = None, files: dict[Path, str] | None = None) -> list[Path]:
    """Files matching a generator's ``owns`` globs that no generator produces any more."""
    layout = layout or Layout()
    files = generated_files(course, layout) if files is None else files
    stale = set()
    for generator in GENERATORS:
        for pattern in generator.owns:
            stale.update(p for p in layout.exercises.glob(pattern) if p.is_file() and p not in files)
    return sorted(stale)


def write_release(course: Course, layout: Layout | None = None) -> list[Path]:
    """Write every generated file whose content changed; return the paths written."""
    written = []
    for path, content in generated_files(course, layout).items():
        if _read_text(path) != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written


def remove_stale(course: Course, layout: Layout | None = None) -> list[Path]:
    """Delete the `stale_files`; return them."""
    stale = stale_files(course, layout)
    for path in stale:
        path.unlink()
    return stale


def check_release(course: Course, layout: Layout | None = None) -> list[str]:
    """Problems with ``exercises/``, one line each; an empty list when all is well.

    - a generated file that is missing or differs from what ``release`` would write;
    - a stale file (see `Generator.owns`);
    - a solution module with misplaced markers;
    - solution code anywhere under ``exercises/`` (see `find_leaks`).
    """
    layout = layout or Layout()
    try:
        files = generated_files(course, layout)
    except MarkerError as error:
        return [str(error)]
    fix = "run `python -m autograder release`"
    problems = []
    for path, content in files.items():
        current = _read_text(path)
        if current is None:
            problems.append(f"{layout.show(path)}: missing; {fix}")
        elif current != content:
            problems.append(f"{layout.show(path)}: out of date; {fix}")
    for path in stale_files(course, layout, files):
        problems.append(f"{layout.show(path)}: no longer generated from solutions/; {fix} to remove it")
    problems += [str(leak) for leak in find_leaks(layout)]
    return problems


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None
    except UnicodeDecodeError:
        return ""


# ---------------------------------------------------------------------------------------
# Leak check
# ---------------------------------------------------------------------------------------

MIN_TOKENS = 4  # a significant line has at least this many tokens ...
MIN_WORDS = 2  # ... of which at least this many are names, keywords or numbers
BOILERPLATE = ("super().__init__()",)  # solution lines that may appear anywhere
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
MAX_SCANNED_BYTES = 20_000_000

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SEPARATOR = "\x1f"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


@dataclass(frozen=True)
class SolutionLine:
    """A significant line of solution code and where it comes from."""

    code: str  # the line, stripped, without its comment
    path: Path
    line: int


@dataclass(frozen=True)
class Leak:
    """A significant solution line found in a file under ``exercises/``."""

    where: str  # "exercises/attention/tokens.py"
    line: int
    solution: SolutionLine
    solution_where: str

    def __str__(self) -> str:
        return (
            f"{self.where}, line {self.line}: solution code from {self.solution_where}, "
            f"line {self.solution.line}: `{self.solution.code}`"
        )


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _needle(tokens: list[str]) -> str:
    return _SEPARATOR + _SEPARATOR.join(tokens) + _SEPARATOR


def _code_lines(source: str) -> list[str]:
    """The lines of ``source`` with their comments removed (``tokenize`` knows what is a comment)."""
    lines = source.splitlines()
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                row, column = token.start
                lines[row - 1] = lines[row - 1][:column]
    except (tokenize.TokenError, SyntaxError, IndexError):
        pass  # keep the lines as they are
    return lines


def significant_solution_lines(package: Path, layout: Layout | None = None) -> dict[str, SolutionLine]:
    """The significant lines of solution code in ``package``, keyed by their token sequence.

    A line inside a solution region is significant when, with its comment removed and
    whitespace ignored, it has at least `MIN_TOKENS` tokens of which `MIN_WORDS` are names,
    keywords or numbers (this skips blank and comment-only lines, lines of punctuation such as
    ``)`` and short generic lines such as ``return out``, ``try:`` or ``ids = []``), it is not in
    `BOILERPLATE`, and its token sequence occurs in no line *outside* the solution regions of
    any module of the package, whole or as part of a longer line (so code the stubs
    legitimately keep, such as ``return out`` or ``torch.manual_seed(seed)`` quoted in a
    docstring, never counts).
    """
    layout = layout or Layout()
    inside: list[SolutionLine] = []
    outside: list[str] = [_needle(_tokens(line)) for line in BOILERPLATE]
    for path in sorted(package.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        in_region: set[int] = set()
        for region in solution_regions(source, layout.show(path)):
            in_region.update(range(region.begin + 1, region.end))
        for number, code in enumerate(_code_lines(source), start=1):
            tokens = _tokens(code)
            if not tokens:
                continue
            if number in in_region:
                if len(tokens) >= MIN_TOKENS and sum(t[0].isalnum() or t[0] == "_" for t in tokens) >= MIN_WORDS:
                    inside.append(SolutionLine(code.strip(), path, number))
            else:
                outside.append(_needle(tokens))
    kept_text = "\n".join(outside)  # needles hold no newline, so they cannot match across lines
    significant: dict[str, SolutionLine] = {}
    for line in inside:
        key = _needle(_tokens(line.code))
        if key not in kept_text:
            significant.setdefault(key, line)
    return significant


def _scanned_files(root: Path) -> Iterator[tuple[Path, str]]:
    """(path, text) of every text file under ``root``; binary and cache files are skipped."""
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        if not path.is_file() or SKIPPED_DIRS.intersection(path.relative_to(root).parts):
            continue
        try:
            if path.stat().st_size > MAX_SCANNED_BYTES:
                continue
            data = path.read_bytes()
        except OSError:
            continue
        if b"\0" in data:
            continue
        try:
            yield path, data.decode("utf-8")
        except UnicodeDecodeError:
            continue


def _texts_of_line(line: str, is_json: bool) -> Iterator[str]:
    """The line itself and, in JSON files (notebooks), the decoded lines of its string literals."""
    yield line
    if is_json and '"' in line:
        for match in _JSON_STRING.finditer(line):
            try:
                decoded = json.loads(match.group())
            except ValueError:
                continue
            if "\\" in match.group():
                yield from decoded.splitlines()


def find_leaks(layout: Layout | None = None) -> list[Leak]:
    """Significant solution lines (see `significant_solution_lines`) found under ``exercises/``.

    Every text file under ``exercises/`` is scanned (Python, notebooks, Markdown, text, ...;
    binary files and caches are skipped). A file line leaks a solution line when the solution
    line's tokens appear in it contiguously: indentation, spacing and a trailing comment make
    no difference, and a solution line pasted into a longer line (a Markdown code span, a
    notebook's JSON string, whose escapes are decoded first) is still found. Tokens must match
    whole, so ``n = len(w)`` is not found inside ``kn = len(w)``.
    """
    layout = layout or Layout()
    significant = significant_solution_lines(layout.solution_package, layout)
    by_anchor: dict[str, list[tuple[str, SolutionLine]]] = {}
    for needle, solution in significant.items():
        anchor = max(needle.strip(_SEPARATOR).split(_SEPARATOR), key=len)
        by_anchor.setdefault(anchor, []).append((needle, solution))
    leaks = []
    for path, text in _scanned_files(layout.exercises):
        is_json = path.suffix in (".ipynb", ".json")
        for number, line in enumerate(text.splitlines(), start=1):
            found: dict[str, SolutionLine] = {}
            for piece in _texts_of_line(line, is_json):
                tokens = _tokens(piece)
                haystack = _needle(tokens)
                for token in set(tokens):
                    for needle, solution in by_anchor.get(token, ()):
                        if needle in haystack:
                            found.setdefault(needle, solution)
            leaks += [Leak(layout.show(path), number, s, layout.show(s.path)) for s in found.values()]
    return leaks


# ---------------------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; list out-of-date or stale generated files and leaked solution code, exit 1 if any",
    )
    parser.add_argument(
        "--out",
        metavar="DIR",
        help="also build the learner bundle in DIR (exercises/, a learner README, a zip), leak-checked",
    )


def run(args: argparse.Namespace) -> int:
    from .cli import UsageError

    course = load_course()
    layout = Layout()
    if getattr(args, "check", False):
        problems = check_release(course, layout)
        for problem in problems:
            print(problem)
        if problems:
            print(f"{len(problems)} problem(s) with exercises/", file=sys.stderr)
            return 1
        print("exercises/ is up to date and holds no solution code")
        return 0
    if getattr(args, "out", None):
        from .export.bundle import check_output_folder

        check_output_folder(Path(args.out))  # before the release's slow work
    try:
        written = write_release(course, layout)
        removed = remove_stale(course, layout)
    except MarkerError as error:
        raise UsageError(str(error)) from None
    for path in written:
        print(f"wrote {layout.show(path)}")
    for path in removed:
        print(f"removed {layout.show(path)} (no longer generated)")
    if not written and not removed:
        print("exercises/ is up to date")
    leaks = find_leaks(layout)
    for leak in leaks:
        print(f"leak: {leak}", file=sys.stderr)
    if leaks:
        return 1
    if getattr(args, "out", None):
        from .export.bundle import build_bundle  # the learner bundle (see autograder/export/)

        return build_bundle(course, Path(args.out))
    return 0

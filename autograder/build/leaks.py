"""The one leak scanner: what must never reach learners, found in any folder or set of files.

A leaf of the release: it imports no other ``autograder.build`` module, takes paths and returns
findings (one line each, ``file, line N: what``). It finds

- **solution code**: a significant line of the solution modules (`significant_solution_lines`)
  anywhere in the scanned files, whole or inside a longer line (`find_solution_leaks`);
- **hidden test code**: a significant code line of the hidden checks or of the reference oracle
  that appears nowhere in the public check library (`hidden_lines`, `scan_for_lines`);
- **markers**: nbgrader's solution and hidden-test markers and calls into the hidden checks
  (`autograder.markers.MARKERS`, the one list);
- **concept-question keys** in notebook cells (`notebook_cell_leaks`);
- **course.yml secrets**: the value of any key whose name says it is secret (`course_secrets`);
- **grader and solution files** by name or by content (`scan_folder`).

Callers: ``release`` and ``release --check`` (`autograder.build.generate`), the learner bundle
and the Classroom template (`autograder.build.bundle`), the learner notebooks
(`autograder.build.notebooks.learner`).
"""

from __future__ import annotations

import ast
import hashlib
import io
import json
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import yaml

from autograder import PACKAGE_DIR, REPO_ROOT
from autograder.errors import MarkerError
from autograder.markers import MARKERS, solution_regions

MIN_TOKENS = 4  # a significant solution line has at least this many tokens ...
MIN_WORDS = 2  # ... of which at least this many are names, keywords or numbers
BOILERPLATE = ("super().__init__()",)  # solution lines that may appear anywhere
HIDDEN_MIN_TOKENS = 6  # a significant hidden-check line has at least this many tokens ...
HIDDEN_MIN_WORDS = 4  # ... and this many names, keywords or numbers outside string literals
HIDDEN_SOURCES = ("hidden/*.py", "reference.py", "reference/*.py", "reference/steps/*.py")  # under autograder/
HIDDEN_PLUMBING = ("hidden/__init__.py", "hidden/notebook.py")  # how checks are loaded and run, not what they test
PUBLIC_SOURCES = ("selfcheck/*.py", "selfcheck/**/*.py", "tests/*.py", "conftest.py")  # under exercises/
SKIPPED_DIRS = {"__pycache__", ".ipynb_checkpoints", ".pytest_cache", ".mypy_cache", ".ruff_cache", ".git"}
MAX_SCANNED_BYTES = 20_000_000
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
FORBIDDEN_NAMES = {"course.yml", "results.json", "grades.csv"}
FORBIDDEN_DIRS = {"autograder", "solutions", ".git"}
SECRET_KEY = re.compile(r"secret|token|passw|api_?key|private|credential|salt|seed|^key$", re.I)

_TOKEN = re.compile(r"\w+|[^\w\s]")
_SEPARATOR = "\x1f"
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')


class Shows(Protocol):
    """Anything that shows a path for a message (`autograder.build.layout.Layout` does)."""

    def show(self, path: Path) -> str: ...


class _Relative:
    """Shows a path relative to the first of ``bases`` that holds it."""

    def __init__(self, *bases: Path) -> None:
        self.bases = bases

    def show(self, path: Path) -> str:
        for base in self.bases:
            try:
                return path.relative_to(base).as_posix()
            except ValueError:
                continue
        return str(path)


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




def tokens_of(text: str) -> list[str]:
    """Names, numbers and single punctuation characters of ``text``, in order."""
    return _TOKEN.findall(text)


def needle_of(tokens: list[str]) -> str:
    """A token sequence as a string that matches only whole tokens (``in`` another needle)."""
    return _SEPARATOR + _SEPARATOR.join(tokens) + _SEPARATOR


def code_lines(source: str) -> list[str]:
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



def significant_solution_lines(package: Path, layout: Shows | None = None) -> dict[str, SolutionLine]:
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
    layout = layout or _Relative(package.parent.parent)
    inside: list[SolutionLine] = []
    outside: list[str] = [needle_of(tokens_of(line)) for line in BOILERPLATE]
    for path in sorted(package.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        in_region: set[int] = set()
        for region in solution_regions(source, layout.show(path)):
            in_region.update(range(region.begin + 1, region.end))
        for number, code in enumerate(code_lines(source), start=1):
            tokens = tokens_of(code)
            if not tokens:
                continue
            if number in in_region:
                if len(tokens) >= MIN_TOKENS and sum(t[0].isalnum() or t[0] == "_" for t in tokens) >= MIN_WORDS:
                    inside.append(SolutionLine(code.strip(), path, number))
            else:
                outside.append(needle_of(tokens))
    kept_text = "\n".join(outside)  # needles hold no newline, so they cannot match across lines
    significant: dict[str, SolutionLine] = {}
    for line in inside:
        key = needle_of(tokens_of(line.code))
        if key not in kept_text:
            significant.setdefault(key, line)
    return significant



def scanned_files(root: Path) -> Iterator[tuple[Path, str]]:
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


def texts_of_line(line: str, is_json: bool) -> Iterator[str]:
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



def _matches(root: Path, needles: dict[str, object]) -> Iterator[tuple[Path, int, str]]:
    """(file, line number, needle) for every needle found in a text file under ``root``.

    A file line holds a needle when the needle's tokens appear in it contiguously: indentation,
    spacing and a trailing comment make no difference, and a line pasted into a longer line (a
    Markdown code span, a notebook's JSON string, whose escapes are decoded first) is still found.
    Tokens match whole, so ``n = len(w)`` is not found inside ``kn = len(w)``.
    """
    by_anchor: dict[str, list[str]] = {}
    for needle in needles:
        anchor = max(needle.strip(_SEPARATOR).split(_SEPARATOR), key=len)
        by_anchor.setdefault(anchor, []).append(needle)
    for path, text in scanned_files(root):
        is_json = path.suffix in (".ipynb", ".json")
        for number, line in enumerate(text.splitlines(), start=1):
            seen: set[str] = set()
            for piece in texts_of_line(line, is_json):
                tokens = tokens_of(piece)
                haystack = needle_of(tokens)
                for token in set(tokens):
                    for needle in by_anchor.get(token, ()):
                        if needle not in seen and needle in haystack:
                            seen.add(needle)
                            yield path, number, needle


def find_solution_leaks(solution_package: Path, scanned: Path, layout: Shows | None = None) -> list[Leak]:
    """Significant solution lines of ``solution_package`` (`significant_solution_lines`) under ``scanned``.

    Every text file is scanned (Python, notebooks, Markdown, text, ...; binary files and caches
    are skipped); see `_matches` for what a match is.
    """
    layout = layout or _Relative(solution_package.parent.parent)
    significant = significant_solution_lines(solution_package, layout)
    return [Leak(layout.show(path), number, significant[needle], layout.show(significant[needle].path))
            for path, number, needle in _matches(scanned, significant)]


# ---------------------------------------------------------------------------------------
# Hidden test code
# ---------------------------------------------------------------------------------------


def _docstring_lines(tree: ast.AST) -> set[int]:
    """Lines of docstrings and import statements: prose and plumbing, not test content."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) \
                    and isinstance(first.value.value, str):
                lines.update(range(first.lineno, (first.end_lineno or first.lineno) + 1))
    return lines


def _without_strings(source: str) -> list[str]:
    """The lines of ``source`` with string literals blanked out (messages are learner-facing text)."""
    lines = source.splitlines()
    try:
        tokens = [t for t in tokenize.generate_tokens(io.StringIO(source).readline) if t.type == tokenize.STRING]
    except (tokenize.TokenError, SyntaxError, IndexError):
        return lines
    for token in reversed(tokens):
        (first, start), (last, end) = token.start, token.end
        for row in range(first, last + 1):
            line = lines[row - 1]
            left = start if row == first else 0
            right = end if row == last else len(line)
            lines[row - 1] = line[:left] + " " * (right - left) + line[right:]
    return lines


def hidden_lines(grader: Path = PACKAGE_DIR, exercises: Path = REPO_ROOT / "exercises",
                 solutions: Path = REPO_ROOT / "solutions" / "attention") -> dict[str, tuple[str, int, str]]:
    """Significant code lines of the hidden checks and the oracle: needle -> (file, line, code).

    ``grader`` is the ``autograder/`` folder, ``exercises`` the public side, ``solutions`` the
    solution package. The files are `HIDDEN_SOURCES` but `HIDDEN_PLUMBING` (the loader and the
    notebook runner, which share helpers with the public notebook code). A line counts when,
    without its comment, it has at least `HIDDEN_MIN_TOKENS` tokens and `HIDDEN_MIN_WORDS` words
    outside string literals (a message alone is learner-facing text: the grader shows it), is not
    part of a docstring or an import statement, and its tokens appear in no line of the public
    check library nor in what the stubs keep of the solution modules (so
    ``from selfcheck import CheckFailed`` or a signature both share never counts).
    """
    public: list[str] = []
    for pattern in PUBLIC_SOURCES:
        for path in sorted(set(exercises.glob(pattern))):
            public += [needle_of(tokens_of(line)) for line in code_lines(path.read_text(encoding="utf-8"))]
    for path in sorted(solutions.glob("*.py")):  # what the stubs keep (signatures, docstrings) is public
        source = path.read_text(encoding="utf-8")
        try:
            regions = solution_regions(source, path.name)
        except MarkerError:
            regions = []
        inside = {n for r in regions for n in range(r.begin, r.end + 1)}
        public += [needle_of(tokens_of(line)) for n, line in enumerate(code_lines(source), start=1)
                   if n not in inside]
    public_text = "\n".join(public)
    found: dict[str, tuple[str, int, str]] = {}
    plumbing = {grader / name for name in HIDDEN_PLUMBING}
    for pattern in HIDDEN_SOURCES:
        for path in sorted(set(grader.glob(pattern)) - plumbing):
            source = path.read_text(encoding="utf-8")
            try:
                docstrings = _docstring_lines(ast.parse(source))
            except SyntaxError:
                docstrings = set()
            code_only = _without_strings(source)
            for number, code in enumerate(code_lines(source), start=1):
                tokens = tokens_of(code)
                if number in docstrings or len(tokens) < HIDDEN_MIN_TOKENS:
                    continue
                words = [t for t in tokens_of(code_only[number - 1]) if t[0].isalnum() or t[0] == "_"]
                if len(words) < HIDDEN_MIN_WORDS:
                    continue
                needle = needle_of(tokens)
                if needle not in public_text:
                    shown = f"autograder/{path.relative_to(grader).as_posix()}"
                    found.setdefault(needle, (shown, number, code.strip()))
    return found


def scan_for_lines(root: Path, needles: dict[str, tuple[str, int, str]], layout: Shows) -> list[str]:
    """`hidden_lines` found under ``root``: ``file, line N: hidden test code from X, line M: `code```."""
    problems = []
    for path, number, needle in _matches(root, needles):
        where, at, code = needles[needle]
        problems.append(f"{layout.show(path)}, line {number}: hidden test code from {where}, line {at}: `{code}`")
    return problems


# ---------------------------------------------------------------------------------------
# Markers, question keys, secrets
# ---------------------------------------------------------------------------------------


def marker_problems(where: str, text: str, allowed: Iterable[str] = ()) -> list[str]:
    """``where, line N: <what> (<marker>)`` for every `MARKERS` entry in ``text``.

    ``allowed``: whole lines (stripped) that may hold a marker.
    """
    allowed = set(allowed)
    problems = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip() in allowed:
            continue
        for marker, what in MARKERS:
            if marker in line:
                problems.append(f"{where}, line {number}: {what} ({marker!r})")
    return problems


def notebook_cell_leaks(files: dict[str, str], question_keys: Iterable[str], folder: str) -> list[str]:
    """Markers or concept-question keys in the cells of the notebooks among ``files`` (name -> text)."""
    keys = list(question_keys)
    problems = []
    for name, text in files.items():
        if not name.endswith(".ipynb"):
            continue
        for cell in json.loads(text).get("cells", []):
            source = cell.get("source", "")
            source = "".join(source) if isinstance(source, list) else source
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", cell.get("id", "?"))
            for marker, _ in MARKERS:
                if marker in source:
                    problems.append(f"{folder}/{name}, cell {grade_id}: holds {marker!r}")
            problems += [f"{folder}/{name}, cell {grade_id}: holds the answer `{key}`" for key in keys if key in source]
    return problems


def course_secrets(course_file: Path) -> list[tuple[str, str]]:
    """(key path, value) of every value in ``course.yml`` under a key whose name says it is secret."""
    try:
        data = yaml.safe_load(course_file.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError):
        return []
    found: list[tuple[str, str]] = []

    def walk(value: object, where: str, secret: bool) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                walk(item, f"{where}.{key}" if where else str(key), secret or bool(SECRET_KEY.search(str(key))))
        elif isinstance(value, list):
            for index, item in enumerate(value):
                walk(item, f"{where}[{index}]", secret)
        elif secret and value is not None and len(str(value)) >= 4:
            found.append((where, str(value)))

    walk(data, "", False)
    return found


# ---------------------------------------------------------------------------------------
# A whole folder
# ---------------------------------------------------------------------------------------


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def file_digests(folder: Path, minimum: int = 64, marked_only: bool = False) -> dict[str, str]:
    """sha256 -> shown path, for the files of ``folder`` of at least ``minimum`` bytes.

    ``marked_only``: only files holding a solution or hidden-tests marker (a solution module
    without one, like ``attention/__init__.py``, is copied to the stubs as it is, by design).
    """
    found = {}
    for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
        relative = path.relative_to(folder)
        if not path.is_file() or "__pycache__" in relative.parts or path.stat().st_size < minimum:
            continue
        data = path.read_bytes()
        if marked_only and b"BEGIN SOLUTION" not in data and b"BEGIN HIDDEN TESTS" not in data:
            continue
        found.setdefault(hashlib.sha256(data).hexdigest(), f"{folder.name}/{relative.as_posix()}")
    return found


@dataclass(frozen=True)
class Sources:
    """What a scanned folder must not hold: the course's secret side, as paths."""

    solutions: Path  # solutions/ (its attention/ package and notebooks)
    exercises: Path  # exercises/: the public side, whose lines are allowed
    grader: Path  # autograder/: hidden checks and the oracle
    course_file: Path  # course.yml


def scan_folder(root: Path, sources: Sources, *, show: Callable[[Path], str] | None = None) -> list[str]:
    """Every leak in the folder ``root`` (a learner bundle or template), one line each.

    - names and copies: a file under a folder named ``autograder``, ``solutions`` or ``.git``; a
      grader file name (``course.yml``, ``results.json``, ``grades.csv``); a file equal to
      ``course.yml``, to a marked solution file or to a grader file; a binary that is not an image;
    - solution code (`find_solution_leaks`), hidden test code (`hidden_lines`), markers
      (`marker_problems`) and course.yml secrets (`course_secrets`).
    """
    shown = _Relative(root.parent, sources.solutions.parent) if show is None else _Shown(show)
    problems: list[str] = []
    grader_files = file_digests(sources.grader)
    solution_files = file_digests(sources.solutions, marked_only=True)
    course_digest = _digest(sources.course_file) if sources.course_file.is_file() else None
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        where = shown.show(path)
        if not path.is_file():
            continue
        folders = sorted(FORBIDDEN_DIRS.intersection(relative.parts[:-1]))
        if folders:
            problems.append(f"{where}: a file under a folder named {folders[0]!r}, which learners must never get")
            continue
        if path.name in FORBIDDEN_NAMES:
            problems.append(f"{where}: {path.name} is a grader file, not for learners")
        digest = _digest(path)
        if digest == course_digest:
            problems.append(f"{where}: a copy of course.yml")
        elif digest in solution_files:
            problems.append(f"{where}: a copy of {solution_files[digest]}")
        elif digest in grader_files:
            problems.append(f"{where}: a copy of {grader_files[digest]}")
        data = path.read_bytes()
        if b"\0" in data and path.suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(f"{where}: a binary file the leak check cannot read; learners get text files and images")
    solution_package = sources.solutions / "attention"
    problems += [str(leak) for leak in find_solution_leaks(solution_package, root, shown)]
    hidden = hidden_lines(sources.grader, sources.exercises, solution_package)
    for needle in significant_solution_lines(solution_package, shown):  # reported as solution code already
        hidden.pop(needle, None)
    problems += scan_for_lines(root, hidden, shown)
    secrets = course_secrets(sources.course_file)
    for path, text in scanned_files(root):
        problems += marker_problems(shown.show(path), text)
        for number, line in enumerate(text.splitlines(), start=1):
            problems += [f"{shown.show(path)}, line {number}: the value of course.yml's {key}, a secret"
                         for key, value in secrets if value in line]
    return problems


class _Shown:
    def __init__(self, show: Callable[[Path], str]) -> None:
        self.show = show

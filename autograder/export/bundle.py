"""The learner release: ``python -m autograder release --out DIR``.

`build_bundle` writes what learners get, and nothing else::

    DIR/attention-course/          the folder learners work in
        README.md                  set-up, self-check, submit (rendered from files/learner_README.md)
        requirements.txt           the documented install line installs this
        .gitignore
        attention/*.py             the stubs                      (from exercises/)
        selfcheck/*.py             the check library, public checks
        tests/test_*.py            the public self-checks
        conftest.py, pytest.ini
        notebooks/*.ipynb          the learner notebooks, when exercises/notebooks/ has them
    DIR/attention-course.zip       the same folder, zipped (entries under attention-course/)

It copies an allow-list from ``exercises/`` (anything else there is reported and left out), then
runs the leak check (`check_bundle`) on the folder it built. A leak fails the release loudly:
every leak is printed, nothing is left in DIR, and the exit status is 1.

The leak check (`check_bundle`) reports, file and line:

- **solution code**: a significant line of ``solutions/attention`` (the rule of
  `autograder.release.significant_solution_lines`, reused through `autograder.release.find_leaks`);
  a file equal to any file under ``solutions/``; an nbgrader solution marker;
- **hidden tests**: a significant code line of the hidden checks or of the reference oracle
  (``autograder/hidden/``, ``autograder/reference``) that appears nowhere in the public
  check library; an nbgrader hidden-tests marker; a call into ``autograder.hidden``;
- **grader files**: anything under a folder named ``autograder`` (the public self-checks need
  nothing from it: ``selfcheck`` is their library), or a file equal to a file under ``autograder/``;
- **course.yml secrets**: ``course.yml`` itself, and the value of any key of ``course.yml`` whose
  name says it is secret (``secret``, ``token``, ``password``, ``key``, ``salt``, ``seed``, ...);
- **unreadable files**: a binary file that is not an image (the check could not read it).

The GitHub Classroom template (`autograder.export.classroom`) is the same folder plus a workflow,
checked the same way.
"""

from __future__ import annotations

import ast
import hashlib
import io
import os
import re
import shutil
import string
import sys
import tempfile
import tokenize
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

from .. import PACKAGE_DIR, REPO_ROOT
from ..course import COURSE_FILE, Course
from ..course_cli import markdown_table
from ..release import (
    GENERATORS,
    SKIPPED_DIRS,
    Layout,
    MarkerError,
    _code_lines,
    _needle,
    _read_text,
    _scanned_files,
    _texts_of_line,
    _tokens,
    find_leaks,
    solution_regions,
)

BUNDLE_NAME = "attention-course"
FILES = Path(__file__).resolve().parent / "files"

# What learners get from exercises/: (folder or file, suffixes kept; None keeps every file).
SHIPPED: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("attention", (".py",)),
    ("selfcheck", (".py",)),
    ("tests", (".py",)),
    ("notebooks", None),
    ("conftest.py", None),
    ("pytest.ini", None),
)
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp"}
FORBIDDEN_NAMES = {"course.yml", "results.json", "grades.csv"}
FORBIDDEN_DIRS = {"autograder", "solutions", ".git"}
MARKERS = (
    ("### BEGIN SOLUTION", "an nbgrader solution marker"),
    ("### END SOLUTION", "an nbgrader solution marker"),
    ("BEGIN HIDDEN TESTS", "an nbgrader hidden-tests marker"),
    ("END HIDDEN TESTS", "an nbgrader hidden-tests marker"),
    ("run_hidden(", "a hidden-test call (what nbgrader's hidden blocks hold)"),
    ("load_hidden_checks(", "a call loading the hidden checks"),
    ("autograder.hidden", "a call into the hidden checks"),
)
# The one line of the learner's notebook helper that names the hidden package: while nbgrader grades
# (the grader's machine), it borrows the earlier steps' stand-ins. Nothing of the checks themselves.
ALLOWED_HIDDEN_IMPORT = "from autograder.hidden.notebook import earlier_standins"
SECRET_KEY = re.compile(r"secret|token|passw|api_?key|private|credential|salt|seed|^key$", re.I)
HIDDEN_SOURCES = ("hidden/*.py", "reference.py", "reference/*.py")  # under autograder/: the test content
HIDDEN_PLUMBING = ("hidden/__init__.py", "hidden/notebook.py")  # how checks are loaded and run, not what they test
FAST_GENERATORS = ("step table", "stubs")  # release generators cheap enough to re-render for the sync check
PUBLIC_SOURCES = ("selfcheck/*.py", "tests/*.py", "conftest.py")  # under exercises/
HIDDEN_MIN_TOKENS = 6  # a significant hidden-check line has at least this many tokens ...
HIDDEN_MIN_WORDS = 4  # ... and this many names, keywords or numbers outside string literals
REQUIREMENTS = """\
# The learner environment: pip install -r requirements.txt
torch=={torch}
numpy>=1.24
pytest>=7.4
"""
GITIGNORE = """\
__pycache__/
*.pyc
.venv/
.ipynb_checkpoints/
.pytest_cache/
attention.zip
"""
ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same sources give the same zip


# ---------------------------------------------------------------------------------------
# Building the folder
# ---------------------------------------------------------------------------------------


def learner_files(layout: Layout) -> tuple[dict[str, Path], list[str]]:
    """``{path in the bundle: source file}`` from ``exercises/``, and what was left out."""
    files: dict[str, Path] = {}
    for name, suffixes in SHIPPED:
        source = layout.exercises / name
        if source.is_file():
            files[name] = source
        elif source.is_dir():
            for path in sorted(source.rglob("*")):
                relative = path.relative_to(layout.exercises)
                if not path.is_file() or _skipped(relative):
                    continue
                if suffixes is None or path.suffix in suffixes:
                    files[relative.as_posix()] = path
    left_out = []
    for path in sorted(layout.exercises.rglob("*")) if layout.exercises.is_dir() else []:
        relative = path.relative_to(layout.exercises)
        if path.is_file() and not _skipped(relative) and relative.as_posix() not in files:
            left_out.append(f"exercises/{relative.as_posix()}")
    return files, left_out


def _skipped(relative: Path) -> bool:
    return bool(SKIPPED_DIRS.intersection(relative.parts)) or any(p.startswith(".") for p in relative.parts)


def notebooks_in(files: Iterable[str]) -> list[str]:
    return sorted(name for name in files if name.startswith("notebooks/") and name.endswith(".ipynb"))


def render_readme(course: Course, *, notebooks: list[str], submit: str) -> str:
    """The learner README: ``files/learner_README.md`` filled in from ``course.yml``."""
    template = string.Template((FILES / "learner_README.md").read_text(encoding="utf-8"))
    scratch = [n for n, s in enumerate(course.steps, start=1) if s.from_scratch]
    if len(scratch) > 2 and scratch == list(range(scratch[0], scratch[-1] + 1)):
        from_scratch = f"{scratch[0]} to {scratch[-1]}"
    else:
        from_scratch = ", ".join(map(str, scratch)) or "(none)"
    if notebooks:
        notebooks_row = "| `notebooks/` | the step notebooks: each step's idea, with pictures, and cells to try it |\n"
        notebooks_setup = (
            "\nThe notebooks need Jupyter too: `pip install jupyterlab matplotlib`, then `jupyter lab notebooks/`.\n"
        )
        notebooks_hint = ("\n\nThe notebooks explain each step with pictures, and each holds its step's code as a cell "
                          "that is\nthe module `attention/<module>.py`: write your code in whichever you prefer. "
                          "`pytest` checks\n`attention/`; a notebook's test cells check the notebook's own code.")
    else:
        notebooks_row = notebooks_setup = notebooks_hint = ""
    limits = course.limits
    return template.substitute(
        title=course.title,
        version=course.version,
        step_count=len(course.steps),
        python=course.environment.python.replace(">=", "").strip() + " or newer",
        torch=course.environment.torch,
        notebooks_row=notebooks_row,
        notebooks_setup=notebooks_setup,
        notebooks_hint=notebooks_hint,
        steps_table=markdown_table(course),
        from_scratch_steps=from_scratch,
        forbidden="`torch.nn.functional.scaled_dot_product_attention` or `torch.nn.MultiheadAttention`",
        call_seconds=f"{limits.call_seconds:g}",
        submission_seconds=f"{limits.submission_seconds:g}",
        memory_mb=limits.memory_mb,
        output_kb=limits.output_kb,
        submit_section=submit,
    )


def submit_generic(notebooks: list[str]) -> str:
    forms = [
        "- the `attention` folder itself (drag the folder onto the upload page, or push it to your repository);",
        "- a zip of it, made in this folder with `python -m zipfile -c attention.zip attention/`;",
    ]
    if notebooks:
        forms.append("- the step notebooks (`notebooks/*.ipynb`), if you wrote your code in them: submit them "
                     "without the\n  `attention` folder, which would be graded instead;")
    forms[-1] = forms[-1].rstrip(";") + "."
    return "\n".join([
        "",
        "Your instructor tells you where to submit (Gradescope, a repository, a shared folder). The",
        "grader takes your work in any of these forms:",
        "",
        *forms,
        "",
        "Submit every module each time, finished or not: a missing module scores 0 for its step, with",
        "a message saying so, and the other steps are graded as usual.",
        "",
    ])


def assemble(course: Course, target: Path, *, layout: Layout | None = None,
             submit: str | None = None) -> list[str]:
    """Write the learner folder into ``target`` (which must not exist); returns what was left out."""
    layout = layout or Layout()
    files, left_out = learner_files(layout)
    notebooks = notebooks_in(files)
    target.mkdir(parents=True)
    for relative, source in files.items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    readme = render_readme(course, notebooks=notebooks, submit=submit or submit_generic(notebooks))
    (target / "README.md").write_text(readme, encoding="utf-8")
    (target / "requirements.txt").write_text(REQUIREMENTS.format(torch=course.environment.torch), encoding="utf-8")
    (target / ".gitignore").write_text(GITIGNORE, encoding="utf-8")
    return left_out


# ---------------------------------------------------------------------------------------
# The leak check
# ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _ScanLayout(Layout):
    """`Layout` whose ``exercises`` is the folder to scan, so `find_leaks` can check any folder."""

    scanned: Path = Path()

    @property
    def exercises(self) -> Path:
        return self.scanned

    def show(self, path: Path) -> str:
        for base in (self.scanned.parent, self.root):
            try:
                return path.relative_to(base).as_posix()
            except ValueError:
                continue
        return str(path)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _digests(folder: Path, minimum: int = 64, marked_only: bool = False) -> dict[str, str]:
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


def hidden_lines(package_dir: Path = PACKAGE_DIR, exercises: Path | None = None,
                 solutions: Path | None = None) -> dict[str, tuple[str, int, str]]:
    """Significant code lines of the hidden checks and the oracle: needle -> (file, line, code).

    The files are `HIDDEN_SOURCES` but `HIDDEN_PLUMBING` (the loader and the notebook runner,
    which share helpers with the public notebook code). A line counts when, without its comment,
    it has at least `HIDDEN_MIN_TOKENS` tokens and `HIDDEN_MIN_WORDS` words outside string
    literals (a message alone is learner-facing text: the grader shows it), is not part of a
    docstring or an import statement, and its tokens appear in no line of
    the public check library nor in what the stubs keep of the solution modules (so
    ``from selfcheck import CheckFailed`` or a signature both share never counts).
    """
    exercises = exercises or REPO_ROOT / "exercises"
    solutions = solutions or REPO_ROOT / "solutions" / "attention"
    public: list[str] = []
    for pattern in PUBLIC_SOURCES:
        for path in sorted(exercises.glob(pattern)):
            public += [_needle(_tokens(line)) for line in _code_lines(path.read_text(encoding="utf-8"))]
    for path in sorted(solutions.glob("*.py")):  # what the stubs keep (signatures, docstrings) is public
        source = path.read_text(encoding="utf-8")
        try:
            regions = solution_regions(source, path.name)
        except MarkerError:
            regions = []
        inside = {n for r in regions for n in range(r.begin, r.end + 1)}
        public += [_needle(_tokens(line)) for n, line in enumerate(_code_lines(source), start=1) if n not in inside]
    public_text = "\n".join(public)
    found: dict[str, tuple[str, int, str]] = {}
    plumbing = {package_dir / name for name in HIDDEN_PLUMBING}
    for pattern in HIDDEN_SOURCES:
        for path in sorted(set(package_dir.glob(pattern)) - plumbing):
            source = path.read_text(encoding="utf-8")
            try:
                docstrings = _docstring_lines(ast.parse(source))
            except SyntaxError:
                docstrings = set()
            code_only = _without_strings(source)
            for number, code in enumerate(_code_lines(source), start=1):
                tokens = _tokens(code)
                if number in docstrings or len(tokens) < HIDDEN_MIN_TOKENS:
                    continue
                words = [t for t in _tokens(code_only[number - 1]) if t[0].isalnum() or t[0] == "_"]
                if len(words) < HIDDEN_MIN_WORDS:
                    continue
                needle = _needle(tokens)
                if needle not in public_text:
                    shown = f"autograder/{path.relative_to(package_dir).as_posix()}"
                    found.setdefault(needle, (shown, number, code.strip()))
    return found


def _scan_for_lines(root: Path, needles: dict[str, tuple[str, int, str]], shown: _ScanLayout) -> Iterator[str]:
    """Like `autograder.release.find_leaks`, for any set of lines: ``file, line N: ... from X, line M``."""
    by_anchor: dict[str, list[str]] = {}
    for needle in needles:
        anchor = max(needle.strip("\x1f").split("\x1f"), key=len)
        by_anchor.setdefault(anchor, []).append(needle)
    for path, text in _scanned_files(root):
        is_json = path.suffix in (".ipynb", ".json")
        for number, line in enumerate(text.splitlines(), start=1):
            seen: set[str] = set()
            for piece in _texts_of_line(line, is_json):
                tokens = _tokens(piece)
                haystack = _needle(tokens)
                for token in set(tokens):
                    for needle in by_anchor.get(token, ()):
                        if needle not in seen and needle in haystack:
                            seen.add(needle)
                            where, at, code = needles[needle]
                            yield (f"{shown.show(path)}, line {number}: hidden test code from {where}, "
                                   f"line {at}: `{code}`")


def course_secrets(course_file: Path = COURSE_FILE) -> list[tuple[str, str]]:
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


def check_bundle(root: Path, *, layout: Layout | None = None, course_file: Path | None = None) -> list[str]:
    """Every leak in the folder ``root`` (a learner bundle or template), one line each.

    The solutions and exercises come from ``layout``; the grader's files (hidden checks, oracle)
    and ``course.yml`` from ``layout.root`` when it has them, else from this checkout.
    """
    layout = layout or Layout()
    package_dir = layout.root / "autograder" if (layout.root / "autograder").is_dir() else PACKAGE_DIR
    if course_file is None:
        course_file = layout.root / "course.yml" if (layout.root / "course.yml").is_file() else COURSE_FILE
    shown = _ScanLayout(root=layout.root, scanned=root)
    problems: list[str] = []

    # Names, and files that are copies of the grader's or the solutions' files.
    grader_files = _digests(package_dir)
    solution_files = _digests(layout.solutions, marked_only=True)
    course_digest = _digest(course_file) if course_file.is_file() else None
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

    # Solution code (the release's own leak check, on this folder).
    problems += [str(leak) for leak in find_leaks(_ScanLayout(root=layout.root, scanned=root))]

    # Hidden checks and the oracle.
    problems += list(_scan_for_lines(root, hidden_lines(package_dir, layout.exercises, layout.solution_package), shown))

    # Markers, and course.yml secrets.
    secrets = course_secrets(course_file)
    for path, text in _scanned_files(root):
        for number, line in enumerate(text.splitlines(), start=1):
            for marker, what in MARKERS:
                if marker in line and line.strip() != ALLOWED_HIDDEN_IMPORT:
                    problems.append(f"{shown.show(path)}, line {number}: {what} ({marker!r})")
            for key, value in secrets:
                if value in line:
                    problems.append(f"{shown.show(path)}, line {number}: the value of course.yml's {key}, a secret")
    return problems


# ---------------------------------------------------------------------------------------
# The zip
# ---------------------------------------------------------------------------------------


def write_zip(folder: Path, archive: Path, *, prefix: str | None = None,
              executable: Iterable[str] = ()) -> list[str]:
    """Zip ``folder`` into ``archive`` (entries under ``prefix/``, or at the top); returns the names.

    Entries are sorted with fixed dates, so the same files give the same zip; ``executable``
    names (relative to ``folder``) get mode 755, the rest 644.
    """
    executable = set(executable)
    names = []
    temporary = archive.with_name(f".{archive.name}.tmp")
    with zipfile.ZipFile(temporary, "w", zipfile.ZIP_DEFLATED) as zipped:
        for path in sorted(folder.rglob("*")):
            if not path.is_file():
                continue
            relative = path.relative_to(folder).as_posix()
            name = f"{prefix}/{relative}" if prefix else relative
            info = zipfile.ZipInfo(name, ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = ((0o100755 if relative in executable else 0o100644) & 0xFFFF) << 16
            zipped.writestr(info, path.read_bytes())
            names.append(name)
    os.replace(temporary, archive)
    return names


def verify_zip(folder: Path, archive: Path, prefix: str | None = None) -> list[str]:
    """Problems if ``archive`` does not hold exactly the files of ``folder`` (same bytes)."""
    problems = []
    expected = {
        (f"{prefix}/" if prefix else "") + p.relative_to(folder).as_posix(): p
        for p in folder.rglob("*") if p.is_file()
    }
    with zipfile.ZipFile(archive) as zipped:
        bad = zipped.testzip()
        if bad is not None:
            problems.append(f"{archive.name}: {bad} is corrupt")
        names = {i.filename for i in zipped.infolist() if not i.is_dir()}
        for name in sorted(names - set(expected)):
            problems.append(f"{archive.name}: {name} is not in the checked folder")
        for name in sorted(set(expected) - names):
            problems.append(f"{archive.name}: {name} is missing")
        for name in sorted(names & set(expected)):
            if zipped.read(name) != expected[name].read_bytes():
                problems.append(f"{archive.name}: {name} differs from the checked folder")
    return problems


# ---------------------------------------------------------------------------------------
# The command (called by `python -m autograder release --out DIR`)
# ---------------------------------------------------------------------------------------


def report_leaks(problems: list[str], what: str) -> None:
    """Print every leak, loudly, on stderr."""
    print(f"\nLEAK CHECK FAILED: {len(problems)} problem(s) in {what}; nothing was released:", file=sys.stderr)
    for problem in problems:
        print(f"  leak: {problem}", file=sys.stderr)
    print("Fix the source (solutions/, exercises/, course.yml) and run the command again.\n", file=sys.stderr)


def sync_problems(course: Course, layout: Layout | None = None) -> list[str]:
    """``exercises/`` problems that stop a release: stale stubs or step table, solution code.

    The stubs and the step table are re-rendered (`FAST_GENERATORS`: milliseconds); the
    notebooks are not (rendering them runs nbgrader): ``python -m autograder release`` writes
    them just before it builds the bundle. The leak check of ``exercises/`` is `find_leaks`.
    """
    layout = layout or Layout()
    problems = []
    for generator in GENERATORS:
        if generator.name not in FAST_GENERATORS:
            continue
        try:
            rendered = generator.render(course, layout)
        except MarkerError as error:
            problems.append(str(error))
            continue
        for path, content in rendered.items():
            if _read_text(path) != content:
                problems.append(f"{layout.show(path)}: missing or out of date; run `python -m autograder release`")
    return problems + [str(leak) for leak in find_leaks(layout)]


def check_output_folder(out_dir: Path) -> None:
    """Raise a one-line `UsageError` when ``out_dir`` can never be a folder (it, or a parent, is a file).

    Cheap: commands call it before their slow work, so a mistyped ``--out`` fails at once.
    """
    from ..cli import UsageError

    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: not a folder")
    blocking = next((p for p in out_dir.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(f"{out_dir}: cannot create the folder: {blocking} is a file, not a folder")


def ensure_output_folder(out_dir: Path) -> None:
    """Create ``out_dir`` (and its parents), or raise a one-line `UsageError` naming the problem."""
    from ..cli import UsageError

    check_output_folder(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # no permission, read-only file system, ...
        raise UsageError(f"{out_dir}: cannot create the folder ({error.strerror or error})") from None


def build_bundle(course: Course, out_dir: Path, *, layout: Layout | None = None) -> int:
    """Write ``out_dir/attention-course/`` and ``out_dir/attention-course.zip``; returns the exit status.

    Exit status 1, with every problem printed and nothing written, when ``exercises/`` has stale
    stubs or solution code (`sync_problems`) or the built folder fails the leak check.
    """
    layout = layout or Layout()
    problems = sync_problems(course, layout)
    if problems:
        report_leaks(problems, "exercises/")
        return 1
    out_dir = Path(out_dir)
    ensure_output_folder(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".release-", dir=out_dir))
    try:
        build = staging / BUNDLE_NAME
        left_out = assemble(course, build, layout=layout)
        problems = check_bundle(build, layout=layout)
        if problems:
            report_leaks(problems, f"the learner bundle {BUNDLE_NAME}/")
            return 1
        archive = staging / f"{BUNDLE_NAME}.zip"
        names = write_zip(build, archive, prefix=BUNDLE_NAME)
        problems = verify_zip(build, archive, prefix=BUNDLE_NAME)
        if problems:
            report_leaks(problems, archive.name)
            return 1
        target, target_zip = out_dir / BUNDLE_NAME, out_dir / f"{BUNDLE_NAME}.zip"
        if target.exists():
            shutil.rmtree(target)
        os.replace(build, target)
        os.replace(archive, target_zip)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    for name in left_out:
        print(f"not released: {name} (not part of the learner bundle)")
    notebooks = notebooks_in(p.relative_to(target).as_posix() for p in target.rglob("*.ipynb"))
    print(f"wrote {target}/ ({len(names)} files: the stubs, {len(notebooks)} notebook(s), the public tests, "
          "README.md, requirements.txt)")
    print(f"wrote {target_zip} ({target_zip.stat().st_size // 1024} KB)")
    print("leak check passed: no solution code, hidden tests, grader files or course.yml secrets")
    return 0

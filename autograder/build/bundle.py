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

- **solution code**: a significant line of ``solutions/attention`` (`autograder.build.leaks`, the one scanner);
  a file equal to any file under ``solutions/``; an nbgrader solution marker;
- **hidden tests**: a significant code line of the hidden checks or of the reference oracle
  (``autograder/hidden/``, ``autograder/reference``) that appears nowhere in the public
  check library; an nbgrader hidden-tests marker; a call into ``autograder.hidden``;
- **grader files**: anything under a folder named ``autograder`` (the public self-checks need
  nothing from it: ``selfcheck`` is their library), or a file equal to a file under ``autograder/``;
- **course.yml secrets**: ``course.yml`` itself, and the value of any key of ``course.yml`` whose
  name says it is secret (``secret``, ``token``, ``password``, ``key``, ``salt``, ``seed``, ...);
- **unreadable files**: a binary file that is not an image (the check could not read it).

The GitHub Classroom template (`autograder.build.classroom`) is the same folder plus a workflow,
checked the same way.
"""

from __future__ import annotations

import os
import shutil
import string
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

from autograder import PACKAGE_DIR
from autograder.course import COURSE_FILE, Course
from autograder.course_cli import markdown_table

from . import leaks
from .generate import sync_problems
from .layout import SKIPPED_DIRS, Layout, ensure_output_folder
from .zips import verify_zip, write_zip

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


def check_bundle(root: Path, *, layout: Layout | None = None, course_file: Path | None = None) -> list[str]:
    """Every leak in the folder ``root`` (a learner bundle or template), one line each (`leaks.scan_folder`).

    The solutions and exercises come from ``layout``; the grader's files (hidden checks, oracle)
    and ``course.yml`` from ``layout.root`` when it has them, else from this checkout.
    """
    layout = layout or Layout()
    grader = layout.root / "autograder" if (layout.root / "autograder").is_dir() else PACKAGE_DIR
    if course_file is None:
        course_file = layout.root / "course.yml" if (layout.root / "course.yml").is_file() else COURSE_FILE
    sources = leaks.Sources(solutions=layout.solutions, exercises=layout.exercises, grader=grader,
                            course_file=course_file)
    return leaks.scan_folder(root, sources)



# ---------------------------------------------------------------------------------------
# The command (called by `python -m autograder release --out DIR`)
# ---------------------------------------------------------------------------------------


def report_leaks(problems: list[str], what: str) -> None:
    """Print every leak, loudly, on stderr."""
    print(f"\nLEAK CHECK FAILED: {len(problems)} problem(s) in {what}; nothing was released:", file=sys.stderr)
    for problem in problems:
        print(f"  leak: {problem}", file=sys.stderr)
    print("Fix the source (solutions/, exercises/, course.yml) and run the command again.\n", file=sys.stderr)






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

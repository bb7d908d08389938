"""``python -m autograder export gradescope [--out autograder.zip] [--seed S]``: a Gradescope autograder.

Gradescope extracts the zip into ``/autograder/source``, runs ``setup.sh`` once to build the
image, copies ``run_autograder`` to ``/autograder/run_autograder`` and runs it for every
submission, which it places in ``/autograder/submission``. The zip holds::

    setup.sh                 installs requirements.txt in /autograder/venv (skipped when it already matches)
    run_autograder           grades /autograder/submission -> /autograder/results/results.json
    requirements.txt         the grader's pinned run-time environment (torch from course.yml)
    check_environment.py     does a Python match requirements.txt? (standard library only)
    README.md                what this zip is, for whoever opens it
    seed.txt                 only with --seed: grade every submission with that seed
    course.yml, pyproject.toml
    autograder/              the grader, the hidden checks, the reference oracle, the sandbox
                             (not autograder/build/ nor autograder/samples/)
    exercises/selfcheck/     the check library the hidden checks build on

It never holds ``solutions/`` or the sample submissions: ``run_autograder`` loads ``course.yml``
without looking for the solution modules (``load_course(package_dir=None)``). Before writing, the
builder checks that no file comes from ``solutions/`` or ``autograder/samples/`` and that the
runner and every step's hidden checks are there. (A line-by-line solution scan does not apply
here: the reference oracle in ``autograder/reference/`` legitimately shares short lines with
the solutions.)
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from pathlib import Path

from autograder import REPO_ROOT, __version__
from autograder.course import Course
from autograder.errors import UsageError

from .bundle import FILES, report_leaks
from .layout import SKIPPED_DIRS, Layout, ensure_output_folder
from .leaks import file_digests
from .zips import verify_zip, write_zip

EXECUTABLE = ("setup.sh", "run_autograder")
LEFT_OUT = {"build", "samples"}  # release-time code, and sample submissions (complete solutions among them)

README = """\
# Gradescope autograder: {title}

Built by `python -m autograder export gradescope` (grader {grader}, course version {version}).
Upload this zip as the autograder of a Gradescope programming assignment.

- `setup.sh` installs `requirements.txt` (torch {torch}, CPU) in `/autograder/venv`.
- `run_autograder` grades `/autograder/submission` with the course's sandboxed grader and writes
  `/autograder/results/results.json`: one test per hidden check, tagged with its step, points
  from course.yml ({points:g} in all). Learner code runs as an unprivileged user in a private
  mount namespace, with the limits of course.yml.
- Submissions: the `attention` folder (at the top or one folder down), a zip of it, loose
  module files, or the step notebooks.
- Seed: {seed}. `extra_data.seed` in every results.json reproduces a run locally:
  `python -m autograder grade SUBMISSION --seed S`.
"""


def _source_files(layout: Layout) -> dict[str, Path]:
    """``{path in the zip: source file}`` for the course source the grader needs at run time."""
    files: dict[str, Path] = {}
    package = layout.root / "autograder"
    for path in sorted(package.rglob("*")):
        relative = path.relative_to(package)
        if not path.is_file() or SKIPPED_DIRS.intersection(relative.parts) or path.suffix == ".pyc":
            continue
        if relative.parts[0] in LEFT_OUT or any(p.startswith(".") for p in relative.parts):
            continue
        files[f"autograder/{relative.as_posix()}"] = path
    selfcheck = layout.exercises / "selfcheck"
    for path in sorted(selfcheck.rglob("*.py")):
        relative = path.relative_to(selfcheck)
        if not SKIPPED_DIRS.intersection(relative.parts):
            files[f"exercises/selfcheck/{relative.as_posix()}"] = path
    files["course.yml"] = layout.root / "course.yml"
    files["pyproject.toml"] = layout.root / "pyproject.toml"
    return files


def requirements(course: Course) -> str:
    """``requirements/grading.txt`` (the pinned grading environment) with torch pinned to course.yml's version."""
    lines = (REPO_ROOT / "requirements" / "grading.txt").read_text(encoding="utf-8").splitlines()
    lines = [f"torch=={course.environment.torch}" if line.startswith("torch==") else line for line in lines]
    return "\n".join(lines) + "\n"


def stage(course: Course, target: Path, *, seed: int | None = None, layout: Layout | None = None) -> None:
    """Write the zip's tree into ``target`` (which must not exist)."""
    layout = layout or Layout()
    target.mkdir(parents=True)
    for relative, source in _source_files(layout).items():
        destination = target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
    shutil.copyfile(FILES / "gradescope_setup.sh", target / "setup.sh")
    shutil.copyfile(FILES / "gradescope_run_autograder", target / "run_autograder")
    shutil.copyfile(FILES / "check_environment.py", target / "check_environment.py")
    for name in EXECUTABLE:
        os.chmod(target / name, 0o755)
    (target / "requirements.txt").write_text(requirements(course), encoding="utf-8")
    if seed is not None:
        (target / "seed.txt").write_text(f"{seed}\n", encoding="utf-8")
    (target / "README.md").write_text(README.format(
        title=course.title, grader=__version__, version=course.version, torch=course.environment.torch,
        points=course.max_score,
        seed=f"every submission is graded with seed {seed} (seed.txt)" if seed is not None
        else "a fresh seed for every run (set one with `export gradescope --seed S`)",
    ), encoding="utf-8")


def check_staged(course: Course, root: Path, layout: Layout | None = None) -> list[str]:
    """What must never be in the Gradescope zip (solutions), and what must be (the runner, the checks)."""
    layout = layout or Layout()
    problems = []
    solution_files = file_digests(layout.solutions, marked_only=True)
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        relative = path.relative_to(root)
        if "solutions" in relative.parts or "samples" in relative.parts:
            problems.append(f"{relative.as_posix()}: solutions and sample submissions do not go to Gradescope")
        if hashlib.sha256(path.read_bytes()).hexdigest() in solution_files:
            problems.append(f"{relative.as_posix()}: a copy of a solution file")
    needed = ["setup.sh", "run_autograder", "requirements.txt", "course.yml", "autograder/grading/gradescope_run.py",
              "exercises/selfcheck/steps.py", *(f"autograder/hidden/{s.id}.py" for s in course.steps)]
    problems += [f"{name}: missing from the autograder" for name in needed if not (root / name).is_file()]
    return problems


def build_gradescope(course: Course, out: Path, *, seed: int | None = None, layout: Layout | None = None) -> int:
    """Write the Gradescope autograder zip ``out``; returns the exit status."""
    out = Path(out)
    if out.suffix.lower() != ".zip":
        raise UsageError(f"{out}: the Gradescope autograder is a .zip file")
    if out.is_dir():
        raise UsageError(f"{out}: a folder; give the path of the .zip file to write")
    ensure_output_folder(out.parent)
    staging = Path(tempfile.mkdtemp(prefix=".gradescope-", dir=out.parent))
    try:
        tree = staging / "source"
        stage(course, tree, seed=seed, layout=layout)
        problems = check_staged(course, tree, layout)
        if problems:
            report_leaks(problems, out.name)
            return 1
        archive = staging / out.name
        names = write_zip(tree, archive, executable=EXECUTABLE)
        problems = verify_zip(tree, archive)
        if problems:
            report_leaks(problems, out.name)
            return 1
        os.replace(archive, out)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    hidden = sum(1 for n in names if n.startswith("autograder/hidden/"))
    print(f"wrote {out} ({len(names)} files, {out.stat().st_size // 1024} KB): setup.sh, run_autograder, the grader "
          f"and {hidden} hidden-check modules; no solutions")
    print("Upload it on Gradescope: the assignment's Configure Autograder page, Zip file upload, an Ubuntu base image.")
    return 0

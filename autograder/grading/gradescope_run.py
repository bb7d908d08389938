"""Gradescope's ``run_autograder``: grade ``/autograder/submission`` into ``/autograder/results/results.json``.

``python -m autograder.grading.gradescope_run [--root /autograder] [--seed S]``, run by the
``run_autograder`` script of the Gradescope zip (`autograder.build.gradescope`) as root.

It grades with `autograder.grading.cli.grade_all`, the engine of ``python -m autograder grade``:
the same hidden checks, the same ``course.yml`` limits, the same sandbox (learner code runs as an
unprivileged uid in a private mount namespace). Besides what ``grade`` hides, learner code cannot
see the rest of ``/autograder`` (the submission metadata, the results folder, the grader's source).

What learners upload (`locate_submission`), in the order it is looked for:

1. the ``attention`` folder at the top of the submission;
2. a folder one level down holding ``attention/`` (a repository, a folder named after the learner);
3. a ``.zip`` (extracted safely, then looked through the same way);
4. loose module files (``tokens.py``, ``scores.py``, ... at the top): graded as the package;
5. the step notebooks (``*.ipynb`` or ``notebooks/*.ipynb``, at the top or one folder down): their
   answer cells become the package (`autograder.grading.extract`), then graded the same way;
6. anything else: graded as it is, which scores 0 with a message listing what was found.

A step whose module is missing scores 0 with a message naming the file; the other steps are
graded. The results file is written atomically; when the grader itself cannot run, no results
file is written and the exit status is non-zero (Gradescope then reports an autograder failure
instead of a silent 0).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import stat
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import REPO_ROOT
from ..course import Course

PACKAGE = "attention"
NAME = "submission"
MAX_FILES = 200
MAX_BYTES = 20 * 1024 * 1024  # notebooks may carry images
KEPT_SUFFIXES = (".py", ".ipynb")
IGNORED_FOLDERS = {"__MACOSX", "__pycache__", ".ipynb_checkpoints", ".git"}
SEED_FILE = REPO_ROOT / "seed.txt"  # written by `export gradescope --seed S`


@dataclass
class Located:
    """Where the gradable work of a submission is, and what the learner should be told about it."""

    path: Path  # a folder holding attention/ (or notebooks), handed to the engine
    form: str  # "attention folder", "folder one level down", "module files", "notebooks", "nothing", "zip (...)"
    notes: list[str] = field(default_factory=list)
    present: set[str] = field(default_factory=set)  # module names found in attention/


def _real_dir(path: Path) -> bool:
    try:
        return stat.S_ISDIR(os.lstat(path).st_mode)
    except OSError:
        return False


def _real_file(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _entries(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.name not in IGNORED_FOLDERS and not p.name.startswith("._"))
    except OSError:
        return []


def _modules_in(package: Path) -> set[str]:
    return {p.stem for p in _entries(package) if p.suffix == ".py" and _real_file(p)}


def _notebooks(folder: Path) -> list[Path]:
    return [p for p in _entries(folder) if p.suffix == ".ipynb" and _real_file(p)]


def _notebook_folder(directory: Path) -> Path | None:
    """The folder whose step notebooks to grade: ``directory`` or a folder one level down, holding
    ``*.ipynb`` or ``notebooks/*.ipynb`` (the layouts `autograder.grading.extract` reads)."""
    for candidate in [directory, *(p for p in _entries(directory) if _real_dir(p))]:
        if _notebooks(candidate) or (_real_dir(candidate / "notebooks") and _notebooks(candidate / "notebooks")):
            return candidate
    return None


def _with_notebooks_note(found: Located, directory: Path) -> Located:
    if _notebook_folder(directory) is not None:
        found.notes.append("Your submission also holds notebooks; the attention/ package was graded, not the "
                           "notebooks. To have the notebooks graded, submit them without the attention/ folder.")
    return found


def _from_notebooks(folder: Path, staging: Path, course: Course) -> Located:
    """The step notebooks' answer cells as the package (`autograder.grading.extract`)."""
    try:
        from .extract import extract_into
    except ImportError:  # a grader without notebook support: the engine says there is no package
        return Located(folder, "notebooks", ["Notebook submissions are not supported by this grader."])
    target = staging / "notebooks" / PACKAGE
    notes: list[str] = []
    if not extract_into(folder, target, notes, course=course):
        return Located(folder, "nothing", [*notes, "No answer cells were found in the notebooks."])
    notes = [note[0].upper() + note[1:] + ("" if note.endswith(".") else ".") for note in notes]
    return Located(target.parent, "notebooks", notes, _modules_in(target) - {"__init__"})


def locate_submission(directory: Path, staging: Path, course: Course, *, depth: int = 0) -> Located:
    """Find the gradable work in ``directory`` (see the module docstring); copies go under ``staging``."""
    modules = [step.module for step in course.steps]
    shown = "the top of your submission" if depth == 0 else "your zip"
    if _real_dir(directory / PACKAGE):
        return _with_notebooks_note(
            Located(directory, "attention folder", present=_modules_in(directory / PACKAGE)), directory)
    folders = [p for p in _entries(directory) if _real_dir(p) and _real_dir(p / PACKAGE)]
    if folders:
        chosen = folders[0]
        notes = [f"Graded the attention/ folder found in {chosen.name}/."]
        if len(folders) > 1:
            others = ", ".join(f"{p.name}/" for p in folders[1:])
            notes.append(f"Several folders hold an attention/ package; only {chosen.name}/ was graded "
                         f"(not {others}).")
        return _with_notebooks_note(
            Located(chosen, "folder one level down", notes, _modules_in(chosen / PACKAGE)), chosen)
    zips = [p for p in _entries(directory) if p.suffix.lower() == ".zip" and _real_file(p)]
    if zips and depth == 0:
        target = staging / "unzipped"
        notes = _extract(zips[0], target)
        found = locate_submission(target, staging, course, depth=1)
        found.notes[:0] = [f"Unzipped {zips[0].name}."] + notes
        if len(zips) > 1:
            found.notes.insert(1, f"Only {zips[0].name} was graded; the other zip files were ignored.")
        found.form = f"zip ({found.form})"
        return found
    loose = sorted(p for p in _entries(directory) if p.suffix == ".py" and _real_file(p) and p.stem in modules)
    if loose:
        target = staging / "loose" / PACKAGE
        target.mkdir(parents=True)
        for path in [p for p in _entries(directory) if p.suffix == ".py" and _real_file(p)][:MAX_FILES]:
            _copy_no_follow(path, target / path.name)
        return Located(target.parent, "module files",
                       [f"The module files were found at {shown}, not in an attention/ folder; "
                        "they were graded as the attention package."], _modules_in(target))
    notebooks = _notebook_folder(directory)
    if notebooks is not None:
        return _from_notebooks(notebooks, staging, course)
    what = ", ".join(p.name + ("/" if _real_dir(p) else "") for p in _entries(directory)[:12]) or "nothing"
    return Located(directory, "nothing", [
        f"Found at {shown}: {what}. Submit the attention folder (with attention/<module>.py files), "
        "a zip of it, or the step notebooks.",
    ])


def _copy_no_follow(source: Path, target: Path) -> None:
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer)


def _extract(archive: Path, target: Path) -> list[str]:
    """Extract the ``.py`` and ``.ipynb`` members of ``archive`` safely; returns notes for the learner."""
    target.mkdir(parents=True)
    notes: list[str] = []
    try:
        with zipfile.ZipFile(archive) as zipped:
            files = total = 0
            for member in zipped.infolist():
                relative = Path(member.filename)
                if member.is_dir() or not member.filename.endswith(KEPT_SUFFIXES):
                    continue
                if IGNORED_FOLDERS.intersection(relative.parts) or relative.name.startswith("._"):
                    continue
                is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
                if relative.is_absolute() or ".." in relative.parts or is_link or member.filename.startswith("/"):
                    notes.append(f"{member.filename}: an unsafe path or a link in the zip, ignored.")
                    continue
                files += 1
                total += member.file_size
                if files > MAX_FILES or total > MAX_BYTES:
                    notes.append(f"The zip holds more than {MAX_FILES} files or {MAX_BYTES >> 20} MB of Python and "
                                 "notebooks; the rest was ignored.")
                    break
                destination = target / relative
                destination.parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as reader, open(destination, "wb") as writer:
                    shutil.copyfileobj(reader, writer, 1 << 16)
    except (zipfile.BadZipFile, OSError, ValueError) as error:
        notes.append(f"{archive.name} could not be read as a zip file ({error}).")
    return notes


def private_paths(root: Path) -> list[Path]:
    """What learner code must not see in ``root`` (``/autograder``) beyond what ``grade`` hides.

    Everything but the Python the grader runs on (a venv under ``root``) and, in ``source/``, the
    public check library (``exercises/``, needed on ``sys.path``).
    """
    python_homes = [Path(p).resolve() for p in {sys.prefix, sys.exec_prefix}]
    hidden = []
    for entry in _entries(root):
        resolved = entry.resolve()
        if entry.name == "source" or any(h == resolved or resolved in h.parents for h in python_homes):
            continue
        hidden.append(entry)
    source = root / "source"
    hidden += [entry for entry in _entries(source) if entry.name != "exercises"]
    return hidden


def add_notes(results: dict, located: Located, modules: list[str]) -> dict:
    """Put what the learner must know about their upload right after the score line of ``output``."""
    notes = list(located.notes)
    if located.present and "notebooks" not in located.form:  # notebooks: the extraction notes say it
        missing = [f"attention/{m}.py" for m in modules if m not in located.present]
        if missing:
            notes.append(f"Missing from your submission: {', '.join(missing)}. Those steps score 0; "
                         "the other steps were graded.")
    lines = results.get("output", "").split("\n")
    results["output"] = "\n".join(lines[:1] + notes + lines[1:])
    results.setdefault("extra_data", {})["submission_form"] = located.form
    return results


def _seed(given: int | None) -> int:
    if given is not None:
        return given
    if os.environ.get("AUTOGRADER_SEED"):
        return int(os.environ["AUTOGRADER_SEED"])
    if SEED_FILE.is_file():
        return int(SEED_FILE.read_text().strip())
    return secrets.randbits(31)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run_autograder", description=__doc__.splitlines()[0])
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"),
                        help="the /autograder folder (default: $AUTOGRADER_ROOT or /autograder)")
    parser.add_argument("--seed", type=int, default=None, help="seed (default: $AUTOGRADER_SEED, seed.txt, or fresh)")
    args = parser.parse_args(argv)

    from ..course import COURSE_FILE, CourseError, load_course
    from ..errors import UsageError
    from ..grading.cli import grade_all
    from ..grading.submissions import Submission

    root = Path(args.root).resolve()
    results_file = root / "results" / "results.json"
    try:
        course = load_course(COURSE_FILE, package_dir=None)  # the solutions are not shipped to Gradescope
    except CourseError as error:
        print(f"run_autograder: {error}", file=sys.stderr)
        return 2
    modules = [step.module for step in course.steps]
    work = Path(tempfile.mkdtemp(prefix="gradescope-"))
    try:
        located = locate_submission(root / "submission", work / "staged", course)
        print(f"run_autograder: submission form: {located.form}; grading {located.path}", file=sys.stderr)
        out_dir = work / "grades"
        try:
            status = grade_all(course, [Submission(NAME, located.path)], out_dir=out_dir, jobs=1,
                               seed=_seed(args.seed), hidden_paths=tuple(private_paths(root)))
        except UsageError as error:
            print(f"run_autograder: the grader could not run: {error}", file=sys.stderr)
            return 2
        graded = out_dir / NAME / "results.json"
        if status != 0 or not graded.is_file():
            print("run_autograder: the grader failed on this submission; no results were written", file=sys.stderr)
            return 1
        results = add_notes(json.loads(graded.read_text(encoding="utf-8")), located, modules)
        results_file.parent.mkdir(parents=True, exist_ok=True)
        temporary = results_file.with_name(".results.json.tmp")
        temporary.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
        os.replace(temporary, results_file)
        print(f"run_autograder: wrote {results_file} (score {results['score']:g})", file=sys.stderr)
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())

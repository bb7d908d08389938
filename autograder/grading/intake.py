"""One intake: from what was handed in to the private ``attention/`` package the sandbox grades.

Used by ``python -m autograder grade`` (`resolve_submissions`, then `make_private_copy` for each
submission) and by the Gradescope runner (`make_private_copy` of ``/autograder/submission``).
Everything is copied or unzipped by one safe copier (`_Copier`: regular files only, never through a
link, no path outside the target) under one set of caps (`MAX_FILES`, `MAX_FILE_BYTES`, ...).

Where the work of one submission is looked for (`locate`), in this order:

1. ``attention/`` at the top (a real folder; a link is never followed);
2. module files at the top (``tokens.py``, ``scores.py``, ...: the course's module names);
3. the step notebooks, ``*.ipynb`` at the top or in ``notebooks/`` (as nbgrader's
   ``submitted/<student>/notebooks/``). Found beside 1 or 2, each step is graded from whichever
   of the two implements it, the package when both do (`choose_sources`); the notes say which;
4. one folder down, whatever its name: a subfolder holding 1-3. When several places hold work
   (the top and subfolders), the one implementing the most steps is graded (among equals the
   top, then the first subfolder in name order); a note names the others;
5. a ``.zip`` at the top (the first in name order): unzipped, then looked through with 1-5 (once);
6. nothing: every step scores 0 and a note lists what was found.
``__MACOSX``, ``__pycache__``, ``.ipynb_checkpoints`` and hidden files (``.*``) are ignored.

Which command-line paths are submissions (`resolve_submissions`): a ``.zip`` file is one,
named after the file. A folder holding work at its top (1-3) is one, named after the folder; so
is a folder with at most one subfolder or zip holding work (``alice/attention-course/...``).
Any other folder (two or more subfolders or zips holding work) is a batch: every subfolder and
zip in it is one student's submission under its own name, even an empty one, except an output
folder of the grader (`is_output_folder`). A name that is not UTF-8 is shown escaped (``\\xe9``).
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..course import COURSE_FILE, Course, load_course
from ..notebook_ids import NOTEBOOK_FOLDER
from .caps import MAX_ARCHIVE_BYTES, MAX_FILE_BYTES, MAX_FILES, MAX_TOTAL_BYTES, MAX_ZIP_DEPTH
from .concept_answers import ANSWERS_FILE, Answer, read_answers
from .implemented import choose_sources, still_a_stub
from .inert import shown_name

PACKAGE = "attention"
IGNORED_NAMES = {"__MACOSX", "__pycache__", ".ipynb_checkpoints"}

KEPT_IN_ZIPS = (".py", ".ipynb", ".zip")  # a zip inside the zip is unzipped too (one level)


class SubmissionError(Exception):
    """A path on the command line cannot be graded at all (one line, names the path)."""


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path  # a folder or a .zip
    batch: Path | None = None  # the command-line folder this one was found in, if any


@dataclass
class PrivateCopy:
    """A submission's gradable code, copied to a private folder the sandbox may read."""

    root: Path  # holds attention/ ; the child's working directory
    package_dir: Path
    notes: list[str] = field(default_factory=list)  # what the learner must know about the upload
    has_package: bool = False
    form: str = "nothing"  # "attention folder", "folder one level down", "module files", "notebooks", "zip (...)"
    present: set[str] = field(default_factory=set)  # module names in the copy
    sources: dict[str, str] = field(default_factory=dict)  # step id -> where its code came from
    answers: dict[str, Answer] = field(default_factory=dict)  # concept question -> its answer, read, never run

    def module_file(self, module: str) -> Path:
        return self.package_dir / f"{module}.py"


# -- Looking at folders without following links --------------------------------------------------


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


def _ignored(name: str) -> bool:
    return name in IGNORED_NAMES or name.startswith(".")


def entries(folder: Path) -> list[Path]:
    """What ``folder`` holds, in name order, without ignored and hidden names."""
    try:
        return sorted(p for p in folder.iterdir() if not _ignored(p.name))
    except OSError:
        return []


def _zips(folder: Path) -> list[Path]:
    return [p for p in entries(folder) if p.suffix.lower() == ".zip" and _real_file(p)]


def _notebooks(folder: Path) -> list[Path]:
    return [p for p in entries(folder) if p.suffix == ".ipynb" and _real_file(p)]


def _loose_modules(folder: Path, course: Course) -> list[Path]:
    modules = {step.module for step in course.steps}
    return [p for p in entries(folder) if p.suffix == ".py" and p.stem in modules and _real_file(p)]


def _has_notebooks(folder: Path) -> bool:
    inner = folder / NOTEBOOK_FOLDER
    return bool(_notebooks(folder)) or (_real_dir(inner) and bool(_notebooks(inner)))


def holds_work(folder: Path, course: Course) -> bool:
    """Work at the top of ``folder``: ``attention/``, module files or step notebooks (1-3 above)."""
    return _real_dir(folder / PACKAGE) or bool(_loose_modules(folder, course)) or _has_notebooks(folder)


# -- The command line ----------------------------------------------------------------------------


def is_batch(folder: Path, course: Course) -> bool:
    """True when ``folder`` holds several submissions rather than being one (module docstring)."""
    if holds_work(folder, course):
        return False
    children = [p for p in entries(folder) if _real_dir(p) and (
        holds_work(p, course) or any(_real_dir(q) and holds_work(q, course) for q in entries(p)))]
    return len(children) + len(_zips(folder)) >= 2


def is_output_folder(folder: Path) -> bool:
    """A folder the grader wrote (``grades.csv`` beside ``report.html`` or ``mistakes.csv``): never a student."""
    return _real_file(folder / "grades.csv") and (_real_file(folder / "report.html") or
                                                  _real_file(folder / "mistakes.csv"))


def resolve_submissions(paths: Sequence[str], course: Course | None = None) -> list[Submission]:
    """The submissions named on the command line, in order; raises `SubmissionError`."""
    course = course or _course()
    found: list[Submission] = []
    for text in paths:
        path = Path(text)
        if not os.path.lexists(path):
            raise SubmissionError(f"{text}: no such file or folder")
        if not path.exists():
            raise SubmissionError(f"{text}: a symbolic link to nothing")
        if path.is_file():
            if path.suffix.lower() != ".zip":
                raise SubmissionError(f"{text}: a submission is a folder (or a .zip of one), not a file")
            found.append(Submission(shown_name(path.stem), path))
        elif not path.is_dir():
            raise SubmissionError(f"{text}: neither a folder nor a .zip file")
        elif is_batch(path, course):
            found.extend(Submission(shown_name(child.stem if child.suffix.lower() == ".zip" else child.name), child,
                                    path) for child in entries(path)
                         if (os.path.isdir(child) and not is_output_folder(child)) or child in _zips(path))
        else:
            found.append(Submission(shown_name(path.resolve().name), path))
    names: dict[str, Path] = {}
    for submission in found:
        if submission.name in names:
            raise SubmissionError(
                f"two submissions are named {submission.name!r} ({names[submission.name]} and {submission.path}); "
                "rename one so their results do not overwrite each other"
            )
        names[submission.name] = submission.path
    return found


def _course() -> Course:  # the grader's course; the solutions need not be there (Gradescope)
    return load_course(COURSE_FILE, package_dir=None)


# ------------------------------------------------------------------------------------------------
# The one safe copier
# ------------------------------------------------------------------------------------------------


class _Copier:
    """Copies files into one private folder under the caps; every refusal becomes a note."""

    def __init__(self, notes: list[str]) -> None:
        self.notes = notes
        self.files = 0
        self.bytes = 0
        self.full = False

    def _take(self, shown: str, size: int) -> bool:
        if self.full:
            return False
        if size > MAX_FILE_BYTES:
            self.notes.append(f"{shown} is larger than {MAX_FILE_BYTES >> 20} MB: it was ignored.")
            return False
        if self.files + 1 > MAX_FILES or self.bytes + size > MAX_TOTAL_BYTES:
            self.notes.append(f"Your submission holds more than {MAX_FILES} files or {MAX_TOTAL_BYTES >> 20} MB: "
                              f"{shown} and what follows were ignored.")
            self.full = True
            return False
        self.files += 1
        self.bytes += size
        return True

    def copy_file(self, source: Path, target: Path, shown: str) -> bool:
        """Copy a regular file (never through a link); False with a note when refused."""
        try:
            fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError as error:
            if error.errno == errno.ELOOP:
                self.notes.append(f"{shown} is not a regular file (a symbolic link?): it was ignored.")
            else:
                self.notes.append(f"{shown} could not be read ({error.strerror}): it was ignored.")
            return False
        with os.fdopen(fd, "rb") as reader:
            info = os.fstat(reader.fileno())
            if not stat.S_ISREG(info.st_mode):
                self.notes.append(f"{shown} is not a regular file: it was ignored.")
                return False
            if not self._take(shown, info.st_size):
                return False
            target.parent.mkdir(parents=True, exist_ok=True)
            with open(target, "wb") as writer:
                writer.write(reader.read(MAX_FILE_BYTES))
        return True

    def copy_python_tree(self, source: Path, target: Path, shown: str) -> None:
        """The ``.py`` files of ``source`` and its subfolders (no links, no caches)."""
        target.mkdir(parents=True, exist_ok=True)
        for directory, subdirs, names in os.walk(source, followlinks=False):
            relative = Path(directory).relative_to(source)
            kept = []
            for sub in sorted(subdirs):
                if os.path.islink(os.path.join(directory, sub)):
                    self.notes.append(f"{shown}/{(relative / sub).as_posix()} is a symbolic link: it was ignored.")
                elif not _ignored(sub):
                    kept.append(sub)
            subdirs[:] = kept
            for name in sorted(names):
                if name.endswith(".py") and not name.startswith("."):
                    self.copy_file(Path(directory) / name, target / relative / name,
                                   f"{shown}/{(relative / name).as_posix()}")

    def unzip(self, archive: Path, target: Path) -> None:
        """The ``.py`` and ``.ipynb`` members of ``archive``: no unsafe path, no link, capped while read."""
        target.mkdir(parents=True, exist_ok=True)
        try:
            if os.lstat(archive).st_size > MAX_ARCHIVE_BYTES:
                self.notes.append(f"{archive.name} is larger than {MAX_ARCHIVE_BYTES >> 20} MB: it was not unzipped.")
                return
            with zipfile.ZipFile(archive) as zipped:
                for member in zipped.infolist():
                    if self.full:
                        return
                    self._unzip_member(zipped, member, target)
        except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, RuntimeError, EOFError,
                NotImplementedError, zlib.error) as error:
            self.notes.append(f"{archive.name} could not be read as a zip file ({type(error).__name__}: {error}).")

    def _unzip_member(self, zipped: zipfile.ZipFile, member: zipfile.ZipInfo, target: Path) -> None:
        name = member.filename.replace("\\", "/")
        parts = [p for p in name.split("/") if p not in ("", ".")]
        if member.is_dir() or not parts or not name.endswith(KEPT_IN_ZIPS):
            return
        is_link = stat.S_ISLNK(member.external_attr >> 16)
        if name.startswith("/") or ".." in parts or ":" in parts[0] or is_link:
            self.notes.append(f"{member.filename}: an unsafe path or a link in the zip, ignored.")
            return
        if any(_ignored(p) for p in parts) or len(parts) > MAX_ZIP_DEPTH or not self._take(name, member.file_size):
            return
        destination = target.joinpath(*parts)
        destination.parent.mkdir(parents=True, exist_ok=True)
        with zipped.open(member) as reader:
            data = reader.read(MAX_FILE_BYTES + 1)  # a member lying about its size stops here
        if len(data) > MAX_FILE_BYTES:
            self.notes.append(f"{member.filename} is larger than {MAX_FILE_BYTES >> 20} MB: it was ignored.")
            return
        self.bytes += len(data) - member.file_size
        destination.write_bytes(data)


# -- Finding the work in one submission ----------------------------------------------------------


@dataclass
class Located:
    """Where the work of a submission is: a folder holding it at the top (or nothing)."""

    folder: Path | None
    form: str
    notes: list[str] = field(default_factory=list)


def locate(directory: Path, course: Course, copier: _Copier, staging: Path | None, *, shown: str,
           zip_levels: int = 2) -> Located:
    """Find the work in ``directory`` (rules 1-6 of the module docstring); zips unzip under ``staging``,
    ``zip_levels`` deep (a zip, and a zip inside it)."""
    candidates = [directory] if holds_work(directory, course) else []
    candidates += [p for p in entries(directory)
                   if p.name not in (PACKAGE, NOTEBOOK_FOLDER) and _real_dir(p) and holds_work(p, course)]
    if len(candidates) == 1 and candidates[0] == directory:
        return Located(directory, _form(directory, course))
    if candidates:
        done = {place: implemented_steps(place, course) for place in candidates}
        chosen = max(candidates, key=lambda place: done[place])  # the first among equals
        notes = [] if chosen == directory else [f"Graded the {_what(chosen, course)} found in {chosen.name}/."]
        if len(candidates) > 1:
            def shown_place(place: Path) -> str:
                return "the top of the folder" if place == directory else f"{place.name}/"

            others = ", ".join(f"{shown_place(p)} ({done[p]})" for p in candidates if p != chosen)
            notes.append(f"Several places hold work; only {shown_place(chosen)} was graded, which implements the "
                         f"most steps ({done[chosen]}; among equals the top, then the first folder in name order), "
                         f"not {others}.")
        return Located(chosen, _form(chosen, course) if chosen == directory else "folder one level down", notes)
    zips = _zips(directory)
    if zips and staging is not None and zip_levels > 0:
        target = staging / f"unzipped-{zip_levels}"
        notes = [f"Unzipped {zips[0].name}."]
        if len(zips) > 1:
            notes.append(f"Only {zips[0].name} was graded (the first in name order); "
                         f"{', '.join(p.name for p in zips[1:])} were ignored.")
        copier.unzip(zips[0], target)
        inner = locate(target, course, copier, staging, shown="the top of your zip", zip_levels=zip_levels - 1)
        inner.notes[:0] = notes
        inner.form = f"zip ({inner.form})"
        return inner
    what = ", ".join(p.name + ("/" if _real_dir(p) else "") for p in entries(directory)[:12]) or "nothing"
    return Located(None, "nothing", [
        f"Found at {shown}: {what}. Submit the attention folder (with attention/<module>.py files), "
        "a zip of it, or the step notebooks."])


def implemented_steps(folder: Path, course: Course) -> int:
    """How many steps the work at the top of ``folder`` implements (package, module files or notebooks)."""
    package = folder / PACKAGE if _real_dir(folder / PACKAGE) else folder
    sources: dict[str, list[str]] = {}
    for step in course.steps:
        path = package / f"{step.module}.py"
        try:
            if _real_file(path) and os.lstat(path).st_size <= MAX_FILE_BYTES:
                sources.setdefault(step.id, []).append(path.read_text(encoding="utf-8", errors="replace"))
        except OSError:
            pass
    if _has_notebooks(folder):
        from .extract import extract

        modules = extract(folder, course).modules
        for step in course.steps:
            if step.module in modules:
                sources.setdefault(step.id, []).append(modules[step.module])
    return sum(any(not still_a_stub(text, course.step(step_id).api) for text in texts)
               for step_id, texts in sources.items())


def _form(folder: Path, course: Course) -> str:
    if _real_dir(folder / PACKAGE):
        return "attention folder"
    return "module files" if _loose_modules(folder, course) else "notebooks"


def _what(folder: Path, course: Course) -> str:
    return {"attention folder": "attention/ folder", "module files": "module files"}.get(
        _form(folder, course), "step notebooks")


# ------------------------------------------------------------------------------------------------
# The private copy
# ------------------------------------------------------------------------------------------------


def make_private_copy(submission: Submission, parent: Path, owner: int | None,
                      course: Course | None = None) -> PrivateCopy:
    """Find the submission's work and copy it as ``attention/<module>.py`` into a new folder under ``parent``.

    When ``owner`` is given (the grader runs as root), the copy belongs to that uid, mode 0700/0600.
    Never raises for anything the submission holds: what cannot be used becomes a note.
    """
    course = course or _course()
    root = Path(tempfile.mkdtemp(prefix="sub-", dir=parent))
    package_dir = root / PACKAGE
    copy = PrivateCopy(root, package_dir)
    copier = _Copier(copy.notes)
    staging = root / ".intake"
    staging.mkdir()
    try:
        _take_in(submission, course, copy, copier, staging)
    except OSError as error:  # the file system refused something (permissions, a name too long): say so
        copy.notes.append(f"Part of your submission could not be read ({error.strerror or error}); "
                          "what was read is graded.")
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    package_dir.mkdir(exist_ok=True)
    copy.present = {p.stem for p in package_dir.glob("*.py")} - {"__init__", Path(ANSWERS_FILE).stem}
    copy.has_package = bool(copy.present)
    if owner is not None:
        for directory, _, files in os.walk(root):
            os.chown(directory, owner, owner)
            os.chmod(directory, 0o700)
            for name in files:
                os.chown(os.path.join(directory, name), owner, owner)
                os.chmod(os.path.join(directory, name), 0o600)
    return copy


def _take_in(submission: Submission, course: Course, copy: PrivateCopy, copier: _Copier, staging: Path) -> None:
    source = submission.path
    shown = "the top of your submission"
    if os.path.islink(source) and submission.batch is not None:
        copy.notes.append(f"{source.name} is a symbolic link: it was not followed.")
        return
    if source.is_file():  # a .zip named on the command line or in a batch
        copy.notes.append(f"Unzipped {source.name}.")
        copier.unzip(source, staging / "unzipped")
        source, shown = staging / "unzipped", "the top of your zip"
        located = locate(source, course, copier, staging, shown=shown, zip_levels=1)
        located.form = f"zip ({located.form})"
    else:
        located = locate(source, course, copier, staging, shown=shown)
    copy.notes.extend(located.notes)
    copy.form = located.form
    if located.folder is not None:  # a new budget: what was unzipped has been counted once already
        _copy_work(located.folder, course, copy, _Copier(copy.notes))


def _copy_work(folder: Path, course: Course, copy: PrivateCopy, copier: _Copier) -> None:
    """Copy the package (or the module files) and extract the notebooks, then pick each step's source."""
    package: dict[str, str] = {}
    if _real_dir(folder / PACKAGE):
        copier.copy_python_tree(folder / PACKAGE, copy.package_dir, PACKAGE)
    elif _loose_modules(folder, course):
        copy.notes.append("The module files were found at the top of the folder, not in an attention/ folder; "
                          "they were graded as the attention package.")
        for path in [p for p in entries(folder) if p.suffix == ".py"]:  # the copier refuses links, with a note
            copier.copy_file(path, copy.package_dir / path.name, path.name)
    for path in copy.package_dir.glob("*.py") if copy.package_dir.is_dir() else []:
        package[path.stem] = path.read_text(encoding="utf-8", errors="replace")
    notebooks, read = _notebook_modules(folder, course, copy.notes)
    chosen, notes = choose_sources(course.steps, package, notebooks)
    copy.notes.extend(notes)
    for step in course.steps:
        if chosen.get(step.id) == "notebooks":
            copy.package_dir.mkdir(parents=True, exist_ok=True)
            (copy.package_dir / f"{step.module}.py").write_text(notebooks[step.module], encoding="utf-8")
            copy.sources[step.id] = read[step.module]
        elif chosen.get(step.id) == "package":
            copy.sources[step.id] = f"{PACKAGE}/{step.module}.py"
    if notebooks and not (copy.package_dir / "__init__.py").exists():
        copy.package_dir.mkdir(parents=True, exist_ok=True)
        (copy.package_dir / "__init__.py").write_text('"""Extracted from notebooks by the grader."""\n')
    _say_sources(course, copy, package, notebooks)
    copy.answers = read_answers(folder if _has_notebooks(folder) else None, copy.package_dir, course)


def _notebook_modules(folder: Path, course: Course, notes: list[str]) -> tuple[dict[str, str], dict[str, str]]:
    """The modules the step notebooks' answer cells make, and which notebook each came from."""
    if not _has_notebooks(folder):
        return {}, {}
    from .extract import extract

    extraction = extract(folder, course)
    notes.extend(note[0].upper() + note[1:] + ("" if note.endswith(".") else ".") for note in extraction.notes)
    if not extraction.modules:
        notes.append("No answer cells were found in the notebooks.")
    return extraction.modules, extraction.origins


def _say_sources(course: Course, copy: PrivateCopy, package: dict[str, str], notebooks: dict[str, str]) -> None:
    if notebooks and package:
        from_package = [s.id for s in course.steps if copy.sources.get(s.id, "").startswith(f"{PACKAGE}/")]
        from_notebooks = [f"{s.id} ({copy.sources[s.id]})" for s in course.steps
                          if s.id in copy.sources and not copy.sources[s.id].startswith(f"{PACKAGE}/")]
        if from_notebooks:
            copy.notes.append(f"Graded from attention/: {', '.join(from_package) or 'no step'}; from the notebooks' "
                              f"answer cells: {', '.join(from_notebooks)}.")
        else:
            copy.notes.append("Graded from attention/; the notebooks beside it implement no step it does not.")
    elif notebooks:
        shown = sorted(set(copy.sources.values()))
        copy.notes.append(f"Graded from the answer cells of {', '.join(shown)} (no attention/ package).")
    if package:
        missing = [f"{PACKAGE}/{s.module}.py" for s in course.steps if s.id not in copy.sources]
        if missing:
            copy.notes.append(f"Missing from your submission: {', '.join(missing)}. Those steps score 0; "
                              "the other steps were graded.")

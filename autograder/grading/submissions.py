"""Submissions: what the command line names, and the private copies the sandbox grades.

A submission is a folder laid out like ``exercises/`` (its ``attention/`` package) or a ``.zip``
of one. A folder that is not a submission itself but holds submissions (like
``autograder/samples``) stands for all of them. Two submissions with the same name, or a path
that does not exist, is an error before anything is graded.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

PACKAGE = "attention"
MAX_FILES = 200
MAX_BYTES = 5 * 1024 * 1024


class SubmissionError(Exception):
    """A path on the command line cannot be graded at all (one line, names the path)."""


@dataclass(frozen=True)
class Submission:
    name: str
    path: Path  # a folder or a .zip


@dataclass
class PrivateCopy:
    """A submission's ``attention/`` files copied to a private folder the sandbox may read."""

    root: Path  # holds attention/ ; the child's working directory
    package_dir: Path
    notes: list[str] = field(default_factory=list)  # what was left out, for the learner
    has_package: bool = True

    def module_file(self, module: str) -> Path:
        return self.package_dir / f"{module}.py"


def looks_like_submission(path: Path) -> bool:
    return (path / PACKAGE).is_dir() or any(path.glob("*.ipynb")) or any(path.glob("notebooks/*.ipynb"))


def resolve_submissions(paths: list[str]) -> list[Submission]:
    """The submissions named on the command line, in order; raises `SubmissionError`."""
    found: list[Submission] = []
    for text in paths:
        path = Path(text)
        if not path.exists():
            raise SubmissionError(f"{text}: no such file or folder")
        if path.is_file():
            if path.suffix.lower() != ".zip":
                raise SubmissionError(f"{text}: a submission is a folder (or a .zip of one), not a file")
            found.append(Submission(path.stem, path))
        elif looks_like_submission(path):
            found.append(Submission(path.resolve().name, path))
        else:
            children = sorted(p for p in path.iterdir() if (p.is_dir() and looks_like_submission(p))
                              or (p.is_file() and p.suffix.lower() == ".zip"))
            if children:
                found.extend(Submission(c.stem if c.is_file() else c.name, c) for c in children)
            else:  # an empty or malformed submission: graded, and told what is missing
                found.append(Submission(path.resolve().name, path))
    names: dict[str, Path] = {}
    for submission in found:
        if submission.name in names:
            raise SubmissionError(
                f"two submissions are named {submission.name!r} ({names[submission.name]} and {submission.path}); "
                "rename one so their results do not overwrite each other"
            )
        names[submission.name] = submission.path
    return found


def make_private_copy(submission: Submission, parent: Path, owner: int | None) -> PrivateCopy:
    """Copy the submission's ``attention/*.py`` into a new folder under ``parent``.

    Only regular ``.py`` files are copied, never through symbolic links, with limits on count and
    size. When ``owner`` is given (the grader runs as root), the copy belongs to that uid, mode 0700.
    """
    root = Path(tempfile.mkdtemp(prefix="sub-", dir=parent))
    package_dir = root / PACKAGE
    copy = PrivateCopy(root, package_dir)
    if submission.path.is_file():
        _extract_zip(submission.path, package_dir, copy)
    else:
        _copy_tree(submission.path / PACKAGE, package_dir, copy)
        if not copy.has_package:  # the step notebooks' answer cells instead (json only, no nbformat)
            from .extract import extract_into

            copy.has_package = extract_into(submission.path, package_dir, copy.notes)
    if owner is not None:
        for directory, _, files in os.walk(root):
            os.chown(directory, owner, owner)
            os.chmod(directory, 0o700)
            for name in files:
                os.chown(os.path.join(directory, name), owner, owner)
                os.chmod(os.path.join(directory, name), 0o600)
    return copy


def _copy_tree(source: Path, target: Path, copy: PrivateCopy) -> None:
    try:
        source_stat = os.lstat(source)
    except OSError:
        copy.has_package = False
        target.mkdir(parents=True)
        return
    if not stat.S_ISDIR(source_stat.st_mode):
        copy.has_package = False
        copy.notes.append("attention is a link or a file, not a folder: it was ignored")
        target.mkdir(parents=True)
        return
    target.mkdir(parents=True)
    files = total = 0
    for directory, subdirs, names in os.walk(source, followlinks=False):
        relative = Path(directory).relative_to(source)
        kept = []
        for sub in subdirs:
            if os.path.islink(os.path.join(directory, sub)):
                copy.notes.append(f"attention/{relative / sub} is a symbolic link: it was ignored")
            elif sub != "__pycache__":
                kept.append(sub)
        subdirs[:] = kept
        (target / relative).mkdir(parents=True, exist_ok=True)
        for name in sorted(names):
            path = Path(directory) / name
            shown = f"attention/{relative / name}".replace("/./", "/")
            info = os.lstat(path)
            if not name.endswith(".py"):
                continue
            if not stat.S_ISREG(info.st_mode):
                copy.notes.append(f"{shown} is not a regular file (a symbolic link?): it was ignored")
                continue
            files += 1
            total += info.st_size
            if files > MAX_FILES or total > MAX_BYTES:
                copy.notes.append(f"attention/ has more than {MAX_FILES} files or {MAX_BYTES // 1024 // 1024} MB: "
                                  f"{shown} and later files were ignored")
                return
            _copy_file(path, target / relative / name)


def _copy_file(source: Path, target: Path) -> None:
    fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as reader, open(target, "wb") as writer:
        shutil.copyfileobj(reader, writer)


def _extract_zip(archive: Path, target: Path, copy: PrivateCopy) -> None:
    """Extract the ``attention/*.py`` members of a zip (top level or one folder down), safely."""
    target.mkdir(parents=True)
    try:
        with zipfile.ZipFile(archive) as zipped:
            members = [m for m in zipped.infolist() if not m.is_dir()]
            prefix = _package_prefix([m.filename for m in members])
            if prefix is None:
                copy.has_package = False
                return
            total = files = 0
            for member in members:
                if not member.filename.startswith(prefix) or not member.filename.endswith(".py"):
                    continue
                relative = Path(member.filename[len(prefix):])
                is_link = (member.external_attr >> 16) & 0o170000 == 0o120000
                if relative.is_absolute() or ".." in relative.parts or is_link:
                    copy.notes.append(f"{member.filename}: unsafe path or link in the zip: ignored")
                    continue
                files += 1
                total += member.file_size
                if files > MAX_FILES or total > MAX_BYTES:
                    copy.notes.append(f"the zip holds more than {MAX_FILES} files or {MAX_BYTES // 1024 // 1024} MB "
                                      "of Python: the rest was ignored")
                    return
                (target / relative).parent.mkdir(parents=True, exist_ok=True)
                with zipped.open(member) as reader, open(target / relative, "wb") as writer:
                    shutil.copyfileobj(reader, writer, 1 << 16)
    except (zipfile.BadZipFile, OSError) as error:
        copy.has_package = False
        copy.notes.append(f"the zip file could not be read: {error}")


def _package_prefix(names: list[str]) -> str | None:
    """``"attention/"`` or ``"<folder>/attention/"`` if the zip holds the package, else None."""
    candidates = sorted({n[: n.index(f"{PACKAGE}/") + len(PACKAGE) + 1] for n in names if f"{PACKAGE}/" in n},
                        key=len)
    for candidate in candidates:
        if candidate == f"{PACKAGE}/" or candidate.count("/") == 2:
            return candidate
    return None

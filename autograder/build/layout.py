"""Where the release reads and writes: `Layout` (tests use a temporary copy of the tree)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from autograder import REPO_ROOT
from autograder.errors import UsageError

from .leaks import SKIPPED_DIRS  # folders never part of a release, never scanned

__all__ = ["SKIPPED_DIRS", "Layout", "check_output_folder", "ensure_output_folder", "read_text"]


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



def read_text(path: Path) -> str | None:
    """``path``'s text; None when it does not exist, "" when it is not UTF-8."""
    try:
        return path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        return None
    except UnicodeDecodeError:
        return ""


def check_output_folder(out_dir: Path) -> None:
    """Raise a one-line `UsageError` when ``out_dir`` can never be a folder (it, or a parent, is a file).

    Cheap: commands call it before their slow work, so a mistyped ``--out`` fails at once.
    """
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"{out_dir}: not a folder")
    blocking = next((p for p in out_dir.parents if p.exists() and not p.is_dir()), None)
    if blocking is not None:
        raise UsageError(f"{out_dir}: cannot create the folder: {blocking} is a file, not a folder")


def ensure_output_folder(out_dir: Path) -> None:
    """Create ``out_dir`` (and its parents), or raise a one-line `UsageError` naming the problem."""
    check_output_folder(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:  # no permission, read-only file system, ...
        raise UsageError(f"{out_dir}: cannot create the folder ({error.strerror or error})") from None

"""Which of the learner's files a step depends on, and which of them are broken (``pytest`` only).

In ``pytest`` a step runs the learner's own earlier steps: ``attention/self_attention.py`` imports
``attention/context.py`` and calls it. When that earlier file cannot be imported, or one of its calls
hangs, every later step that imports it would fail the same way, each after its own time limit, and
name the wrong file. `BrokenFiles` remembers each broken file once per run (what is wrong, found in
which step), refuses a second import of it at once (`BlockedImport`, no second time limit), and tells a
later step that it is blocked by that file, before any of its checks runs.

`imported_files` reads the ``import`` statements of the learner's files (``ast``, nothing is run),
anywhere in a file, so an import inside a function counts too.
"""

from __future__ import annotations

import ast
import importlib.abc
import importlib.machinery
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

PACKAGE = "attention"


class BlockedImport(ImportError):
    """An import of a learner file that already failed (or hung) in this run; not tried again."""

    def __init__(self, filename: str, reason: str) -> None:
        super().__init__(f"attention/{filename} {reason}")
        self.filename = filename
        self.reason = reason


@dataclass(frozen=True)
class Broken:
    """One broken learner file: ``reason`` reads after its name ("cannot be imported: ...")."""

    filename: str  # "context.py", inside the attention/ package
    reason: str
    found_in: str  # "step 6 context"


def _module_file(package_dir: Path, dotted: str) -> str | None:
    """``attention.context`` -> ``context.py`` when that file exists in the package."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE or len(parts) < 2:
        return None
    name = f"{parts[1]}.py"
    return name if (package_dir / name).is_file() else None


def _direct_imports(package_dir: Path, filename: str) -> set[str]:
    """The package files ``filename`` imports, directly (``import``, ``from ... import``, relative too)."""
    try:
        tree = ast.parse((package_dir / filename).read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return set()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = PACKAGE if node.level else (node.module or "")
            if node.level and node.module:
                base = f"{PACKAGE}.{node.module}"
            targets = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in (_module_file(package_dir, t) for t in targets) if name)
    found.discard(filename)
    return found


def imported_files(package_dir: Path, filename: str) -> list[str]:
    """Every package file ``filename`` imports, directly or through another package file, in a stable order."""
    seen: list[str] = []
    todo = sorted(_direct_imports(package_dir, filename))
    while todo:
        name = todo.pop(0)
        if name in seen or name == filename:
            continue
        seen.append(name)
        todo += sorted(_direct_imports(package_dir, name) - set(seen))
    return seen


class BrokenFiles(importlib.abc.MetaPathFinder):
    """The run's broken learner files; as a finder on ``sys.meta_path`` it refuses to import them again."""

    def __init__(self) -> None:
        self.files: dict[str, Broken] = {}

    def add(self, filename: str, reason: str, found_in: str) -> Broken:
        """Remember ``filename`` as broken (the first reason found wins); install the finder once."""
        if filename not in self.files:
            self.files[filename] = Broken(filename, reason, found_in)
        if self not in sys.meta_path:
            sys.meta_path.insert(0, self)
        return self.files[filename]

    def find_spec(self, fullname: str, path: Sequence[str] | None = None,
                  target: object = None) -> importlib.machinery.ModuleSpec | None:
        parts = fullname.split(".")
        if len(parts) == 2 and parts[0] == PACKAGE and f"{parts[1]}.py" in self.files:
            broken = self.files[f"{parts[1]}.py"]
            raise BlockedImport(broken.filename, broken.reason)
        return None

    def blocking(self, package_dir: Path, filename: str) -> Broken | None:
        """The first broken file, other than ``filename`` itself, that ``filename`` imports."""
        return next((self.files[f] for f in imported_files(package_dir, filename) if f in self.files), None)


def blocked_message(broken: Broken) -> str:
    """``blocked by attention/context.py (step 6 context), whose ... Fix that file first.``"""
    return (f"blocked by attention/{broken.filename} ({broken.found_in}): it imports that file, which {broken.reason}. "
            f"Fix attention/{broken.filename} first; this step's checks were not run.")

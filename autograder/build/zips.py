"""Deterministic zips of a folder, and their check: the learner bundle and the Gradescope autograder."""

from __future__ import annotations

import os
import zipfile
from collections.abc import Iterable
from pathlib import Path

ZIP_DATE = (1980, 1, 1, 0, 0, 0)  # fixed: the same sources give the same zip


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

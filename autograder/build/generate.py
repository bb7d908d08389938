"""Generate ``exercises/`` from ``solutions/`` and ``course.yml``, or check that it is up to date.

`write_release` writes every file the `GENERATORS` render whose content changed;
`remove_stale` deletes files a generator owns but no longer renders. `check_release` is the
read-only counterpart (``python -m autograder release --check`` and the project's sync test):
generated files missing, out of date or stale, misplaced solution markers, and solution code
anywhere under ``exercises/`` (`find_leaks`, the leak scanner of `autograder.build.leaks`).
"""

from __future__ import annotations

from pathlib import Path

from autograder.course import Course
from autograder.errors import MarkerError

from . import leaks
from .generators import GENERATORS
from .layout import Layout, read_text

FIX = "run `python -m autograder release`"


def generated_files(course: Course, layout: Layout | None = None, *, fast_only: bool = False) -> dict[Path, str]:
    """Every generated learner file (path -> content). Raises `MarkerError` for a bad solution."""
    layout = layout or Layout()
    files: dict[Path, str] = {}
    for generator in GENERATORS:
        if fast_only and not generator.fast:
            continue
        for path, content in generator.render(course, layout).items():
            if path in files:
                raise ValueError(f"{layout.show(path)} is produced twice (generator {generator.name!r})")
            files[path] = content
    return files


def stale_files(course: Course, layout: Layout | None = None, files: dict[Path, str] | None = None) -> list[Path]:
    """Files matching a generator's ``owns`` globs that no generator produces any more."""
    layout = layout or Layout()
    files = generated_files(course, layout) if files is None else files
    stale = set()
    for generator in GENERATORS:
        for pattern in generator.owns:
            stale.update(p for p in layout.exercises.glob(pattern) if p.is_file() and p not in files)
    return sorted(stale)


def write_release(course: Course, layout: Layout | None = None) -> list[Path]:
    """Write every generated file whose content changed; return the paths written."""
    written = []
    for path, content in generated_files(course, layout).items():
        if read_text(path) != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(content, encoding="utf-8")
            written.append(path)
    return written


def remove_stale(course: Course, layout: Layout | None = None) -> list[Path]:
    """Delete the `stale_files`; return them."""
    stale = stale_files(course, layout)
    for path in stale:
        path.unlink()
    return stale


def find_leaks(layout: Layout | None = None) -> list[leaks.Leak]:
    """Solution code of ``layout``'s solution modules found anywhere under its ``exercises/``."""
    layout = layout or Layout()
    return leaks.find_solution_leaks(layout.solution_package, layout.exercises, layout)


def check_release(course: Course, layout: Layout | None = None) -> list[str]:
    """Problems with ``exercises/``, one line each; an empty list when all is well.

    - a generated file that is missing or differs from what ``release`` would write;
    - a stale file (see `Generator.owns`);
    - a solution module with misplaced markers;
    - solution code anywhere under ``exercises/`` (see `find_leaks`).
    """
    layout = layout or Layout()
    try:
        files = generated_files(course, layout)
    except MarkerError as error:
        return [str(error)]
    problems = []
    for path, content in files.items():
        current = read_text(path)
        if current is None:
            problems.append(f"{layout.show(path)}: missing; {FIX}")
        elif current != content:
            problems.append(f"{layout.show(path)}: out of date; {FIX}")
    for path in stale_files(course, layout, files):
        problems.append(f"{layout.show(path)}: no longer generated from solutions/; {FIX} to remove it")
    problems += [str(leak) for leak in find_leaks(layout)]
    return problems


def sync_problems(course: Course, layout: Layout | None = None) -> list[str]:
    """``exercises/`` problems that stop a learner bundle: stale stubs or step table, solution code.

    Only the fast generators are re-rendered (the notebooks run nbgrader: ``python -m autograder
    release`` writes them just before it builds the bundle).
    """
    layout = layout or Layout()
    try:
        files = generated_files(course, layout, fast_only=True)
    except MarkerError as error:
        return [str(error)]
    problems = [f"{layout.show(path)}: missing or out of date; {FIX}"
                for path, content in files.items() if read_text(path) != content]
    return problems + [str(leak) for leak in find_leaks(layout)]

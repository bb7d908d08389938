"""The release's notebook generators: source notebooks, and learner notebooks by real nbgrader.

`render_source_notebooks` (``solutions/notebooks/*.ipynb``) and `render_learner_notebooks`
(``exercises/notebooks/*``) are the two generators `autograder.build.generators` registers, so
``python -m autograder release`` writes them and ``release --check`` reports them out of date.

The learner notebooks are what ``nbgrader generate_assignment notebooks`` produces with the
repository's ``nbgrader_config.py``: the source notebooks and ``course_notebook.py`` are copied
into a temporary course folder (with a copy of the configuration, which makes that folder the
course root), nbgrader runs there, and its release folder is read back byte for byte. Running the
same command from the repository root therefore writes exactly the committed files.

Before they are returned, the learner files are checked for leaks nbgrader would not catch
(`hidden_leaks`): hidden test code, solution markers, the concept questions' keys. Solution code
of the modules is found by the release's own leak check, which scans ``exercises/`` afterwards.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from autograder import REPO_ROOT
from autograder.build import leaks
from autograder.build.layout import Layout
from autograder.cli import interpreter_on_path
from autograder.course import Course
from autograder.errors import MarkerError, NbgraderError
from autograder.hidden.questions import QUESTIONS
from autograder.notebook_ids import ASSIGNMENT, HELPER, NOTEBOOK_FOLDER

from .build import BuildError, render_source_notebooks, sources_dir
from .source import SourceError

CONFIG = "nbgrader_config.py"
NBGRADER_TIMEOUT = 600

_CACHE: dict[str, dict[str, str]] = {}


def _has_sources(layout: Layout) -> bool:
    return sources_dir(layout.solutions).is_dir()


def _unmanaged(layout: Layout) -> dict[Path, str]:
    """For a layout without notebook sources (tests copy only ``solutions/attention``): its current files."""
    folder = layout.exercises / NOTEBOOK_FOLDER
    found = {}
    for path in sorted(folder.glob("*")) if folder.is_dir() else []:
        if path.is_file():
            try:
                found[path] = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
    return found


def render_sources(course: Course, layout: Layout) -> dict[Path, str]:
    """Generator: ``solutions/notebooks/<notebook>.ipynb`` (none for a layout without ``src/``)."""
    if not _has_sources(layout):
        return {}
    try:
        return render_source_notebooks(course, layout.solutions)
    except (BuildError, SourceError) as error:
        raise MarkerError(str(error)) from None


def render_learner_notebooks(course: Course, layout: Layout) -> dict[Path, str]:
    """Generator: ``exercises/notebooks/*``, as ``nbgrader generate_assignment`` writes it."""
    if not _has_sources(layout):
        return _unmanaged(layout)
    sources = render_sources(course, layout)
    helper = layout.solutions / NOTEBOOK_FOLDER / HELPER
    config = layout.root / CONFIG if (layout.root / CONFIG).is_file() else REPO_ROOT / CONFIG
    inputs = {f"{NOTEBOOK_FOLDER}/{p.name}": text for p, text in sources.items()}
    inputs[f"{NOTEBOOK_FOLDER}/{HELPER}"] = helper.read_text(encoding="utf-8")
    inputs[CONFIG] = config.read_text(encoding="utf-8")
    key = hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()
    if key not in _CACHE:
        released = run_generate_assignment(inputs)
        problems = hidden_leaks(released)
        if problems:
            raise MarkerError(problems[0])
        _CACHE[key] = released
    target = layout.exercises / NOTEBOOK_FOLDER
    return {target / name: text for name, text in _CACHE[key].items()}


def run_generate_assignment(inputs: dict[str, str]) -> dict[str, str]:
    """Run ``nbgrader generate_assignment`` on ``inputs`` (course-relative path -> text) in a temporary
    course; return the release folder's files (name -> text). Raises `NbgraderError` when nbgrader fails."""
    with tempfile.TemporaryDirectory(prefix="nbgrader-release-") as tmp:
        root = Path(tmp)
        for relative, text in inputs.items():
            path = root / ("solutions" if relative != CONFIG else "") / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        env = dict(os.environ)
        interpreter_on_path(env)  # nbgrader runs `alembic`, installed beside this interpreter
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
        done = subprocess.run(
            [sys.executable, "-m", "nbgrader", "generate_assignment", ASSIGNMENT, "--force"],
            cwd=root, env=env, capture_output=True, text=True, timeout=NBGRADER_TIMEOUT,
        )
        release = root / "exercises" / ASSIGNMENT
        if done.returncode != 0 or not release.is_dir():
            raise NbgraderError(f"nbgrader generate_assignment failed (exit {done.returncode}): "
                                f"{nbgrader_cause(done.stderr + done.stdout)}")
        return {
            path.relative_to(release).as_posix(): path.read_text(encoding="utf-8")
            for path in sorted(release.rglob("*"))
            if path.is_file() and "__pycache__" not in path.parts
        }


def nbgrader_cause(log: str) -> str:
    """The real cause in nbgrader's output: the last exception line of a traceback (``FileNotFoundError:
    [Errno 2] No such file or directory: 'alembic'``), else the last error line that is not nbgrader's
    "Please see the above traceback", else the last line."""
    lines = [line.strip() for line in log.strip().splitlines() if line.strip()]
    raised = [line for line in lines if re.match(r"^[\w.]*(?:Error|Exception|Exit)\b.*", line)]
    errors = [line for line in lines if ("ERROR" in line or "Error" in line) and "see the above traceback" not in line]
    return (raised or errors or lines or ["no output"])[-1]


def hidden_leaks(files: dict[str, str]) -> list[str]:
    """Hidden test code, solution markers or question keys in learner notebooks (one line each)."""
    keys = [q.solution_line for q in QUESTIONS.values()]
    return leaks.notebook_cell_leaks(files, keys, f"exercises/{NOTEBOOK_FOLDER}")

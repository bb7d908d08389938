"""The learner release, ``python -m autograder release --out DIR``: what it writes, its zip, the
leak check (each kind of leak is caught, and a leak fails the release with nothing written), and
the public self-checks running in the released folder with only what its install line installs.

The command runs once per module, in a copy of the repository (it regenerates ``exercises/``
when out of date, which must not touch the live checkout).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from importlib import metadata
from pathlib import Path

import pytest
from conftest import EXERCISES, REPO_ROOT, SOLUTIONS
from packaging.requirements import Requirement

from autograder.build.bundle import BUNDLE_NAME, build_bundle, check_bundle
from autograder.build.layout import Layout
from autograder.build.leaks import hidden_lines, significant_solution_lines
from autograder.build.zips import verify_zip
from autograder.course import load_course
from autograder.course_cli import markdown_table

COURSE = load_course()
MODULES = [step.module for step in COURSE.steps]
IGNORE = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", ".pytest_cache", "*.pyc")
NOT_COPIED = {".git", "grades", "bench-output", ".venv", ".ruff_cache", "tests"}


def copy_repository(target: Path) -> Path:
    """The checkout (but its history, outputs and caches) copied into ``target``."""
    for path in REPO_ROOT.iterdir():
        if path.name in NOT_COPIED or path.name.endswith(".egg-info"):
            continue
        if path.is_dir():
            shutil.copytree(path, target / path.name, ignore=IGNORE)
        else:
            shutil.copy(path, target / path.name)
    return target


def run_module(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m autograder ARGS`` with ``root`` as the repository (imports come from there)."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(root), str(root / "exercises")]),
               PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-m", "autograder", *args], cwd=root, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def released(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, subprocess.CompletedProcess]]:
    """``python -m autograder release --out DIR`` in a copy of the repository: (DIR, the run)."""
    root = copy_repository(tmp_path_factory.mktemp("repo"))
    out = tmp_path_factory.mktemp("release")
    done = run_module(root, "release", "--out", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    yield out, done


@pytest.fixture
def bundle_copy(released: tuple[Path, subprocess.CompletedProcess], tmp_path: Path) -> Path:
    """A private copy of the released folder, to plant leaks in."""
    target = tmp_path / BUNDLE_NAME
    shutil.copytree(released[0] / BUNDLE_NAME, target)
    return target


def files_of(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


# ---------------------------------------------------------------------------------------
# What the release writes
# ---------------------------------------------------------------------------------------


def test_release_writes_the_learner_folder_and_its_zip(released: tuple[Path, subprocess.CompletedProcess]) -> None:
    out, done = released
    folder = out / BUNDLE_NAME
    assert sorted(p.name for p in out.iterdir()) == [BUNDLE_NAME, f"{BUNDLE_NAME}.zip"]
    assert f"wrote {folder}/" in done.stdout and f"wrote {out / BUNDLE_NAME}.zip" in done.stdout
    assert "leak check passed" in done.stdout

    files = files_of(folder)
    expected = {"README.md", "requirements.txt", ".gitignore", "conftest.py", "pytest.ini", "attention/__init__.py",
                *(f"attention/{m}.py" for m in MODULES), "selfcheck/__init__.py", "selfcheck/public/__init__.py",
                "selfcheck/steps.py", *(f"tests/test_{n:02d}_{s.id}.py" for n, s in enumerate(COURSE.steps, 1))}
    assert expected <= files, expected - files
    notebooks = {p.relative_to(EXERCISES).as_posix() for p in EXERCISES.glob("notebooks/*.ipynb")}
    assert notebooks <= files  # the learner notebooks, when the checkout has them
    extra = {f for f in files if not f.startswith(("attention/", "selfcheck/", "tests/", "notebooks/"))}
    assert extra == {"README.md", "requirements.txt", ".gitignore", "conftest.py", "pytest.ini"}
    for module in MODULES:  # the stubs, exactly as generated in exercises/
        stub = EXERCISES / "attention" / f"{module}.py"
        assert (folder / "attention" / f"{module}.py").read_text() == stub.read_text()
    assert not [f for f in files if f.startswith(("autograder/", "solutions/")) or f.endswith((".pyc", "course.yml"))]


def test_the_zip_holds_exactly_the_checked_folder(released: tuple[Path, subprocess.CompletedProcess]) -> None:
    out, _ = released
    archive = out / f"{BUNDLE_NAME}.zip"
    assert verify_zip(out / BUNDLE_NAME, archive, prefix=BUNDLE_NAME) == []
    with zipfile.ZipFile(archive) as zipped:
        names = zipped.namelist()
    assert all(name.startswith(f"{BUNDLE_NAME}/") for name in names)
    assert len(names) == len(files_of(out / BUNDLE_NAME))


def test_learner_readme_covers_setup_self_check_and_submission(released) -> None:
    folder = released[0] / BUNDLE_NAME
    readme = (folder / "README.md").read_text()
    assert "$" not in readme.replace("${", "")  # every placeholder was filled in
    assert readme.startswith(f"# {COURSE.title}\n")
    for text in ("pip install -r requirements.txt", "python -m venv .venv", "pytest -k scores",
                 "## Submit", "python -m zipfile -c attention.zip attention/", "download.pytorch.org/whl/cpu",
                 markdown_table(COURSE), f"{COURSE.limits.call_seconds:g} s for one call"):
        assert text in readme, text
    requirements = (folder / "requirements.txt").read_text()
    assert f"torch=={COURSE.environment.torch}\n" in requirements
    assert {Requirement(line).name for line in requirements.splitlines() if line and not line.startswith("#")} == {
        "torch", "numpy", "pytest"}


def test_notebooks_in_exercises_are_released_and_other_files_are_not(tmp_path: Path, capsys) -> None:
    root = tmp_path / "repo"
    shutil.copytree(SOLUTIONS, root / "solutions", ignore=IGNORE)
    shutil.copytree(EXERCISES, root / "exercises", ignore=IGNORE)
    notebook = {"cells": [{"cell_type": "markdown", "source": ["# Step 1: words to token ids"]}], "metadata": {},
                "nbformat": 4, "nbformat_minor": 5}
    (root / "exercises" / "notebooks").mkdir(exist_ok=True)
    (root / "exercises" / "notebooks" / "99_extra.ipynb").write_text(json.dumps(notebook))
    (root / "exercises" / "notebooks" / "figure.png").write_bytes(b"\x89PNG\r\n\x1a\n\0\0")
    (root / "exercises" / "instructor-notes.txt").write_text("not for learners\n")

    assert build_bundle(COURSE, tmp_path / "out", layout=Layout(root)) == 0
    folder = tmp_path / "out" / BUNDLE_NAME
    assert {"notebooks/99_extra.ipynb", "notebooks/figure.png"} <= files_of(folder)
    assert not (folder / "instructor-notes.txt").exists()
    assert "not released: exercises/instructor-notes.txt" in capsys.readouterr().out
    readme = (folder / "README.md").read_text()
    assert "| `notebooks/` |" in readme and "jupyter lab notebooks/" in readme
    assert "the step notebooks (`notebooks/*.ipynb`)" in readme


# ---------------------------------------------------------------------------------------
# The leak check
# ---------------------------------------------------------------------------------------


def _solution_line(module: str, needle: str = "") -> str:
    """A significant solution line of ``module`` (as the release's leak check defines it) containing ``needle``."""
    lines = significant_solution_lines(SOLUTIONS / "attention").values()
    return next(line.code for line in lines if line.path.stem == module and needle in line.code)


def _hidden_line(where: str) -> str:
    """A significant line of a hidden-check module (as the leak check defines it)."""
    return next(code for shown, _, code in hidden_lines().values() if shown == where and "HIDDEN.check" not in code)


def test_the_released_folder_passes_the_leak_check(bundle_copy: Path) -> None:
    assert check_bundle(bundle_copy) == []


def test_a_solution_line_in_a_stub_is_a_leak(bundle_copy: Path) -> None:
    line = _solution_line("causal_pairs", "n * (n + 1) // 2")
    stub = bundle_copy / "attention" / "causal_pairs.py"
    stub.write_text(stub.read_text() + f"\n\ndef helper(n):\n    {line}\n")
    leaks = check_bundle(bundle_copy)
    assert len(leaks) == 1
    assert re.match(rf"{BUNDLE_NAME}/attention/causal_pairs.py, line \d+: solution code from "
                    r"solutions/attention/causal_pairs.py, line \d+: `return n \* \(n \+ 1\) // 2`", leaks[0]), leaks


def test_hidden_test_code_in_a_notebook_is_a_leak(bundle_copy: Path) -> None:
    line = _hidden_line("autograder/hidden/scores.py")
    notebook = {"cells": [{"cell_type": "code", "source": ["# a cell\n", line.strip() + "\n"]}], "metadata": {},
                "nbformat": 4, "nbformat_minor": 5}
    (bundle_copy / "notebooks").mkdir(exist_ok=True)
    (bundle_copy / "notebooks" / "04_scores.ipynb").write_text(json.dumps(notebook, indent=1))
    leaks = check_bundle(bundle_copy)
    assert leaks and all("hidden test code from autograder/hidden/scores.py" in leak for leak in leaks), leaks
    assert leaks[0].startswith(f"{BUNDLE_NAME}/notebooks/04_scores.ipynb, line ")


@pytest.mark.parametrize(("plant", "expected"), [
    ("grader-folder", "a file under a folder named 'autograder'"),
    ("renamed-oracle", "a copy of autograder/"),
    ("course-yml", "course.yml is a grader file"),
    ("hidden-marker", "an nbgrader hidden-tests marker"),
    ("solution-marker", "an nbgrader solution marker"),
    ("hidden-import", "a call into the hidden checks"),
    ("binary", "a binary file the leak check cannot read"),
])
def test_grader_files_markers_and_unreadable_files_are_leaks(bundle_copy: Path, plant: str, expected: str) -> None:
    hidden_module = REPO_ROOT / "autograder" / "hidden" / "tokens.py"
    if plant == "grader-folder":
        (bundle_copy / "autograder").mkdir()
        (bundle_copy / "autograder" / "notes.txt").write_text("harmless, but the folder is not for learners\n")
    elif plant == "renamed-oracle":
        shutil.copy(hidden_module, bundle_copy / "selfcheck" / "extra.py")
    elif plant == "course-yml":
        shutil.copy(REPO_ROOT / "course.yml", bundle_copy / "course.yml")
    elif plant == "hidden-marker":
        (bundle_copy / "notes.md").write_text("### BEGIN HIDDEN TESTS\nrun_hidden('tokens', globals())\n")
    elif plant == "solution-marker":
        (bundle_copy / "notes.md").write_text("    ### BEGIN SOLUTION\n")
    elif plant == "hidden-import":
        (bundle_copy / "notes.md").write_text("from autograder.hidden.notebook import run_hidden\n")
    elif plant == "binary":
        (bundle_copy / "attention" / "tokens.cpython-311.pyc").write_bytes(b"\xa7\r\r\n\0\0\0\0compiled")
    leaks = check_bundle(bundle_copy)
    assert any(expected in leak for leak in leaks), leaks


def test_course_yml_secrets_are_leaks(bundle_copy: Path, tmp_path: Path) -> None:
    course_file = tmp_path / "course.yml"
    course_file.write_text((REPO_ROOT / "course.yml").read_text() + "gradescope:\n  api_token: tk-91f0c2e7\n")
    assert check_bundle(bundle_copy, course_file=course_file) == []
    (bundle_copy / "README.md").write_text((bundle_copy / "README.md").read_text() + "\nUse tk-91f0c2e7.\n")
    leaks = check_bundle(bundle_copy, course_file=course_file)
    assert leaks == [f"{BUNDLE_NAME}/README.md, line {len((bundle_copy / 'README.md').read_text().splitlines())}: "
                     "the value of course.yml's gradescope.api_token, a secret"]


def test_a_leak_fails_the_release_loudly_and_writes_nothing(tmp_path: Path, capsys) -> None:
    root = tmp_path / "repo"
    shutil.copytree(SOLUTIONS, root / "solutions", ignore=IGNORE)
    shutil.copytree(EXERCISES, root / "exercises", ignore=IGNORE)
    layout = Layout(root)
    out = tmp_path / "out"

    # hidden test code in a learner notebook: only the bundle's own leak check knows hidden checks
    line = _hidden_line("autograder/hidden/weights.py")
    (root / "exercises" / "notebooks").mkdir(exist_ok=True)
    notebook = {"cells": [{"cell_type": "code", "source": [line.strip()]}], "metadata": {}, "nbformat": 4,
                "nbformat_minor": 5}
    (root / "exercises" / "notebooks" / "05_weights.ipynb").write_text(json.dumps(notebook))
    assert build_bundle(COURSE, out, layout=layout) == 1
    error = capsys.readouterr().err
    assert "LEAK CHECK FAILED" in error and "hidden test code from autograder/hidden/weights.py" in error
    assert list(out.iterdir()) == []

    # solution code: the release's sync and leak check stop it before anything is built
    (root / "exercises" / "notebooks" / "05_weights.ipynb").unlink()
    (root / "exercises" / "hint.md").write_text(_solution_line("weights") + "\n")
    assert build_bundle(COURSE, out, layout=layout) == 1
    error = capsys.readouterr().err
    assert "LEAK CHECK FAILED" in error and "solution code from solutions/attention/weights.py" in error
    assert list(out.iterdir()) == []


# ---------------------------------------------------------------------------------------
# The self-checks in the released folder, with only what the install line installs
# ---------------------------------------------------------------------------------------


def _closure(requirements: list[Requirement]) -> list[metadata.Distribution]:
    """The installed distributions ``pip install <requirements>`` would install, dependencies included."""
    found: dict[str, metadata.Distribution] = {}
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        name = requirement.name.lower().replace("_", "-")
        if name in found:
            continue
        distribution = metadata.distribution(requirement.name)
        assert requirement.specifier.contains(distribution.version, prereleases=True), (requirement,
                                                                                         distribution.version)
        found[name] = distribution
        todo += [Requirement(text) for text in distribution.requires or []]
    return list(found.values())


def install_line_environment(target: Path, requirements_file: Path) -> Path:
    """A new virtual environment holding only the requirements' distributions (linked from this one).

    It stands for ``pip install -r requirements.txt`` in a fresh venv without downloading a
    gigabyte of torch: no package of this project, nothing else of this environment.
    """
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(target)], check=True, timeout=120)
    site = next(target.glob("lib/python*/site-packages"))
    requirements = [Requirement(line) for line in requirements_file.read_text().splitlines()
                    if line.strip() and not line.startswith("#")]
    for distribution in _closure(requirements):
        base = Path(distribution.locate_file(""))
        tops = {Path(str(f)).parts[0] for f in distribution.files or [] if not str(f).startswith("..")}
        for top in tops:
            if (base / top).exists() and not (site / top).exists():
                (site / top).symlink_to(base / top)
    return target / "bin" / "python"


def _pytest_in(python: Path, folder: Path) -> subprocess.CompletedProcess:
    env = {"PATH": f"{python.parent}:/usr/bin:/bin", "HOME": str(folder), "LANG": "C.UTF-8"}
    return subprocess.run([str(python), "-m", "pytest", "-q"], cwd=folder, env=env, capture_output=True, text=True,
                          timeout=600)


def test_pytest_in_the_released_folder_with_only_the_install_line(released, tmp_path: Path) -> None:
    python = install_line_environment(tmp_path / "venv", released[0] / BUNDLE_NAME / "requirements.txt")
    probe = subprocess.run([str(python), "-c", "import torch, pytest, numpy, sys; import autograder"],
                           capture_output=True, text=True, env={"PATH": "/usr/bin:/bin"}, cwd=tmp_path)
    assert "No module named 'autograder'" in probe.stderr  # nothing of this project leaks in

    stubs = tmp_path / "stubs"
    shutil.copytree(released[0] / BUNDLE_NAME, stubs)
    done = _pytest_in(python, stubs)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not implemented yet" in done.stdout and " passed" not in done.stdout.splitlines()[-1]
    assert done.stderr == ""

    solved = tmp_path / "solved"
    shutil.copytree(released[0] / BUNDLE_NAME, solved)
    for module in MODULES:
        shutil.copy(SOLUTIONS / "attention" / f"{module}.py", solved / "attention" / f"{module}.py")
    done = _pytest_in(python, solved)
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"\d+ passed", done.stdout.splitlines()[-1]), done.stdout[-2000:]
    assert "Every step that ran passes its public checks." in done.stdout


@pytest.mark.skipif(not os.environ.get("AUTOGRADER_FRESH_VENV"),
                    reason="slow (1.5 to 2 min: downloads and unpacks torch); set AUTOGRADER_FRESH_VENV=1 to run")
def test_fresh_virtualenv_with_the_documented_install_line(released, tmp_path: Path) -> None:
    """SLOW, opt-in: a truly fresh venv, ``pip install -r requirements.txt`` as the README says, then pytest."""
    folder = tmp_path / BUNDLE_NAME
    shutil.copytree(released[0] / BUNDLE_NAME, folder)
    for module in MODULES:
        shutil.copy(SOLUTIONS / "attention" / f"{module}.py", folder / "attention" / f"{module}.py")
    venv = tmp_path / "venv"
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "-r", "requirements.txt"], cwd=folder,
                             capture_output=True, text=True, timeout=1200)
    assert install.returncode == 0, install.stdout[-3000:] + install.stderr[-3000:]
    done = subprocess.run([str(venv / "bin" / "pytest"), "-q"], cwd=folder, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    print(f"fresh venv, install and pytest: {time.monotonic() - started:.0f} s")


@pytest.mark.parametrize("command", [["release", "--out"], ["export", "classroom", "--out"],
                                     ["export", "gradescope", "--out"]])
def test_an_output_path_under_a_file_is_a_one_line_error(command: list[str], tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me\n")
    target = blocker / ("autograder.zip" if "gradescope" in command else "out")
    done = subprocess.run([sys.executable, "-m", "autograder", *command, str(target)], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: "), done.stderr
    assert str(blocker) in done.stderr and "Traceback" not in done.stderr
    assert blocker.read_text() == "keep me\n"

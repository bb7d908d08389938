"""The step notebooks run top to bottom in a real Jupyter kernel (nbclient), as a learner runs them.

Each notebook folder (``solutions/notebooks``: the nbgrader source notebooks, with the solutions;
``exercises/notebooks``: the learner notebooks, with the stubs) is copied into a temporary folder
with its ``course_notebook.py`` (cells that load an earlier step read the earlier notebook from that
folder), and every notebook runs there in its own ``python3`` kernel of this interpreter, two at a
time, once per test session (module fixture). The tests then read the executed notebooks:

- **solutions** (``allow_errors=False``): no cell raises; every code cell ran; every test cell
  (nbgrader ``grade: true``) prints ✓ and gets its full points by nbgrader's own rule
  (`nbgrader.utils.determine_grade`: no error output, nothing on stderr), hidden tests included;
- **learner notebooks** (``allow_errors=True``): every code cell runs, and the cells with an error
  output are exactly the test cells. The answer cells themselves run without error (they only
  define stubs whose bodies raise ``NotImplementedError``; a question's answer is ``...``); each
  test cell of a step fails with a ``CheckError`` saying that one of *that step's* names "is not
  implemented yet", each question's test cell says the answer "is not answered yet", and nbgrader
  would give every test cell 0 points;
- **both**: every plot cell (tagged ``plot`` by the builder, or calling ``heatmap``/``plt``)
  shows an ``image/png`` without error, and no other cell draws one: plots use the running example
  and torch alone, never the learner's unimplemented functions.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from conftest import EXERCISES, REPO_ROOT, SOLUTIONS
from jupyter_client import AsyncKernelManager
from jupyter_client.kernelspec import KernelSpecManager
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from nbgrader.utils import determine_grade

from autograder.notebook_ids import HELPER, NOTEBOOK_FOLDER
from selfcheck.steps import BY_ID

pytestmark = pytest.mark.xdist_group("notebooks")  # with `--dist loadgroup`, one worker runs them all once

SOURCE = SOLUTIONS / NOTEBOOK_FOLDER
RELEASE = EXERCISES / NOTEBOOK_FOLDER
NOTEBOOKS = sorted(p.stem for p in SOURCE.glob("*.ipynb"))
VARIANTS = {"solutions": SOURCE, "exercises": RELEASE}
KERNEL = "python3"
CELL_TIMEOUT = 180  # seconds per cell
WORKERS = min(4, (os.cpu_count() or 1) + 1)  # notebooks at once: kernels wait on I/O a little, so one more than cores
INLINE = "module://matplotlib_inline.backend_inline"
PLOT_CALL = re.compile(r"\b(heatmap|plt\.\w+|imshow)\(")
NOT_IMPLEMENTED = re.compile(r"\b(\w+) is not implemented yet")
TEST_ID = re.compile(r"^(?P<step>\w+)_test_\d+$")
QUESTION_TEST_ID = re.compile(r"^question_(?P<name>\w+)_test$")


@dataclass
class Run:
    variant: str
    notebook: str
    nb: nbformat.NotebookNode
    error: CellExecutionError | None  # what stopped a run with allow_errors=False

    @property
    def label(self) -> str:
        return f"{self.variant}/{NOTEBOOK_FOLDER}/{self.notebook}.ipynb"


# ---------------------------------------------------------------------------------------
# Running the notebooks
# ---------------------------------------------------------------------------------------


def kernel_specs(folder: Path) -> KernelSpecManager:
    """A ``python3`` kernel spec for *this* interpreter (not whatever ``python`` is on PATH)."""
    spec = folder / KERNEL
    spec.mkdir(parents=True)
    argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    (spec / "kernel.json").write_text(json.dumps({"argv": argv, "display_name": "Python 3", "language": "python"}))
    return KernelSpecManager(kernel_dirs=[str(folder)], ensure_native_kernel=False)


def kernel_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("NBGRADER_EXECUTION", None)  # a learner's run, not nbgrader's autograde
    env.pop("ATTENTION_NOTEBOOK_SEED", None)
    env["MPLBACKEND"] = INLINE  # Jupyter's own default: figures come back as image/png
    paths = (str(REPO_ROOT), str(EXERCISES), env.get("PYTHONPATH", ""))
    env["PYTHONPATH"] = os.pathsep.join(p for p in paths if p)  # autograder.hidden for the hidden tests
    return env


def execute(variant: str, folder: Path, notebook: str, specs: KernelSpecManager) -> Run:
    nb = nbformat.read(folder / f"{notebook}.ipynb", as_version=4)
    allow_errors = variant != "solutions"
    km = AsyncKernelManager(kernel_name=KERNEL, kernel_spec_manager=specs)
    client = NotebookClient(nb, km=km, timeout=CELL_TIMEOUT, allow_errors=allow_errors, kernel_name=KERNEL,
                            resources={"metadata": {"path": str(folder)}})
    error = None
    try:
        client.execute(cleanup_kc=True, env=kernel_env())  # cleanup_kc: shut the kernel down afterwards
    except CellExecutionError as stopped:
        error = stopped
    return Run(variant, notebook, nb, error)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Run]:
    """(variant, notebook) -> the executed notebook; every notebook of both folders runs once."""
    root = tmp_path_factory.mktemp("notebooks")
    specs = kernel_specs(root / "kernels")
    folders = {}
    for variant, source in VARIANTS.items():
        folders[variant] = root / variant / NOTEBOOK_FOLDER
        shutil.copytree(source, folders[variant], ignore=shutil.ignore_patterns("__pycache__", "src"))
        assert (folders[variant] / HELPER).is_file(), f"{variant}/{NOTEBOOK_FOLDER} has no {HELPER}"
    jobs = [(variant, folders[variant], notebook) for variant in VARIANTS for notebook in NOTEBOOKS]
    with ThreadPoolExecutor(max_workers=WORKERS) as pool:
        done = list(pool.map(lambda job: execute(*job, specs), jobs))
    return {(run.variant, run.notebook): run for run in done}


# ---------------------------------------------------------------------------------------
# Reading executed cells
# ---------------------------------------------------------------------------------------


def nbgrader_meta(cell: nbformat.NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def name_of(index: int, cell: nbformat.NotebookNode) -> str:
    grade_id = nbgrader_meta(cell).get("grade_id")
    return f"cell {index} ({grade_id})" if grade_id else f"cell {index}"


def code_cells(run: Run) -> list[tuple[int, nbformat.NotebookNode]]:
    return [(i, c) for i, c in enumerate(run.nb.cells) if c.cell_type == "code"]


def is_plot(cell: nbformat.NotebookNode) -> bool:
    return "plot" in cell.metadata.get("tags", []) or bool(PLOT_CALL.search(cell.source))


def errors_of(cell: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [o for o in cell.get("outputs", []) if o.output_type == "error"]


def stream(cell: nbformat.NotebookNode, name: str) -> str:
    return "".join(o.text for o in cell.get("outputs", []) if o.output_type == "stream" and o.name == name)


def has_png(cell: nbformat.NotebookNode) -> bool:
    return any("image/png" in o.get("data", {}) for o in cell.get("outputs", []))


def describe(errors: list[nbformat.NotebookNode]) -> str:
    return "; ".join(f"{e.ename}: {e.evalue}" for e in errors)


def where(run: Run, index: int, cell: nbformat.NotebookNode) -> str:
    return f"{run.label}, {name_of(index, cell)}"


# ---------------------------------------------------------------------------------------
# Both variants
# ---------------------------------------------------------------------------------------


def test_both_folders_hold_the_same_notebooks() -> None:
    assert NOTEBOOKS, f"no notebooks in {SOURCE}"
    assert sorted(p.stem for p in RELEASE.glob("*.ipynb")) == NOTEBOOKS
    assert NOTEBOOKS == sorted({step.notebook for step in BY_ID.values()})


@pytest.mark.parametrize("variant", list(VARIANTS))
@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_every_plot_cell_renders(runs: dict[tuple[str, str], Run], variant: str, notebook: str) -> None:
    run = runs[(variant, notebook)]
    plots = [(i, c) for i, c in code_cells(run) if is_plot(c)]
    assert plots or notebook == "01_tokens", f"{run.label}: no plot cell"
    for i, cell in plots:
        assert cell.execution_count is not None, f"{where(run, i, cell)}: the plot cell did not run ({run.error})"
        assert not errors_of(cell), f"{where(run, i, cell)}: the plot cell failed: {describe(errors_of(cell))}"
        assert has_png(cell), f"{where(run, i, cell)}: the plot cell shows no image/png"
    drawing = [name_of(i, c) for i, c in code_cells(run) if has_png(c) and not is_plot(c)]
    assert not drawing, f"{run.label}: cells not marked as plots draw figures: {drawing}"


# ---------------------------------------------------------------------------------------
# Solution notebooks: everything passes
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_solution_notebook_runs_and_every_test_cell_passes(runs: dict[tuple[str, str], Run], notebook: str) -> None:
    run = runs[("solutions", notebook)]
    failed = [f"{name_of(i, c)} raised {describe(errors_of(c))}" for i, c in code_cells(run) if errors_of(c)]
    assert not failed, f"{run.label}: " + "\n".join(failed)
    assert run.error is None, f"{run.label} stopped: {run.error.ename}: {run.error.evalue}"
    grades = 0
    for i, cell in code_cells(run):
        assert cell.execution_count is not None, f"{where(run, i, cell)} did not run"
        if not nbgrader_meta(cell).get("grade"):
            continue
        grades += 1
        score, points = determine_grade(cell)
        assert score == points, (
            f"{where(run, i, cell)}: nbgrader gives {score} of {points} points "
            f"(stderr: {stream(cell, 'stderr')[-500:]!r})"
        )
        assert "✓" in stream(cell, "stdout"), f"{where(run, i, cell)} printed no passing check: {cell.outputs}"
    assert grades, f"{run.label} has no test cell"


# ---------------------------------------------------------------------------------------
# Learner notebooks: everything runs; only the test cells fail, each for its own step
# ---------------------------------------------------------------------------------------


def expected_failure(grade_id: str) -> tuple[str, set[str]]:
    """(what the error says, the names it may be about) for a learner's test cell ``grade_id``."""
    question = QUESTION_TEST_ID.match(grade_id)
    if question:
        return "is not answered yet", {question["name"]}
    test = TEST_ID.match(grade_id)
    assert test and test["step"] in BY_ID, f"test cell {grade_id!r} belongs to no step of selfcheck.steps"
    return "is not implemented yet", set(BY_ID[test["step"]].api)


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_learner_notebook_fails_only_in_its_test_cells(runs: dict[tuple[str, str], Run], notebook: str) -> None:
    run = runs[("exercises", notebook)]
    assert run.error is None, f"{run.label} stopped: {run.error}"
    for i, cell in code_cells(run):
        assert cell.execution_count is not None, f"{where(run, i, cell)} did not run"
    failing = {i for i, c in code_cells(run) if errors_of(c)}
    tests = {i for i, c in code_cells(run) if nbgrader_meta(c).get("grade")}
    assert tests, f"{run.label} has no test cell"
    unexpected = {name_of(i, run.nb.cells[i]): describe(errors_of(run.nb.cells[i])) for i in failing - tests}
    assert not unexpected, f"{run.label}: cells other than test cells fail (answer, setup, example, plot): {unexpected}"
    passing = [name_of(i, run.nb.cells[i]) for i in sorted(tests - failing)]
    assert not passing, f"{run.label}: test cells pass with nothing implemented: {passing}"
    for i in sorted(tests):
        cell = run.nb.cells[i]
        grade_id = nbgrader_meta(cell)["grade_id"]
        says, names = expected_failure(grade_id)
        errors = errors_of(cell)
        assert len(errors) == 1 and errors[0].ename == "CheckError", (
            f"{where(run, i, cell)}: expected one CheckError, got {describe(errors)}"
        )
        evalue = errors[0].evalue
        if says == "is not implemented yet":
            named = set(NOT_IMPLEMENTED.findall(evalue))
            assert named and named <= names, (
                f"{where(run, i, cell)}: expected '<one of {sorted(names)}> is not implemented yet', "
                f"got {errors[0].ename}: {evalue}"
            )
        else:
            assert f"`{next(iter(names))}` {says}" in evalue, (
                f"{where(run, i, cell)}: expected '{says}', got {errors[0].ename}: {evalue}"
            )
        assert determine_grade(cell)[0] == 0, f"{where(run, i, cell)}: nbgrader would give points for it"

"""The instructor's nbgrader workflow, run for real with nbgrader 0.9.6 in a temporary course.

The course folder holds a copy of the repository's ``nbgrader_config.py`` (which makes that folder
the course root) and of ``solutions/notebooks`` (the source assignment ``notebooks``). Then, as
the README's "Grade notebooks with nbgrader" says:

1. ``nbgrader generate_assignment notebooks``: the release equals the committed ``exercises/notebooks``;
2. five students hand in ``submitted/<student>/notebooks/*.ipynb``, made from the released notebooks:
   alice complete; bob partly done (one notebook untouched, one question wrong); carol with an answer
   cell that fails (step 7 lost, step 8 still graded with the grader's ``SelfAttention``); dave with a
   half-right step and an edited locked test cell (nbgrader restores it); erin with a deleted test cell
   (nbgrader puts it back and runs it);
3. ``nbgrader autograde notebooks``;
4. the scores in ``gradebook.db`` are exactly the expected ones, cell by cell;
5. ``nbgrader generate_feedback notebooks``: an HTML file per notebook, hidden test results but no
   hidden test source;
6. ``nbgrader export``: grades.csv.

One test does it all, so that a parallel run (pytest-xdist) never runs the expensive part twice;
submissions hold only the notebooks they need (8 notebooks are autograded in all).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from conftest import REPO_ROOT

from autograder.notebook_ids import ASSIGNMENT, answer_id, question_id

SOURCE = REPO_ROOT / "solutions" / "notebooks"
RELEASE = REPO_ROOT / "exercises" / "notebooks"
TIMEOUT = 900


def nbgrader(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), env.get("PYTHONPATH", "")) if p)
    env.pop("NBGRADER_EXECUTION", None)
    done = subprocess.run([sys.executable, "-m", "nbgrader", *args], cwd=root, env=env, capture_output=True,
                          text=True, timeout=TIMEOUT)
    assert done.returncode == 0, f"nbgrader {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-6000:]}"
    return done


def make_course(root: Path) -> None:
    shutil.copy(REPO_ROOT / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(SOURCE, root / "solutions" / ASSIGNMENT, ignore=shutil.ignore_patterns("__pycache__", "src"))


# ---------------------------------------------------------------------------------------
# Submissions, made from the released notebooks
# ---------------------------------------------------------------------------------------


def without_markers(source: str) -> str:
    return "\n".join(line for line in source.split("\n") if "### BEGIN SOLUTION" not in line
                     and "### END SOLUTION" not in line)


def solution_cells(notebook: str) -> dict[str, str]:
    """grade id -> the source notebook's cell source, for its answer cells (solutions as a student writes them)."""
    nb = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: without_markers(c.source)
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")}


def cell_index(nb: nbformat.NotebookNode, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def submit(root: Path, student: str, notebook: str, answers: dict[str, str] | None = None,
           edit: dict[str, str] | None = None, delete: tuple[str, ...] = ()) -> None:
    """Hand in ``notebook`` for ``student``: the released notebook with ``answers`` (grade id -> source)
    in its answer cells, ``edit`` applied to other cells, and the cells ``delete`` removed."""
    nb = nbformat.read(root / "exercises" / ASSIGNMENT / f"{notebook}.ipynb", as_version=4)
    for grade_id, source in {**(answers or {}), **(edit or {})}.items():
        nb.cells[cell_index(nb, grade_id)].source = source
    for grade_id in delete:
        del nb.cells[cell_index(nb, grade_id)]
    folder = root / "submitted" / student / ASSIGNMENT
    folder.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / f"{notebook}.ipynb")


def make_submissions(root: Path) -> dict[str, dict[str, dict[str, float]]]:
    """Write the five submissions; return the expected scores: student -> notebook -> grade id -> score."""
    expected: dict[str, dict[str, dict[str, float]]] = {}

    def expect(student: str, notebook: str, zero: set[str] = frozenset()) -> None:
        points = grade_cells(notebook)
        expected.setdefault(student, {})[notebook] = {g: (0.0 if g in zero else p) for g, p in points.items()}

    # alice: three complete notebooks (one step; two steps; code and questions)
    for notebook in ("01_tokens", "07_self_attention_and_heads", "10_causal_mask"):
        submit(root, "alice", notebook, solution_cells(notebook))
        expect("alice", notebook)

    # bob: 10_causal_mask done but one question wrong; 01_tokens handed in untouched
    answers = solution_cells("10_causal_mask")
    answers[question_id("non_causal_matrix")] = 'non_causal_matrix = "A"'
    submit(root, "bob", "10_causal_mask", answers)
    expect("bob", "10_causal_mask", zero={"question_non_causal_matrix_test"})
    submit(root, "bob", "01_tokens")
    expect("bob", "01_tokens", zero=set(grade_cells("01_tokens")))

    # carol: the self-attention answer cell fails before defining SelfAttention; multi-head is right
    answers = solution_cells("07_self_attention_and_heads")
    answers[answer_id("self_attention")] = "import not_a_module_anyone_has\n" + answers[answer_id("self_attention")]
    submit(root, "carol", "07_self_attention_and_heads", answers)
    expect("carol", "07_self_attention_and_heads",
           zero={g for g in grade_cells("07_self_attention_and_heads") if g.startswith("self_attention_")})

    # dave: encode skips unknown words instead of raising KeyError, and he emptied the test cell
    # that checks it; nbgrader restores the locked cell, so the cells checking KeyError score 0
    answers = solution_cells("01_tokens")
    tokens = answers[answer_id("tokens")]
    raising = next(line for line in tokens.split("\n") if "raise KeyError" in line)
    answers[answer_id("tokens")] = tokens.replace(raising, raising.split("raise")[0] + "continue")
    keyerror_cells = {g for g, checks in cell_checks("01_tokens").items()
                      if {"unknown_word_raises", "encode_unknown_word"} & set(checks)}
    assert keyerror_cells, "no test cell of 01_tokens checks KeyError"
    submit(root, "dave", "01_tokens", answers, edit={g: "print('all tests pass')" for g in keyerror_cells})
    expect("dave", "01_tokens", zero=keyerror_cells)

    # erin: 09_causal_pairs complete, but she deleted a test cell; nbgrader adds it back and runs it
    submit(root, "erin", "09_causal_pairs", solution_cells("09_causal_pairs"), delete=("causal_pairs_test_2",))
    expect("erin", "09_causal_pairs")
    return expected


def grade_cells(notebook: str) -> dict[str, float]:
    nb = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4)
    return {c.metadata["nbgrader"]["grade_id"]: float(c.metadata["nbgrader"]["points"])
            for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")}


def cell_checks(notebook: str) -> dict[str, list[str]]:
    """grade id -> the check names a test cell of the source notebook calls (public and hidden)."""
    nb = nbformat.read(SOURCE / f"{notebook}.ipynb", as_version=4)
    found = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade"):
            found[meta["grade_id"]] = [piece.strip(' "[]),\n') for piece in cell.source.split('"')[1::2]]
    return found


# ---------------------------------------------------------------------------------------
# The workflow
# ---------------------------------------------------------------------------------------


def test_the_instructors_nbgrader_workflow(tmp_path: Path) -> None:
    root = tmp_path / "course"
    root.mkdir()
    make_course(root)

    # 1. generate_assignment, from the course root, with the project's configuration
    nbgrader(root, "generate_assignment", ASSIGNMENT)
    released = root / "exercises" / ASSIGNMENT
    names = sorted(p.name for p in released.iterdir())
    assert names == sorted(p.name for p in RELEASE.iterdir() if p.name != "__pycache__")
    for name in names:
        assert (released / name).read_text(encoding="utf-8") == (RELEASE / name).read_text(encoding="utf-8"), (
            f"exercises/notebooks/{name} differs from what nbgrader generate_assignment writes; "
            "run `python -m autograder release`"
        )

    # 2. submissions; 3. autograde
    expected = make_submissions(root)
    nbgrader(root, "autograde", ASSIGNMENT)

    # 4. the gradebook holds exactly the expected scores
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{root / 'gradebook.db'}") as gradebook:
        assignment = gradebook.find_assignment(ASSIGNMENT)
        assert assignment.max_score == 100
        found: dict[str, dict[str, dict[str, float]]] = {}
        totals = {}
        for student, notebooks in expected.items():
            submission = gradebook.find_submission(ASSIGNMENT, student)
            totals[student] = submission.score
            for notebook in notebooks:
                graded = gradebook.find_submission_notebook(notebook, ASSIGNMENT, student)
                found.setdefault(student, {})[notebook] = {grade.name: grade.score for grade in graded.grades}
    assert found == expected
    assert totals == {s: sum(sum(cells.values()) for cells in nbs.values()) for s, nbs in expected.items()}
    assert totals == {"alice": 38.0, "bob": 11.0, "carol": 12.0, "dave": totals["dave"], "erin": 6.0}

    autograded = root / "autograded"
    dave = nbformat.read(autograded / "dave" / ASSIGNMENT / "01_tokens.ipynb", as_version=4)
    source = nbformat.read(SOURCE / "01_tokens.ipynb", as_version=4)
    for grade_id in (g for g, s in expected["dave"]["01_tokens"].items() if s == 0):
        restored = dave.cells[cell_index(dave, grade_id)]
        assert restored.source == source.cells[cell_index(source, grade_id)].source, "the locked cell was not restored"
        assert any(o.output_type == "error" for o in restored.outputs)
    erin = nbformat.read(autograded / "erin" / ASSIGNMENT / "09_causal_pairs.ipynb", as_version=4)
    back = erin.cells[cell_index(erin, "causal_pairs_test_2")]
    assert "was missing from the submission" in back.source and "hidden test:" in "".join(
        o.get("text", "") for o in back.outputs)
    carol = nbformat.read(autograded / "carol" / ASSIGNMENT / "07_self_attention_and_heads.ipynb", as_version=4)
    failing = carol.cells[cell_index(carol, answer_id("self_attention"))]
    assert [o.ename for o in failing.outputs if o.output_type == "error"] == ["ModuleNotFoundError"]

    # 5. feedback: HTML per notebook, with hidden test results and without hidden test source
    nbgrader(root, "generate_feedback", ASSIGNMENT)
    pages = sorted((root / "feedback").rglob("*.html"))
    assert sorted(p.relative_to(root / "feedback").as_posix() for p in pages) == sorted(
        f"{student}/{ASSIGNMENT}/{notebook}.html" for student, notebooks in expected.items() for notebook in notebooks
    )
    for page in pages:
        html = page.read_text(encoding="utf-8")
        for secret in ("BEGIN HIDDEN TESTS", "run_hidden", "run_question", "autograder"):
            assert secret not in html, f"{page.relative_to(root)} shows {secret!r}"
        # a traceback only where the learner's own answer cell failed (carol's import), never from a test cell
        learners_own = 1 if page.relative_to(root / "feedback").parts[0] == "carol" else 0
        assert html.count("most recent call last") == learners_own, page.relative_to(root)
    alice = (root / "feedback" / "alice" / ASSIGNMENT / "10_causal_mask.html").read_text(encoding="utf-8")
    assert "hidden test:" in alice and "non_causal_matrix: right" in alice
    bob = (root / "feedback" / "bob" / ASSIGNMENT / "10_causal_mask.html").read_text(encoding="utf-8")
    assert "non_causal_matrix: not the right answer" in bob

    # 6. export
    nbgrader(root, "export")
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    assert {s: float(row["score"]) for s, row in rows.items()} == totals
    assert {row["assignment"] for row in rows.values()} == {ASSIGNMENT}
    assert {float(row["max_score"]) for row in rows.values()} == {100.0}


def test_the_config_makes_its_folder_the_course_root(tmp_path: Path) -> None:
    """``nbgrader_config.py`` works from the repository root: root, source and release folders."""
    shutil.copy(REPO_ROOT / "nbgrader_config.py", tmp_path / "nbgrader_config.py")
    script = (
        "import json\n"
        "from traitlets.config.loader import PyFileConfigLoader\n"
        "config = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
        "cd = config.CourseDirectory\n"
        "print(json.dumps([cd.root, cd.source_directory, cd.release_directory,"
        " config.OverwriteCells.add_missing_cells]))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    root, source, release, add_missing = json.loads(done.stdout)
    assert Path(root) == tmp_path.resolve() and (source, release, add_missing) == ("solutions", "exercises", True)
    assert REPO_ROOT.joinpath(source, ASSIGNMENT).is_dir() and REPO_ROOT.joinpath(release, ASSIGNMENT).is_dir()


@pytest.mark.parametrize("path", ["submitted/x/notebooks/01_tokens.ipynb", "autograded/x/notebooks/01_tokens.ipynb",
                                  "feedback/x/notebooks/01_tokens.html", "gradebook.db", "grades.csv"])
def test_the_nbgrader_working_files_are_ignored_by_git(path: str) -> None:
    if not (REPO_ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    done = subprocess.run(["git", "check-ignore", "-q", path], cwd=REPO_ROOT, capture_output=True)
    assert done.returncode == 0, f"{path}: nbgrader's working files belong in .gitignore"


def test_an_untouched_released_notebook_autogrades_without_a_checksum_alarm(tmp_path: Path) -> None:
    """The gradebook keeps test cells with their hidden tests; a released cell handed in unchanged is no
    tampering (no "checksum ... has changed!"), while an edited test cell still is (and is restored)."""
    make_course(tmp_path)
    nbgrader(tmp_path, "generate_assignment", ASSIGNMENT)
    submit(tmp_path, "ann", "01_tokens")
    submit(tmp_path, "ed", "01_tokens", edit={"tokens_test_1": "pass  # the test, edited away"})
    untouched = nbgrader(tmp_path, "autograde", ASSIGNMENT, "--student", "ann")
    assert "has changed" not in untouched.stdout + untouched.stderr, untouched.stderr[-3000:]
    edited = nbgrader(tmp_path, "autograde", ASSIGNMENT, "--student", "ed")
    alarms = [line for line in (edited.stdout + edited.stderr).splitlines() if "has changed" in line]
    assert len(alarms) == 1 and "tokens_test_1" in alarms[0] and "checksum" in alarms[0], alarms

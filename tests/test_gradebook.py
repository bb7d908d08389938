"""``python -m autograder grade submitted --gradebook gradebook.db``: the sandboxed grades in nbgrader's gradebook.

With real nbgrader 0.9.6 in a temporary course (`test_nbgrader_workflow.make_course`, then
``nbgrader generate_assignment notebooks``), three students hand in every notebook in
``submitted/<student>/notebooks/``: alice the solutions, bob the solutions with a wrong step
(scores divided by sqrt(d_k), 6 points) and a wrong concept question, carol the released stubs.
The grader writes their grade cells into ``gradebook.db`` and their notebooks into ``autograded/``;
``nbgrader export`` then gives each student the sum of those cells, alice full marks, and the same
per-cell scores as ``nbgrader autograde`` on the same notebooks (bob's, in a copy of the course);
``nbgrader generate_feedback`` writes a page per notebook. Bad input is one line, exit 2.
"""

from __future__ import annotations

import csv
import json
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from test_nbgrader_workflow import SOURCE, make_course, nbgrader, solution_cells, submit

from autograder.grading.extract import NO_ANSWER, question_answer
from autograder.hidden.questions import QUESTIONS
from autograder.notebook_ids import ASSIGNMENT, answer_id, question_id

SEED = 3
STUDENTS = ("alice", "bob", "carol")
HANDED_IN = "2026-11-20 10:00:00.000000 UTC"
STORED_SCRIPT = "<script>document.title = 'stored script ran'</script><b>stored</b>"
BOB_WRONG = {"04_scores": {"scores_test_1", "scores_test_2"}, "10_causal_mask": {"question_non_causal_matrix_test"}}


def grade(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", *arguments, "--seed", str(SEED)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)


def hand_in(root: Path) -> None:
    for notebook in sorted(p.stem for p in SOURCE.glob("*.ipynb")):
        submit(root, "alice", notebook, solution_cells(notebook))
        answers = solution_cells(notebook)
        if notebook == "04_scores":
            right = answers[answer_id("scores")]
            answers[answer_id("scores")] = right.replace(
                "return queries @ keys_t", "return queries @ keys_t / queries.shape[-1] ** 0.5")
            assert answers[answer_id("scores")] != right
        if notebook == "10_causal_mask":
            answers[question_id("non_causal_matrix")] = 'non_causal_matrix = "A"'
        submit(root, "bob", notebook, answers)
        submit(root, "carol", notebook)  # the released notebook, untouched: stubs and `...` answers
    # eve's step 1 reads the gradebook (hidden tests' source) and the source notebooks when imported
    answers = solution_cells("01_tokens")
    database, source = root / "gradebook.db", root / "solutions" / ASSIGNMENT
    peek = (f"from pathlib import Path as _P\n"
            f"assert not _P({str(database)!r}).exists() or _P({str(database)!r}).read_bytes() == b'', 'gradebook'\n"
            f"assert not _P({str(source)!r}).exists() or not any(_P({str(source)!r}).iterdir()), 'solutions'\n")
    answers[answer_id("tokens")] = peek + answers[answer_id("tokens")]
    submit(root, "eve", "01_tokens", answers)
    (root / "submitted" / "alice" / ASSIGNMENT / "timestamp.txt").write_text(HANDED_IN)  # as nbgrader collect writes
    forged = root / "submitted" / "carol" / ASSIGNMENT / "01_tokens.ipynb"  # carol forges two grade cells
    notebook = json.loads(forged.read_text(encoding="utf-8"))
    for grade_id in ("tokens_test_1", "my_own_points"):
        notebook["cells"].append({"cell_type": "code", "execution_count": None, "outputs": [], "source": "pass",
                                  "metadata": {"nbgrader": {"grade": True, "grade_id": grade_id, "points": 100,
                                                            "locked": True, "solution": False, "schema_version": 3}}})
    forged.write_text(json.dumps(notebook), encoding="utf-8")
    # carol's stored outputs carry a script, and one concept answer is nested 100,000 deep (MemoryError in ast.parse)
    notebook = json.loads(forged.read_text(encoding="utf-8"))
    stored = next(c for c in notebook["cells"] if c["cell_type"] == "code")
    stored["outputs"] = [{"output_type": "display_data", "metadata": {}, "data": {"text/html": STORED_SCRIPT}}]
    forged.write_text(json.dumps(notebook), encoding="utf-8")
    deep = root / "submitted" / "carol" / ASSIGNMENT / "09_causal_pairs.ipynb"
    notebook = json.loads(deep.read_text(encoding="utf-8"))
    cell = next(c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id")
                == question_id("keys_for_query_5"))
    cell["source"] = "keys_for_query_5 = " + "-" * 100_000 + "6"
    deep.write_text(json.dumps(notebook), encoding="utf-8")


def cell_scores(database: Path, student: str) -> dict[tuple[str, str], float]:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{database}") as gradebook:
        submission = gradebook.find_submission(ASSIGNMENT, student)
        return {(nb.name, grade.name): grade.score for nb in submission.notebooks for grade in nb.grades}


@pytest.fixture(scope="module")
def course(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("gradebook") / "course"
    root.mkdir()
    make_course(root)
    nbgrader(root, "generate_assignment", ASSIGNMENT)
    hand_in(root)
    pristine = root.parent / "pristine.db"  # the gradebook before grading, for nbgrader autograde
    shutil.copy(root / "gradebook.db", pristine)
    out = root.parent / "grades"
    done = grade(str(root / "submitted"), "--out", str(out), "--gradebook", str(root / "gradebook.db"))
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "grade cells written for 4 students" in done.stderr
    nbgrader(root, "export")
    nbgrader(root, "generate_feedback", ASSIGNMENT)
    with open(root / "grades.csv", newline="", encoding="utf-8") as handle:
        exported = {row["student_id"]: row for row in csv.DictReader(handle)}
    with open(out / "grades.csv", newline="", encoding="utf-8") as handle:
        ours = {row["submission"]: row for row in csv.DictReader(handle)}
    cells = {student: cell_scores(root / "gradebook.db", student) for student in (*STUDENTS, "eve")}
    return {"root": root, "pristine": pristine, "exported": exported, "ours": ours, "cells": cells}


def test_export_gives_each_student_the_sum_of_the_cells_written(course: dict) -> None:
    exported, cells = course["exported"], course["cells"]
    assert set(exported) == {*STUDENTS, "eve"}
    for student in STUDENTS:
        assert float(exported[student]["score"]) == pytest.approx(sum(cells[student].values())), student
        assert float(exported[student]["max_score"]) == 100.0
    assert float(exported["alice"]["score"]) == 100.0
    assert float(exported["carol"]["score"]) == 0.0  # her forged grade cells count for nothing
    assert float(exported["eve"]["score"]) == 6.0, "learner code read the gradebook or the solutions"
    assert exported["alice"]["timestamp"].startswith("2026-11-20 10:00:00"), exported["alice"]
    zero = {key for key, score in cells["bob"].items() if score == 0}
    assert zero == {(nb, cell) for nb, wrong in BOB_WRONG.items() for cell in wrong}


def test_generate_feedback_works_on_the_autograded_notebooks_written(course: dict) -> None:
    """A page per handed-in notebook, each check's result in it, the hidden tests' source never."""
    feedback = course["root"] / "feedback"
    notebooks = sorted(p.stem for p in SOURCE.glob("*.ipynb"))
    assert sorted(p.relative_to(feedback).as_posix() for p in feedback.rglob("*.html")) == sorted(
        [f"{student}/{ASSIGNMENT}/{notebook}.html" for student in STUDENTS for notebook in notebooks]
        + [f"eve/{ASSIGNMENT}/01_tokens.html"])
    for page in feedback.rglob("*.html"):
        html = page.read_text(encoding="utf-8")
        for secret in ("BEGIN HIDDEN TESTS", "run_hidden", "run_question", "autograder"):
            assert secret not in html, f"{page.relative_to(feedback)} shows {secret!r}"
    scores = (feedback / "bob" / ASSIGNMENT / "04_scores.html").read_text(encoding="utf-8")
    assert "✗ hidden test:" in scores and "Score: 0.0 / 6.0" in scores
    mask = (feedback / "bob" / ASSIGNMENT / "10_causal_mask.html").read_text(encoding="utf-8")
    assert "✗ non_causal_matrix: not the right answer" in mask and "✓ mask_term: right" in mask
    assert "✗" not in (feedback / "alice" / ASSIGNMENT / "04_scores.html").read_text(encoding="utf-8")


def test_stored_outputs_are_cleared_and_a_deep_answer_costs_only_that_answer(course: dict) -> None:
    """carol's stored <script> output is not in autograded/ nor in nbgrader's feedback page; her answer nested
    100,000 deep scores 0 and every student's gradebook entry is still written (the fixture checks the 4)."""
    autograded = course["root"] / "autograded" / "carol" / ASSIGNMENT / "01_tokens.ipynb"
    notebook = json.loads(autograded.read_text(encoding="utf-8"))
    graded = [c for c in notebook["cells"] if c["metadata"].get("nbgrader", {}).get("grade")]
    assert graded and all(c["outputs"] for c in graded)  # the grader's own outputs stay
    assert STORED_SCRIPT not in json.dumps(notebook) and "<script" not in json.dumps(notebook)
    page = (course["root"] / "feedback" / "carol" / ASSIGNMENT / "01_tokens.html").read_text(encoding="utf-8")
    assert "stored script ran" not in page
    assert course["cells"]["carol"][("09_causal_pairs", question_id("keys_for_query_5") + "_test")] == 0


def test_the_gradebook_agrees_with_grades_csv_where_the_paths_agree(course: dict) -> None:
    """Full and empty work score the same in both; bob's other steps too (see the README for why his differ)."""
    ours, exported = course["ours"], course["exported"]
    assert float(ours["alice"]["score"]) == float(exported["alice"]["score"]) == 100.0
    assert float(ours["carol"]["score"]) == float(exported["carol"]["score"]) == 0.0
    step_cells: dict[str, float] = {}
    for (_, grade_id), score in course["cells"]["bob"].items():
        step = QUESTIONS[grade_id[len("question_"):-len("_test")]].step if grade_id.startswith("question_") \
            else grade_id.rsplit("_test_", 1)[0]
        step_cells[step] = step_cells.get(step, 0.0) + score
    from autograder.course import load_course

    for step in load_course().steps:
        if step.id == "scores":  # bob's wrong step: partial credit in grades.csv, all or nothing in the gradebook
            continue
        assert step_cells[step.id] == pytest.approx(float(ours["bob"][step.id])), step.id
    assert float(exported["bob"]["score"]) < float(ours["bob"]["score"]) < 100


def test_nbgrader_autograde_gives_the_same_cells(course: dict, tmp_path: Path) -> None:
    """bob's notebooks through `nbgrader autograde` (unsandboxed, ~1 min) in a copy: the same score per cell."""
    copy = tmp_path / "course"
    copy.mkdir()
    make_course(copy)
    shutil.copytree(course["root"] / "exercises", copy / "exercises")
    shutil.copytree(course["root"] / "submitted" / "bob", copy / "submitted" / "bob")
    shutil.copy(course["pristine"], copy / "gradebook.db")
    nbgrader(copy, "autograde", ASSIGNMENT)
    assert cell_scores(copy / "gradebook.db", "bob") == course["cells"]["bob"]


def test_a_question_answer_is_read_never_run(tmp_path: Path) -> None:
    folder = tmp_path / "student"
    answers = {
        "keys_for_query_5 = 6": 6,
        "keys_for_query_5 = ...  # replace ... with your answer": NO_ANSWER,
        "keys_for_query_5 = 2 * 3": NO_ANSWER,
        f"keys_for_query_5 = __import__('pathlib').Path({str(tmp_path / 'ran')!r}).touch()": NO_ANSWER,
        "keys_for_query_5 = (": NO_ANSWER,
        "keys_for_query_5 = 5\nkeys_for_query_5 = 6": 6,
        "keys_for_query_5 = " + "-" * 100_000 + "6": NO_ANSWER,  # MemoryError in ast.parse: this answer only
    }
    for source, value in answers.items():
        notebook = {"cells": [{"cell_type": "code", "source": source,
                               "metadata": {"nbgrader": {"grade_id": question_id("keys_for_query_5")}}}]}
        folder.mkdir(exist_ok=True)
        (folder / "09_causal_pairs.ipynb").write_text(json.dumps(notebook))
        assert question_answer(folder, "09_causal_pairs", "keys_for_query_5") == value, source
    assert not (tmp_path / "ran").exists()
    assert question_answer(folder, "10_causal_mask", "mask_term") is NO_ANSWER  # no such notebook


def _text_file(path: Path) -> str:
    path.write_text("not a database\n")
    return "not an nbgrader gradebook"


def _other_sqlite(path: Path) -> str:
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE marks (student TEXT, score REAL)")
    connection.close()
    return "not an nbgrader gradebook"


def _no_assignment(path: Path) -> str:
    from nbgrader.api import Gradebook

    with Gradebook(f"sqlite:///{path}"):
        pass
    return f"has no assignment {ASSIGNMENT!r}"


def _missing(path: Path) -> str:
    return "no such gradebook"


@pytest.mark.parametrize("make", [_text_file, _other_sqlite, _no_assignment, _missing])
def test_a_bad_gradebook_is_one_line_and_exit_2(make, tmp_path: Path) -> None:  # noqa: ANN001
    database = tmp_path / "gradebook.db"
    reason = make(database)
    before = database.read_bytes() if database.exists() else None
    done = grade(str(REPO_ROOT / "autograder" / "samples"), "--out", str(tmp_path / "out"),
                 "--gradebook", str(database))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], done.stderr
    assert (database.read_bytes() if database.exists() else None) == before, "the file was changed"
    assert not (tmp_path / "out" / "grades.csv").exists()


def test_a_gradebook_of_another_release_is_one_line_and_exit_2(course: dict, tmp_path: Path) -> None:
    """A grade cell naming a check this course does not have: the notebooks were released from another version."""
    database = tmp_path / "gradebook.db"
    shutil.copy(course["pristine"], database)
    with sqlite3.connect(database) as connection:
        changed = connection.execute(
            "UPDATE source_cell SET source = replace(source, 'check=[', 'check=[\"renamed_check\", ') "
            "WHERE name = 'tokens_test_1'").rowcount
    connection.close()
    assert changed == 1
    done = grade(str(REPO_ROOT / "autograder" / "samples"), "--out", str(tmp_path / "out"),
                 "--gradebook", str(database))
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "'renamed_check', which this course does not have" in lines[0], done.stderr

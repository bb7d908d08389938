"""``python -m autograder grade`` on a class folder holding every layout the intake accepts, then a regrade.

Built in a temporary folder from ``solutions/`` and ``exercises/`` (`test_intake.every_layout`):
one folder down, loose modules, an empty folder, notebooks alone and in ``notebooks/``, the
untouched stubs beside finished notebooks, zips, two packages in one folder. Every student gets
a row under its own folder name, with the score its work deserves; regrading one student keeps
the other rows. `merge_grades` is also tested alone (other columns: a backup, one line).
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO_ROOT
from test_intake import every_layout

from autograder.course import load_course
from autograder.grading.grades_file import merge_grades

COURSE = load_course()
SEED = 11


def grade(*arguments: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "autograder", "grade", *arguments, "--seed", str(SEED)],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def rows(path: Path) -> dict[str, dict[str, str]]:
    with path.open(newline="") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def class_graded(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, float], str]:
    root = tmp_path_factory.mktemp("batch")
    expected = every_layout(root / "class", root / "scratch")
    out = root / "grades"
    done = grade(str(root / "class"), "--out", str(out), "--jobs", "2")
    return root, out, expected, done.stdout + done.stderr


def test_every_student_of_every_layout_gets_a_row_under_its_own_name(class_graded) -> None:
    _, out, expected, output = class_graded
    graded = rows(out / "grades.csv")
    assert sorted(graded) == sorted(expected)
    assert {name: float(row["score"]) for name, row in graded.items()} == pytest.approx(expected)
    assert f"{len(expected)} folders found, {len(expected)} graded" in output
    assert f"a folder of {len(expected)} submissions" in output


def test_an_empty_folder_scores_zero_saying_what_was_found(class_graded) -> None:
    _, out, _, _ = class_graded
    results = json.loads((out / "carol" / "results.json").read_text())
    assert results["score"] == 0
    assert "Found at the top of your submission: nothing." in results["output"]


def test_stubs_beside_finished_notebooks_are_graded_from_the_notebooks_and_say_so(class_graded) -> None:
    _, out, _, _ = class_graded
    results = json.loads((out / "gina" / "results.json").read_text())
    assert results["score"] == pytest.approx(COURSE.max_score)
    assert results["extra_data"]["step_sources"] == {s.id: f"notebooks/{s.notebook}.ipynb" for s in COURSE.steps}
    assert "Graded from attention/: no step; from the notebooks' answer cells: tokens (notebooks/01_tokens.ipynb)" \
        in results["output"]


def test_regrading_one_student_updates_its_row_and_keeps_the_others(class_graded) -> None:
    root, out, expected, _ = class_graded
    before = rows(out / "grades.csv")
    alice = root / "class" / "alice" / "attention-course" / "attention"
    (alice / "weights.py").write_text((alice / "weights.py").read_text().replace("def attention_weights",
                                                                                   "def _unused"))
    done = grade(str(root / "class" / "alice"), "--out", str(out))
    after = rows(out / "grades.csv")
    assert list(after) == list(before)  # same students, same order
    assert {n: r for n, r in after.items() if n != "alice"} == {n: r for n, r in before.items() if n != "alice"}
    points = COURSE.step("weights").points
    assert float(after["alice"]["score"]) == pytest.approx(expected["alice"] - points)
    assert f"updated 1 row, kept {len(expected) - 1}" in done.stdout
    assert "1 folder found, 1 graded" in done.stdout


# -- merge_grades alone ----------------------------------------------------------------------------


HEADER = "submission,score,max_score,tokens,scores\n"


def test_merge_keeps_order_updates_in_place_and_appends_new_rows(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    path.write_text(HEADER + "amy,10,12,6,4\nbea,12,12,6,6\ncid,0,12,0,0\n")
    merged = merge_grades(path, HEADER + "bea,6,12,6,0\ndan,12,12,6,6\n")
    assert merged.text == HEADER + "amy,10,12,6,4\nbea,6,12,6,0\ncid,0,12,0,0\ndan,12,12,6,6\n"
    assert merged.message == f"{path}: updated 1 row, kept 2, added 1"
    fresh = merge_grades(tmp_path / "new.csv", HEADER + "amy,1,12,1,0\n")
    assert fresh.message == f"{tmp_path / 'new.csv'}: 1 row written"


def test_a_file_with_other_columns_is_backed_up_and_said_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "grades.csv"
    old = "submission,score,max_score,tokens,old_step\namy,10,12,6,4\n"
    path.write_text(old)
    (tmp_path / "grades.previous.csv").write_text("an earlier backup\n")
    merged = merge_grades(path, HEADER + "bea,6,12,6,0\n")
    backup = tmp_path / "grades.previous-2.csv"
    assert backup.read_text() == old and (tmp_path / "grades.previous.csv").read_text() == "an earlier backup\n"
    assert merged.text == HEADER + "bea,6,12,6,0\n"
    assert "\n" not in merged.message
    assert merged.message == (f"{path} has other columns than this course's (only there: old_step; not there: "
                              f"scores; another course version?): it was kept as {backup}, and grades.csv now "
                              "holds only this run's 1 row")
    (tmp_path / "bad.csv").write_bytes(b"\xff\xfe\x00bad")
    assert "could not be read (UnicodeDecodeError)" in merge_grades(tmp_path / "bad.csv", HEADER).message

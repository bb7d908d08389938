"""A regrade keeps the class whole, and a changed course never mixes grades.

- grading one student into a folder keeps every row in ``grades.csv``, ``report.html`` and
  ``mistakes.csv`` (the other rows from their ``results.json``);
- ``python -m autograder report DIR --out OUT`` rebuilds those files (and the LMS file) without grading;
- ``grade`` shows ``check-course``'s warnings; a regrade under other points is refused in one line,
  offering ``--regrade-all``, and never writes mixed rows; the LMS file's points match every row.
"""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from autograder import REPO_ROOT
from autograder.course import load_course
from autograder.sandbox.unprivileged import grading_mode

pytestmark = pytest.mark.skipif(grading_mode().name == "unconfined", reason="no user namespaces: grading refuses")
SEED = "5"


def autograder(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", *arguments], cwd=REPO_ROOT, capture_output=True,
                          text=True, timeout=600)


def rows(path: Path) -> dict[str, dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return {row["submission"]: row for row in csv.DictReader(handle)}


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """alice (the solutions) and bob (the stubs) graded into one folder, with a roster."""
    root = tmp_path_factory.mktemp("regrade")
    shutil.copytree(REPO_ROOT / "solutions" / "attention", root / "class" / "alice" / "attention",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(REPO_ROOT / "exercises" / "attention", root / "class" / "bob" / "attention",
                    ignore=shutil.ignore_patterns("__pycache__"))
    roster = root / "roster.csv"
    roster.write_text("submission,student_id,name,email\nalice,1,Alice A,alice@example.org\n"
                      "bob,2,Bob B,bob@example.org\ncarol,3,Carol C,carol@example.org\n")
    out = root / "grades"
    done = autograder("grade", str(root / "class"), "--out", str(out), "--seed", SEED, "--roster", str(roster))
    assert done.returncode == 0, done.stderr[-3000:]
    return {"root": root, "out": out, "roster": roster}


def test_a_one_student_regrade_keeps_the_whole_class_in_every_file(folder: dict) -> None:
    out = folder["out"]
    before = rows(out / "grades.csv")
    done = autograder("grade", str(folder["root"] / "class" / "bob"), "--out", str(out), "--seed", SEED)
    assert done.returncode == 0, done.stderr[-3000:]
    after = rows(out / "grades.csv")
    assert set(after) == {"alice", "bob"} and after["alice"]["score"] == before["alice"]["score"] == "100"
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "2 submission(s)" in page and 'href="alice/feedback.html"' in page and 'href="bob/feedback.html"' in page
    with open(out / "mistakes.csv", newline="", encoding="utf-8") as handle:
        assert all(float(row["share"]) <= 0.5 for row in csv.DictReader(handle))  # shares of a class of 2


def test_report_rebuilds_the_class_files_without_grading(folder: dict) -> None:
    out, rebuilt = folder["out"], folder["root"] / "rebuilt"
    done = autograder("report", str(out), "--out", str(rebuilt), "--roster", str(folder["roster"]))
    assert done.returncode == 0, done.stderr
    assert "nothing was graded" in done.stderr
    original, copy = rows(out / "grades.csv"), rows(rebuilt / "grades.csv")
    for name in ("alice", "bob"):
        assert {k: v for k, v in copy[name].items()} == original[name]
    assert (rebuilt / "alice" / "feedback.html").is_file()
    assert (rebuilt / "report.html").read_text(encoding="utf-8").count("/feedback.html\"") == 2
    assert (rebuilt / "mistakes.csv").read_text(encoding="utf-8") == (out / "mistakes.csv").read_text(encoding="utf-8")
    lms = list(csv.reader((rebuilt / "lms_grades.csv").read_text(encoding="utf-8").splitlines()))
    assert lms[1][0] == "Points Possible" and lms[1][-1] == "100"
    assert {r[0]: r[-1] for r in lms[2:]} == {"Alice A": "100", "Bob B": "0", "Carol C": ""}
    # in place, from the roster columns grades.csv already holds
    done = autograder("report", str(rebuilt), "--out", str(rebuilt))
    assert done.returncode == 0, done.stderr
    assert rows(rebuilt / "grades.csv")["alice"]["email"] == "alice@example.org"


def test_report_refuses_a_submission_in_two_folders_and_a_missing_results_file(folder: dict, tmp_path: Path) -> None:
    done = autograder("report", str(folder["out"]), str(folder["out"]), "--out", str(tmp_path / "x"))
    assert done.returncode == 2 and "is in both" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    broken = tmp_path / "broken"
    shutil.copytree(folder["out"], broken)
    (broken / "bob" / "results.json").unlink()
    done = autograder("report", str(broken), "--out", str(tmp_path / "y"))
    assert done.returncode == 2 and "bob/results.json is missing" in done.stderr, done.stderr


def test_a_changed_course_warns_refuses_to_mix_and_regrades_all_on_request(folder: dict, tmp_path: Path) -> None:
    out = tmp_path / "grades"
    shutil.copytree(folder["out"], out)
    data = yaml.safe_load((REPO_ROOT / "course.yml").read_text(encoding="utf-8"))
    data["steps"][0]["points"] += 2  # the steps now add up to 102
    data["total_points"] = 100
    changed = tmp_path / "course.yml"
    changed.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    before = (out / "grades.csv").read_text(encoding="utf-8")
    bob = str(folder["root"] / "class" / "bob")
    done = autograder("grade", bob, "--out", str(out), "--seed", SEED, "--course", str(changed))
    assert "warning:" in done.stderr and "add up to 102, not 100" in done.stderr
    assert done.returncode == 2, done.stderr[-2000:]
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "--regrade-all" in error[0] and "alice" in error[0], done.stderr
    assert (out / "grades.csv").read_text(encoding="utf-8") == before  # nothing written
    done = autograder("grade", bob, "--out", str(out), "--seed", SEED, "--course", str(changed), "--regrade-all",
                      "--roster", str(folder["roster"]))
    assert done.returncode == 0, done.stderr[-3000:]
    table = rows(out / "grades.csv")
    assert set(table) == {"bob"} and table["bob"]["max_score"] == "102"  # never mixed with the rows out of 100
    assert set(rows(out / "grades.previous.csv")) == {"alice", "bob"}
    lms = list(csv.reader((out / "lms_grades.csv").read_text(encoding="utf-8").splitlines()))
    assert lms[1][-1] == "102"
    recorded = json.loads((out / "bob" / "results.json").read_text(encoding="utf-8"))["extra_data"]
    from autograder.grading.course_version import course_fingerprint as fingerprint

    assert recorded["course_fingerprint"] == fingerprint(load_course(changed)) != fingerprint(load_course())
    page = (out / "report.html").read_text(encoding="utf-8")
    assert "1 submission(s)" in page and "alice/feedback.html" not in page

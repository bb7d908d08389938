"""``grade ... --shard K/N`` and ``report``: three shards, graded by three processes at once and merged, give
exactly the rows of one unsharded run with the same seed (grades.csv, mistakes.csv, every results.json's tests).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from autograder.errors import UsageError
from autograder.grading.shards import parse_shard, shard_of
from autograder.sandbox.unprivileged import grading_mode

SEED = "21"


def test_shards_deal_every_submission_once_in_name_order() -> None:
    names = ["eve", "bob", "dan", "amy", "cat"]
    shards = [shard_of(names, names, k, 3) for k in (1, 2, 3)]
    assert shards == [["amy", "dan"], ["bob", "eve"], ["cat"]]
    assert sorted(sum(shards, [])) == sorted(names)
    assert parse_shard(" 2/3 ") == (2, 3)
    for bad in ("0/3", "4/3", "3", "a/b", "1/0"):
        with pytest.raises(UsageError):
            parse_shard(bad)


def _start(*arguments: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "autograder", *arguments], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(process: subprocess.Popen) -> str:
    out, err = process.communicate(timeout=900)
    assert process.returncode == 0, (out + err)[-3000:]
    return err


def _tests(folder: Path, name: str) -> list:
    data = json.loads((folder / name / "results.json").read_text(encoding="utf-8"))
    return [data["score"], [(t["name"], t["score"], t["status"], t["output"]) for t in data["tests"]]]


@pytest.mark.skipif(grading_mode().name == "unconfined", reason="no user namespaces: grading refuses")
def test_three_shards_merged_give_exactly_one_unsharded_run(tmp_path: Path) -> None:
    batch = tmp_path / "class"
    solutions = REPO_ROOT / "solutions" / "attention"
    ignore = shutil.ignore_patterns("__pycache__")
    shutil.copytree(solutions, batch / "alice" / "attention", ignore=ignore)
    shutil.copytree(REPO_ROOT / "exercises" / "attention", batch / "bob" / "attention", ignore=ignore)
    (batch / "carol").mkdir()
    shutil.copytree(solutions, batch / "dave" / "attention", ignore=ignore)
    shutil.copy(REPO_ROOT / "autograder" / "samples" / "partial_mistakes" / "attention" / "weights.py",
                batch / "dave" / "attention" / "weights.py")
    whole = tmp_path / "whole"
    runs = [_start("grade", str(batch), "--out", str(whole), "--seed", SEED, "--jobs", "1")]
    runs += [_start("grade", str(batch), "--out", str(tmp_path / f"shard-{k}"), "--seed", SEED, "--jobs", "1",
                    "--shard", f"{k}/3") for k in (1, 2, 3)]
    said = [_finish(run) for run in runs]
    assert "shard 1 of 3: 2 of the 4 submissions" in said[1]
    refused = subprocess.run([sys.executable, "-m", "autograder", "grade", str(batch), "--out", str(tmp_path / "x"),
                              "--shard", "1/3"], cwd=REPO_ROOT, capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and "--shard needs --seed" in refused.stderr
    merged = tmp_path / "merged"
    report = subprocess.run([sys.executable, "-m", "autograder", "report", *(str(tmp_path / f"shard-{k}")
                             for k in (1, 2, 3)), "--out", str(merged)], cwd=REPO_ROOT, capture_output=True,
                            text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    assert (merged / "grades.csv").read_text(encoding="utf-8") == (whole / "grades.csv").read_text(encoding="utf-8")
    assert (merged / "mistakes.csv").read_text(encoding="utf-8") == (whole / "mistakes.csv").read_text(
        encoding="utf-8")
    for name in ("alice", "bob", "carol", "dave"):
        assert _tests(merged, name) == _tests(whole, name), name
    assert _tests(whole, "alice")[0] == 100 and 0 < _tests(whole, "dave")[0] < 100

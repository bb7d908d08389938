"""A hang costs one call's time limit, not one per check: after a call of a step times out, the step's
remaining checks are not run, and say why. The limit stays per call: slow but correct code passes.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from autograder.course import load_course
from autograder.grading.engine import Grader
from autograder.grading.intake import Submission
from autograder.hidden import load_hidden_checks
from autograder.sandbox.remote import Zygote
from autograder.sandbox.unprivileged import grading_mode

pytestmark = pytest.mark.skipif(grading_mode().name == "unconfined", reason="no user namespaces: grading refuses")
CALL_SECONDS = 3.0
COURSE = load_course()
COURSE = COURSE.model_copy(update={"limits": COURSE.limits.model_copy(update={"call_seconds": CALL_SECONDS})})

LOOPING_SCORES = '''
import torch


def attention_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    while True:  # every call hangs
        pass
'''

SLOW_WEIGHTS = f'''
import time

import torch

SLOW_CALLS = [3]


def attention_weights(scores: torch.Tensor, d_k: int) -> torch.Tensor:
    """Correct; its first three calls take 45 % of the call limit each, more than one limit together."""
    if SLOW_CALLS[0] > 0:
        SLOW_CALLS[0] -= 1
        time.sleep({0.45 * CALL_SECONDS})
    if isinstance(d_k, bool) or not isinstance(d_k, int) or d_k <= 0:
        raise ValueError("d_k must be a positive int")
    scaled = scores / d_k ** 0.5
    return torch.softmax(scaled - scaled.amax(dim=-1, keepdim=True), dim=-1)
'''


def _grade(folder: Path) -> tuple[object, float]:
    work = Path(tempfile.mkdtemp(prefix="hang-"))
    if os.geteuid() == 0:
        os.chmod(work, 0o711)
    zygote = Zygote()
    zygote.start()
    try:
        grader = Grader(COURSE, load_hidden_checks(), seed=7, zygote=zygote, work_root=work,
                        hidden_paths=(str(folder),))
        started = time.monotonic()
        result = grader.grade(Submission(folder.name, folder))
        return result, time.monotonic() - started
    finally:
        zygote.close()
        shutil.rmtree(work, ignore_errors=True)


def _with(tmp_path: Path, name: str, module: str, source: str) -> Path:
    folder = tmp_path / name
    shutil.copytree(REPO_ROOT / "solutions" / "attention", folder / "attention")
    (folder / "attention" / f"{module}.py").write_text(source)
    return folder


def test_after_a_call_hangs_the_steps_other_checks_are_not_run_and_say_why(tmp_path: Path) -> None:
    result, _ = _grade(_with(tmp_path, "looping", "scores", LOOPING_SCORES))
    scores = [t for t in result.tests if t.step == "scores"]
    assert len(scores) >= 3 and not any(t.passed for t in scores)
    timed_out = [t for t in scores if "did not finish within" in t.output]
    assert len(timed_out) == 1, [t.output for t in scores]
    skipped = [t for t in scores if t is not timed_out[0]]
    assert all(t.output.startswith("not run because of a hang") for t in skipped), [t.output for t in skipped]
    # One limit for the whole step, not one per check: one call ran out of time, no other check of the step ran
    # (a bound on the wall time would be flaky on a busy machine; this count is what decides it).
    assert all(t.passed for t in result.tests if t.step != "scores")


def test_the_limit_stays_per_call_so_slow_correct_code_passes(tmp_path: Path) -> None:
    result, _ = _grade(_with(tmp_path, "slow", "weights", SLOW_WEIGHTS))
    failed = [t.output for t in result.tests if not t.passed]
    assert not failed and result.step_score("weights") == COURSE.step("weights").points

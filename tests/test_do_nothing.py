"""No points without the computation: submissions that compute nothing score 0 on every from-scratch step.

Each variant of `do_nothing_layer` is laid over every from-scratch step module of the correct solutions
(every API name of every step, generated from ``course.yml``, not a hand-picked list) and graded by the
real grader in its sandbox: zeros of the right shape, a constant, the input returned unchanged, the
course example's answer for every input, a submission that recognises the course example and knows
its answer, and modules that count their calls or builds and change behaviour (issue: the forward
checks trusted the weights a module reported, and the checks' fixed order could be exploited).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from autograder.course import load_course
from autograder.grading.engine import Grader, SubmissionResult
from autograder.grading.intake import Submission
from autograder.hidden import load_hidden_checks
from autograder.sandbox.remote import Zygote
from autograder.sandbox.unprivileged import grading_mode

LAYER = Path(__file__).resolve().parent / "do_nothing_layer.py"
COURSE = load_course()
FROM_SCRATCH = [step for step in COURSE.steps if step.from_scratch]
VARIANTS = ("zeros", "constant", "identity", "published", "recognizer", "counting_calls", "counting_builds")
# Checks that judge a module's initialisation only: a module whose init really draws torch.rand earns them
# (the counting_builds variant keeps the correct draws on its second build), whatever its forward does.
INIT_ONLY = {("self_attention", "parameter_draws"), ("multi_head", "wrapper_draws"), ("multi_head", "mha_draws"),
             ("cross_attention", "parameter_draws"), ("causal_attention", "parameters_and_mask")}
pytestmark = pytest.mark.skipif(grading_mode().name == "unconfined",
                                reason="no user namespaces: test_hostile and test_nonroot cover the unconfined mode")


def build_do_nothing(variant: str, target: Path) -> None:
    """The solutions, with every from-scratch step's API replaced by its do-nothing ``variant``."""
    shutil.copytree(REPO_ROOT / "solutions" / "attention", target / "attention")
    (target / "attention" / "answers.py").unlink()  # no work at all: the concept questions unanswered too
    layer = LAYER.read_text().replace('VARIANT = "zeros"', f"VARIANT = {variant!r}", 1)
    (target / "attention" / "_blank.py").write_text(layer)
    for step in FROM_SCRATCH:
        module = target / "attention" / f"{step.module}.py"
        module.write_text(module.read_text() + "\n\nfrom attention._blank import blank_api as _blank_api  # noqa: E402"
                          f"\n\n_blank_api(globals(), {tuple(step.api)!r})\n")


@pytest.fixture(scope="module")
def graded() -> Iterator[dict[str, SubmissionResult]]:
    root = Path(tempfile.mkdtemp(prefix="do-nothing-"))
    work = root / "work"
    work.mkdir()
    os.chmod(root, 0o711)
    os.chmod(work, 0o711)
    submissions = []
    for variant in VARIANTS:
        build_do_nothing(variant, root / "submissions" / variant)
        submissions.append(Submission(variant, root / "submissions" / variant))
    zygote = Zygote()
    zygote.start()
    try:
        grader = Grader(COURSE, load_hidden_checks(), seed=int(os.environ.get("DO_NOTHING_SEED", "7")), zygote=zygote,
                        work_root=work, hidden_paths=tuple(str(s.path) for s in submissions))
        results = grader.grade_many(submissions, jobs=2)
        assert all(isinstance(r, SubmissionResult) for r in results.values()), results
        yield results
    finally:
        zygote.close()
        shutil.rmtree(root, ignore_errors=True)


def _passed(result: SubmissionResult, step: str) -> list[str]:
    return [t.check for t in result.tests if t.step == step and t.score > 0]


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "counting_builds"])
def test_a_do_nothing_submission_scores_0_on_every_from_scratch_step(graded, variant: str) -> None:  # noqa: ANN001
    result = graded[variant]
    paid = {step.id: _passed(result, step.id) for step in FROM_SCRATCH if _passed(result, step.id)}
    assert not paid, paid
    for step in COURSE.steps:  # the layer is on the from-scratch steps only: the others keep full marks
        if not step.from_scratch:
            assert result.step_score(step.id) == step.points, step.id


def test_a_module_that_counts_its_builds_earns_only_what_its_honest_build_did(graded) -> None:  # noqa: ANN001
    result = graded["counting_builds"]
    paid = {(step.id, name) for step in FROM_SCRATCH for name in _passed(result, step.id)}
    assert paid <= INIT_ONLY, paid - INIT_ONLY


def test_the_layer_covers_every_api_of_every_from_scratch_step(tmp_path: Path) -> None:
    build_do_nothing("zeros", tmp_path)
    for step in FROM_SCRATCH:
        text = (tmp_path / "attention" / f"{step.module}.py").read_text()
        assert f"_blank_api(globals(), {tuple(step.api)!r})" in text
    assert len(FROM_SCRATCH) == 10  # steps 4 to 13



def test_the_checker_sets_a_modules_weights_and_says_what_it_could_not_set() -> None:
    import torch
    from torch import nn

    from selfcheck import CheckFailed, LocalSubject
    from selfcheck.subject import load_parameters

    class Module(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.W_query = nn.Parameter(torch.zeros(3, 2))

    subject = LocalSubject("self_attention", {"Module": Module}, "attention/self_attention.py")
    module = subject.Module()
    own = torch.rand(3, 2)
    load_parameters(module, {"W_query": own}, "Module()")
    assert torch.equal(module._h_obj.W_query.detach(), own)
    with pytest.raises(CheckFailed, match="no parameter `W_value`"):
        load_parameters(module, {"W_value": own}, "Module()")
    with pytest.raises(CheckFailed, match=r"`W_query` has shape \(3, 2\), expected \(2, 3\)"):
        load_parameters(module, {"W_query": own.T}, "Module()")

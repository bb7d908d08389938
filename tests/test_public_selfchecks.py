"""The public self-checks: `selfcheck.public` and the learner's ``pytest`` in ``exercises/``.

In-process: every public check passes on ``solutions/``, discriminates common mistakes, and
names an unfinished earlier step. In a copy of ``exercises/`` (subprocesses, run in parallel):
the stubs fail every test with "not implemented yet"; the solutions pass every test; a syntax
error in one step and a wrong result in another fail only those steps, with clear messages.
"""

from __future__ import annotations

import ast
import importlib
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import torch
from torch import nn

from selfcheck import LocalSubject, run_check
from selfcheck.public import PUBLIC, check_step
from selfcheck.steps import STEPS

REPO_ROOT = Path(__file__).resolve().parents[1]
EXERCISES = REPO_ROOT / "exercises"
SOLUTIONS = REPO_ROOT / "solutions"
ALL_CHECKS = PUBLIC.all()
STEP_IDS = [step.id for step in STEPS]


# ---------------------------------------------------------------------------------------
# The registry and the test files
# ---------------------------------------------------------------------------------------


def test_every_step_has_two_to_five_public_checks() -> None:
    assert PUBLIC.steps() == STEP_IDS
    for step in STEPS:
        assert 2 <= len(PUBLIC.for_step(step.id)) <= 5, step.id


def test_names_select_one_step_with_pytest_k() -> None:
    """``pytest -k <step id>`` matches test ids and file names: no other step's id may appear in them."""
    for check in ALL_CHECKS:
        for other in STEP_IDS:
            if other != check.step:
                assert other not in check.name, f"check {check.step}.{check.name} contains step id {other!r}"
    for step in STEPS:
        path = EXERCISES / "tests" / f"test_{step.number:02d}_{step.id}.py"
        source = path.read_text(encoding="utf-8")
        assert f'PUBLIC.for_step("{step.id}")' in source and f"def test_{step.id}(" in source, path
        for other in STEP_IDS:
            assert other == step.id or other not in path.name + f"test_{step.id}", (path.name, other)
    assert sorted(p.name for p in (EXERCISES / "tests").glob("test_*.py")) == sorted(
        f"test_{s.number:02d}_{s.id}.py" for s in STEPS
    )


def test_public_checks_seed_through_the_subject() -> None:
    """Seeding this process does nothing where the grader runs learner code: only ``subject.manual_seed``."""
    sources = (p.read_text(encoding="utf-8") for p in (EXERCISES / "selfcheck" / "public").glob("*.py"))
    tree = ast.parse("\n".join(sources))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "manual_seed":
            owner = ast.unparse(node.func.value)
            assert owner not in ("torch", "torch.random", "torch.cuda"), ast.unparse(node)


# ---------------------------------------------------------------------------------------
# In-process: the solutions pass, mistakes fail with clear messages
# ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: f"{c.step}.{c.name}")
def test_solutions_pass_every_public_check(check: Any, solutions_module: Callable[[str], ModuleType]) -> None:
    step = next(s for s in STEPS if s.id == check.step)
    subject = LocalSubject.from_module(step.id, solutions_module(step.module))
    outcome = run_check(check, subject, 0)
    assert outcome.passed, outcome.message


def _outcomes(step: str, namespace: dict[str, Any]) -> dict[str, Any]:
    subject = LocalSubject(step, namespace, f"attention/{step}.py")
    return {check.name: run_check(check, subject, 0) for check in PUBLIC.for_step(step)}


def _namespace(solutions_module: Callable[[str], ModuleType], module: str, **replace: Any) -> dict[str, Any]:
    return {**vars(solutions_module(module)), **replace}


def test_mistakes_are_named(solutions_module: Callable[[str], ModuleType]) -> None:
    unscaled = _outcomes("weights", {"attention_weights": lambda scores, d_k: torch.softmax(scores, dim=-1)})
    assert unscaled["scaled_softmax"].status == "failed"
    assert "not divided by sqrt(d_k)" in unscaled["scaled_softmax"].message

    def keys_times_queries(q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        return k @ q.transpose(-2, -1) if q.dim() > 1 else k @ q

    transposed = _outcomes("scores", {"attention_scores": keys_times_queries})
    assert transposed["query_matrix"].status == "failed"
    assert "has shape (3, 2), expected (2, 3)" in transposed["query_matrix"].message
    assert transposed["one_query_vector"].passed

    def unsorted_vocab(text: str) -> dict[str, int]:
        return {word: i for i, word in enumerate(dict.fromkeys(text.split()))}

    vocab = _outcomes("tokens", _namespace(solutions_module, "tokens", build_vocab=unsorted_vocab))
    assert vocab["vocab_of_the_example"].status == "failed"
    assert "expected: {'The': 0, 'east': 1" in vocab["vocab_of_the_example"].message


def test_code_that_modifies_its_inputs_fails_and_leaves_the_checks_intact(
    solutions_module: Callable[[str], ModuleType],
) -> None:
    def scaling_in_place(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
        keys.mul_(2)
        return queries @ keys.transpose(-2, -1) if queries.dim() > 1 else keys @ queries

    bad = _outcomes("scores", {"attention_scores": scaling_in_place})
    assert "changed its input in place (argument 2)" in bad["query_matrix"].message
    assert all(o.passed for o in _outcomes("scores", vars(solutions_module("scores"))).values())


def test_parameter_order_and_mask_are_checked(solutions_module: Callable[[str], ModuleType]) -> None:
    real = solutions_module("causal_attention")

    class ValueFirst(real.CausalSelfAttention):  # type: ignore[name-defined, misc]
        def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
            super().__init__(d_in, d_out_kq, d_out_v, context_length)
            self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))  # an extra draw after the others

    class Unmasked(real.CausalSelfAttention):  # type: ignore[name-defined, misc]
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value
            return torch.softmax(q @ k.transpose(-2, -1) / self.W_query.shape[1] ** 0.5, dim=-1) @ v

    drawn = _outcomes("causal_attention", {**vars(real), "CausalSelfAttention": ValueFirst})
    assert "W_value is not what torch.rand draws" in drawn["mask_buffer"].message
    unmasked = _outcomes("causal_attention", {**vars(real), "CausalSelfAttention": Unmasked})
    assert "the mask was not applied" in unmasked["attends_only_to_the_past"].message


def _forget_attention() -> None:
    for name in [n for n in sys.modules if n == "attention" or n.startswith("attention.")]:
        del sys.modules[name]


def _import_from(root: Path, module: str) -> ModuleType:
    """``attention.<module>`` from the package under ``root`` (forgotten again at the end of the test)."""
    _forget_attention()
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(f"attention.{module}")
    finally:
        sys.path.remove(str(root))


@pytest.fixture(autouse=True)
def _no_attention_left_behind() -> Iterator[None]:
    yield
    _forget_attention()


def test_an_unfinished_earlier_step_is_named(tmp_path: Path) -> None:
    """Locally, multi_head runs on the learner's step 7: a stub there reads "finish step 7 first"."""
    package = tmp_path / "attention"
    shutil.copytree(SOLUTIONS / "attention", package)
    shutil.copy(EXERCISES / "attention" / "self_attention.py", package / "self_attention.py")
    outcomes = _outcomes("multi_head", vars(_import_from(tmp_path, "multi_head")))
    assert outcomes["wide_parameters"].passed and outcomes["efficient_output"].passed
    for name in ("wrapper_heads", "wrapper_concatenates", "from_wrapper_matches"):
        assert outcomes[name].status == "failed"
        message = outcomes[name].message
        assert "needs step 7 (self_attention" in message and "not implemented yet" in message


def test_check_step_for_notebooks(solutions_module: Callable[[str], ModuleType], capsys: Any) -> None:
    check_step("weights", solutions_module("weights"))
    assert capsys.readouterr().out.count("PASS  ") == len(PUBLIC.for_step("weights"))
    failed = (r"step 5 weights: 3 of 4 public checks did not pass "
              r"\(scaled_softmax, vector_and_batch, any_magnitude\)")
    with pytest.raises(AssertionError, match=failed):
        check_step("weights", {"attention_weights": lambda scores, d_k: torch.softmax(scores, dim=-1)})
    assert "not divided by sqrt(d_k)" in capsys.readouterr().out


# ---------------------------------------------------------------------------------------
# The learner's `pytest`, in copies of exercises/ (three runs, started together)
# ---------------------------------------------------------------------------------------


@dataclass
class PytestRun:
    """One ``pytest`` run in a copy of ``exercises/``."""

    returncode: int
    output: str

    def failures(self) -> dict[str, str]:
        """Test id (``test_scores[one_query_vector]``) -> its message in the FAILURES section."""
        found: dict[str, str] = {}
        current: str | None = None
        for line in self.output.splitlines():
            header = re.fullmatch(r"_{3,} (test_\w+\[\w+\]) _{3,}", line)
            if header:
                current = header.group(1)
                found[current] = ""
            elif line.startswith("=") or line.startswith("-" * 10):
                current = None
            elif current is not None:
                found[current] += line + "\n"
        return found

    def summary(self) -> dict[str, str]:
        """Step id -> its line in the step-by-step summary."""
        lines = {}
        for line in self.output.split("your progress, step by step", 1)[-1].splitlines():
            match = re.match(r"step (\d+) (\w+): +[\d.]+ pts +(.*)$", line)
            if match:
                lines[match.group(2)] = match.group(3)
        return lines


def _learner_copy(root: Path, *, solved: bool) -> Path:
    """A copy of ``exercises/`` under ``root`` (stubs, or with the solutions copied over them)."""
    assert (EXERCISES / "attention").is_dir(), "exercises/attention is missing: run `python -m autograder release`"
    copy = root / "learner"
    shutil.copytree(EXERCISES, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    if solved:
        for source in (SOLUTIONS / "attention").glob("*.py"):
            shutil.copy(source, copy / "attention" / source.name)
    return copy


def _break(copy: Path) -> None:
    """A syntax error in causal_pairs.py; build_vocab keeps the words' first-seen order (not sorted)."""
    pairs = copy / "attention" / "causal_pairs.py"
    pairs.write_text(pairs.read_text(encoding="utf-8") + "\ndef broken(:\n    pass\n", encoding="utf-8")
    tokens = copy / "attention" / "tokens.py"
    source = tokens.read_text(encoding="utf-8")
    tokens.write_text(
        source + "\n\ndef build_vocab(text):\n    return {w: i for i, w in enumerate(dict.fromkeys(text.split()))}\n",
        encoding="utf-8",
    )


@pytest.fixture(scope="module")
def learner_runs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, PytestRun]]:
    """``pytest`` in three copies of exercises/: ``stubs``, ``solved``, ``broken`` (run in parallel)."""
    copies = {
        "stubs": _learner_copy(tmp_path_factory.mktemp("stubs"), solved=False),
        "solved": _learner_copy(tmp_path_factory.mktemp("solved"), solved=True),
        "broken": _learner_copy(tmp_path_factory.mktemp("broken"), solved=True),
    }
    _break(copies["broken"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    # Third-party plugins (hypothesis, benchmark, ...) are not part of the learner set-up and cost ~2 s a run.
    env.update(COLUMNS="120", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    processes = {
        name: subprocess.Popen(
            [sys.executable, "-m", "pytest"], cwd=copy, env=env, text=True,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        )
        for name, copy in copies.items()
    }
    runs = {}
    for name, process in processes.items():
        output, _ = process.communicate(timeout=300)
        runs[name] = PytestRun(process.returncode, output)
    yield runs


def test_stubs_fail_every_test_as_not_implemented(learner_runs: dict[str, PytestRun]) -> None:
    run = learner_runs["stubs"]
    assert run.returncode == 1, run.output
    assert f"{len(ALL_CHECKS)} failed in" in run.output and " passed" not in run.output.splitlines()[-1]
    failures = run.failures()
    assert len(failures) == len(ALL_CHECKS), run.output
    for test, message in failures.items():
        step = test.split("[")[0].removeprefix("test_")
        assert message.strip().startswith(f"{step}: ") and message.strip().endswith("is not implemented yet"), (
            test, message)
        assert "Traceback" not in message and "\n" not in message.strip()
    assert run.summary() == {step: "not implemented yet" for step in STEP_IDS}
    assert "Next: step 1 tokens (attention/tokens.py); run only it with: pytest -k tokens" in run.output


def test_solutions_pass_every_test(learner_runs: dict[str, PytestRun]) -> None:
    run = learner_runs["solved"]
    assert run.returncode == 0, run.output
    assert f"{len(ALL_CHECKS)} passed in" in run.output
    assert run.summary() == {s.id: f"{len(PUBLIC.for_step(s.id))}/{len(PUBLIC.for_step(s.id))} passed" for s in STEPS}
    assert "Every step that ran passes its public checks." in run.output
    total = sum(step.points for step in STEPS)
    assert f"Public checks pass in steps worth {total:g} of the course's {total:g} points." in run.output
    assert "What the grader also checks, and pytest cannot:" in run.output and "concept questions (" in run.output
    assert re.search(r"^step 8 multi_head: +12 pts +5/5 passed$", run.output, re.M), run.output
    from autograder.hidden import load_hidden_checks  # nothing hidden in the summary: no hidden check's title

    assert not [c.title for c in load_hidden_checks().all() if c.title in run.output]


def test_a_broken_step_fails_alone_with_a_clear_message(learner_runs: dict[str, PytestRun]) -> None:
    run = learner_runs["broken"]
    assert run.returncode == 1, run.output
    failures = run.failures()
    assert {test.split("[")[0] for test in failures} == {"test_causal_pairs", "test_tokens"}, run.output

    syntax = "causal_pairs: attention/causal_pairs.py cannot be imported: SyntaxError: "
    for test in [t for t in failures if t.startswith("test_causal_pairs")]:
        assert failures[test].startswith(syntax) and re.search(r"\(causal_pairs\.py, line \d+\)\n$", failures[test])
    assert len([t for t in failures if t.startswith("test_causal_pairs")]) == len(PUBLIC.for_step("causal_pairs"))

    wrong = failures["test_tokens[vocab_of_the_example]"]
    assert wrong.startswith("tokens: build_vocab('The sun rises in the east') is not what it should be")
    assert "expected: {'The': 0, 'east': 1, 'in': 2, 'rises': 3, 'sun': 4, 'the': 5}" in wrong
    assert "(this check: build_vocab('The sun rises in the east') maps the sorted unique words to 0..5)" in wrong
    assert "Traceback" not in run.output

    summary = run.summary()
    assert summary.pop("causal_pairs").startswith("attention/causal_pairs.py cannot be imported: SyntaxError")
    tokens_total = len(PUBLIC.for_step("tokens"))
    assert summary.pop("tokens") == f"{tokens_total - 1}/{tokens_total} passed, 1 failed"
    assert all(line.endswith("passed") and "failed" not in line for line in summary.values()), summary
    assert "Next: step 1 tokens" in run.output


# ---------------------------------------------------------------------------------------
# The same checks through the grader's sandbox (RemoteSubject, learner code in a child process)
# ---------------------------------------------------------------------------------------


def test_public_checks_run_unchanged_in_the_sandbox(tmp_path: Path) -> None:
    """Seeding, handles and indexing go through the Subject interface, so the checks pass remotely too."""
    from autograder.course import load_course
    from autograder.grading.engine import Grader
    from autograder.grading.intake import Submission
    from autograder.sandbox.remote import Zygote

    work = tmp_path / "work"
    work.mkdir()
    os.chmod(tmp_path, 0o711)
    os.chmod(work, 0o711)
    submissions = {}
    for name, source in (("solved", SOLUTIONS), ("stubs", EXERCISES)):
        shutil.copytree(source / "attention", tmp_path / name / "attention",
                        ignore=shutil.ignore_patterns("__pycache__"))
        submissions[name] = Submission(name, tmp_path / name)
    zygote = Zygote()
    zygote.start()
    try:
        grader = Grader(load_course(), PUBLIC, seed=1, zygote=zygote, work_root=work)
        # A job slot of its own: as root, slot k runs learner code as uid 61000 + k, and a hostile
        # submission graded at the same time (tests/hostile/kill_parent) kills every process of its uid.
        slot = 9
        solved, stubs = grader.grade(submissions["solved"], slot), grader.grade(submissions["stubs"], slot)
    finally:
        zygote.close()
    solved_checks = [t for t in solved.tests if not t.check.startswith("question_")]  # the concept questions aside
    stub_checks = [t for t in stubs.tests if not t.check.startswith("question_")]
    assert len(solved_checks) == len(ALL_CHECKS)
    assert [t.output for t in solved.tests if not t.passed] == []
    assert all(not t.passed and t.output.endswith("is not implemented yet") for t in stub_checks), [
        t.output for t in stub_checks]


def test_an_error_that_gives_a_mistake_away_names_it(solutions_module: Callable[[str], ModuleType]) -> None:
    """A module without ``super().__init__()`` fails with torch's AttributeError, and a hint."""
    correct = solutions_module("self_attention").SelfAttention

    class NoSuperInit(correct):  # type: ignore[misc, valid-type]
        def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
            self.W_query = torch.nn.Parameter(torch.rand(d_in, d_out_kq))

    outcomes = _outcomes("self_attention", _namespace(solutions_module, "self_attention", SelfAttention=NoSuperInit))
    failed = [o for o in outcomes.values() if not o.passed]
    assert failed and all("call super().__init__() first thing" in o.message for o in failed), failed

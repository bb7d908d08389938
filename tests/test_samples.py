"""The bundled sample submissions (``autograder/samples``) grade the way their headers say.

``python -m autograder grade`` with no arguments grades these folders: they are the instructor's
demo. All four are graded once, in one grader (one seed, one sandbox worker), with the course's
per-call limit lowered to a few seconds so that the sample that loops forever costs little. Then:

- ``complete_einsum`` (correct, in another style than ``solutions/``) gets every point;
- ``partial_mistakes`` loses exactly the checks its planted mistakes touch, and the feedback
  names every mistake; its last two steps read "not implemented yet";
- ``broken`` loses exactly the steps it breaks, each with a clear message, and nothing else;
- ``stubs_only`` gets 0 and is told that nothing is implemented yet.
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from autograder.course import Course, load_course
from autograder.grading import report
from autograder.grading.concept_answers import code_points
from autograder.grading.engine import Grader, SubmissionResult, split_points
from autograder.grading.intake import resolve_submissions
from autograder.hidden import load_hidden_checks
from autograder.hidden._common import MISTAKE_PREFIX, SCALE_DK, WRONG_DIM, ZERO_NOT_INF
from autograder.hidden.causal_pairs import CLOSED_FORM
from autograder.hidden.cross_attention import KV_FROM_X1
from autograder.hidden.multi_head import MERGE_SCRAMBLED
from autograder.hidden.questions import questions_of
from autograder.notebook_ids import question_id
from autograder.sandbox.remote import Zygote
from selfcheck import CheckRegistry

SAMPLES = REPO_ROOT / "autograder" / "samples"
EXERCISES = REPO_ROOT / "exercises" / "attention"
NAMES = ("broken", "complete_einsum", "partial_mistakes", "stubs_only")
SEED = 20_241_123
CALL_SECONDS = 2  # the course allows 10 s per call; the infinite loop in `broken` costs this once

CHECKS: CheckRegistry = load_hidden_checks()

# partial_mistakes: step -> {check that fails: what its feedback must name}. Every other check passes.
PARTIAL_FAILURES: dict[str, dict[str, str]] = {
    "weights": {  # softmax over dim=-2
        "scaled_softmax": WRONG_DIM,
        "rows_sum_to_one": "softmax over the wrong dimension",
        "batched": WRONG_DIM,
    },
    "self_attention": {  # scores / d_k
        "example_row": SCALE_DK,
        "forward_sequence": SCALE_DK,
        "forward_batch": SCALE_DK,
    },
    "multi_head": {  # MultiHeadAttention merges the heads without transposing back; the wrapper is right
        "mha_forward": MERGE_SCRAMBLED,
        "mha_vs_torch": MERGE_SCRAMBLED,
        "from_wrapper": MERGE_SCRAMBLED,
    },
    "cross_attention": {  # keys and values from x_1
        "different_lengths": KV_FROM_X1,
        "same_lengths": KV_FROM_X1,
        "batched": KV_FROM_X1,
    },
    "causal_pairs": {  # a loop instead of the closed form: its call for 10**9 runs out of time, so the
        "count_closed_form": CLOSED_FORM,  # step's later checks are not run (the bool mistake is not reached)
        "keys_attended_values": "not run because of a hang",
        "invalid_arguments": "not run because of a hang",
        "index_like_arguments": "not run because of a hang",
    },
    "causal_mask": {  # causal_mask blocks the diagonal; mask_scores masks with 0 instead of -inf
        "masks": "the diagonal is blocked too",
        "mask_scores_values": ZERO_NOT_INF,
        "causal_weights_values": ZERO_NOT_INF,
        "causal_weights_properties": ZERO_NOT_INF,
    },
}
PARTIAL_STUBS = ("causal_attention", "kv_cache")
# partial_mistakes' concept questions (attention/answers.py): question -> what its test says ("passed": right)
PARTIAL_ANSWERS = {"keys_for_query_5": "passed", "non_causal_matrix": "not the right answer",
                   "mask_term": "passed", "positions_for_query_4": "not answered"}
NAMED_MISTAKES = {WRONG_DIM, SCALE_DK, MERGE_SCRAMBLED, KV_FROM_X1, ZERO_NOT_INF, "the diagonal is blocked too"}


@dataclass
class Graded:
    course: Course
    results: dict[str, SubmissionResult]
    out_dir: Path


@pytest.fixture(scope="module")
def graded(tmp_path_factory: pytest.TempPathFactory) -> Graded:
    """Every sample graded once, results.json and grades.csv written as the grade command does."""
    course = load_course()
    course = course.model_copy(update={"limits": course.limits.model_copy(update={"call_seconds": CALL_SECONDS})})
    submissions = resolve_submissions([str(SAMPLES)])
    out_dir = tmp_path_factory.mktemp("grades")
    zygote = Zygote()
    zygote.start()
    work_root = Path(tempfile.mkdtemp(prefix="autograder-samples-"))
    if os.geteuid() == 0:
        os.chmod(work_root, 0o711)  # sandbox uids may enter their own copy only
    try:
        hidden = (str(out_dir), *(str(s.path.resolve()) for s in submissions))
        grader = Grader(course, CHECKS, seed=SEED, zygote=zygote, work_root=work_root, hidden_paths=hidden)
        # Two at a time, as `grade` does by default: the scores must not depend on it.
        graded_all = grader.grade_many(submissions, jobs=2)
        assert not [name for name, r in graded_all.items() if isinstance(r, BaseException)], graded_all
        results = [graded_all[s.name] for s in submissions]
    finally:
        zygote.close()
        shutil.rmtree(work_root, ignore_errors=True)
    for result in results:
        report.write_results(out_dir, result, course)
    report.write_atomic(out_dir / "grades.csv", report.grades_csv(results, course))
    return Graded(course, {r.name: r for r in results}, out_dir)


def _tests(result: SubmissionResult, step: str) -> dict[str, object]:
    """The code checks' tests of ``step`` (its concept questions' tests aside)."""
    asked = {question_id(q.name) for q in questions_of(step)}
    return {t.check: t for t in result.tests if t.step == step and t.check not in asked}


def _question_tests(result: SubmissionResult, step: str) -> dict[str, object]:
    return {t.check.removeprefix("question_"): t for t in result.tests
            if t.step == step and t.check in {question_id(q.name) for q in questions_of(step)}}


def _shares(step_id: str, points: float) -> dict[str, float]:
    checks = CHECKS.for_step(step_id)
    return dict(zip([c.name for c in checks], split_points(points, [c.weight for c in checks]), strict=True))


def _body(path: Path) -> str:
    """A sample module without its header comment (the lines before the module docstring)."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if not line.startswith("#"))
    return "".join(lines[start:])


def _line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in line)


# ---------------------------------------------------------------------------------------------
# The samples themselves (no grading)
# ---------------------------------------------------------------------------------------------


def test_the_default_grade_run_finds_exactly_the_samples() -> None:
    assert sorted(s.name for s in resolve_submissions([str(SAMPLES)])) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_sample_module_says_what_it_demonstrates(name: str) -> None:
    modules = sorted((SAMPLES / name / "attention").glob("*.py"))
    assert modules
    for path in modules:
        first = path.read_text(encoding="utf-8").splitlines()[0]
        assert first.startswith(f"# Sample submission `{name}`"), f"{path} needs a header comment"


def test_stub_samples_are_the_learner_stubs() -> None:
    stubs = sorted(p.name for p in EXERCISES.glob("*.py"))
    assert sorted(p.name for p in (SAMPLES / "stubs_only" / "attention").glob("*.py")) == stubs
    for name in stubs:
        assert _body(SAMPLES / "stubs_only" / "attention" / name) == (EXERCISES / name).read_text(encoding="utf-8")
    for module in PARTIAL_STUBS:
        path = SAMPLES / "partial_mistakes" / "attention" / f"{module}.py"
        assert _body(path) == (EXERCISES / f"{module}.py").read_text(encoding="utf-8")


def test_broken_sample_reuses_the_correct_modules_unchanged() -> None:
    broken = SAMPLES / "broken" / "attention"
    assert not (broken / "cross_attention.py").exists()
    for path in sorted(broken.glob("*.py")):
        if "this module is correct" in path.read_text(encoding="utf-8"):
            assert _body(path) == _body(SAMPLES / "complete_einsum" / "attention" / path.name), path.name


def test_complete_einsum_is_written_in_another_style() -> None:
    sources = {p.name: p.read_text(encoding="utf-8") for p in (SAMPLES / "complete_einsum" / "attention").glob("*.py")}
    everything = "\n".join(sources.values())
    for shortcut in ("torch.softmax", "F.softmax", ".softmax(", "scaled_dot_product_attention", "MultiheadAttention"):
        assert shortcut not in everything, shortcut
    for module in ("scores", "context", "self_attention", "multi_head", "cross_attention", "causal_attention",
                   "kv_cache"):
        assert "torch.einsum(" in sources[f"{module}.py"], module
        assert " @ " not in sources[f"{module}.py"], module


# ---------------------------------------------------------------------------------------------
# Grading
# ---------------------------------------------------------------------------------------------


def test_all_samples_were_graded(graded: Graded) -> None:
    assert sorted(graded.results) == sorted(NAMES)
    for result in graded.results.values():
        assert result.max_score == 100
        assert [t.step for t in result.tests] == [
            s.id for s in graded.course.steps for _ in [*CHECKS.for_step(s.id), *questions_of(s.id)]]
        missing = ["Missing from your submission: attention/cross_attention.py. Those steps score 0; "
                   "the other steps were graded."] if result.name == "broken" else []
        assert result.notes == missing, result.notes  # the intake names a missing module, as on Gradescope


def test_complete_einsum_gets_full_marks(graded: Graded) -> None:
    result = graded.results["complete_einsum"]
    failed = [f"{t.step}.{t.check}: {t.output}" for t in result.tests if not t.passed]
    assert not failed
    assert result.score == 100


@pytest.mark.parametrize("step", load_course().step_ids)
def test_partial_mistakes_step_by_step(graded: Graded, step: str) -> None:
    result = graded.results["partial_mistakes"]
    points = next(s.points for s in graded.course.steps if s.id == step)
    shares = _shares(step, code_points(graded.course.step(step)))
    tests = _tests(result, step)
    questions = _question_tests(result, step)
    for name, test in questions.items():
        assert test.output.startswith(PARTIAL_ANSWERS[name]), (name, test.output)
        assert test.score == (test.max_score if test.passed else 0)
    asked = sum(t.score for t in questions.values())
    if step in PARTIAL_STUBS:
        for name, test in tests.items():
            assert not test.passed and test.score == 0, name
            assert "not implemented yet" in test.output, (name, test.output)
        assert result.step_score(step) == asked
        return
    failing = PARTIAL_FAILURES.get(step, {})
    assert set(failing) <= set(tests), "the expectations name a check that does not exist"
    for name, test in tests.items():
        if name in failing:
            assert not test.passed and test.score == 0, f"{step}.{name} should fail"
            assert failing[name] in test.output, (f"{step}.{name} should name the mistake", test.output)
        else:
            assert test.passed and test.score == shares[name], (f"{step}.{name} should pass", test.output)
    expected = round(sum(share for name, share in shares.items() if name not in failing), 4)
    assert result.step_score(step) == pytest.approx(expected + asked, abs=1e-4)
    if not failing and all(t.passed for t in questions.values()):
        assert result.step_score(step) == points


def test_partial_mistakes_are_named_as_common_mistakes(graded: Graded) -> None:
    outputs = "\n".join(t.output for t in graded.results["partial_mistakes"].tests)
    for mistake in NAMED_MISTAKES:
        assert f"{MISTAKE_PREFIX}: {mistake}" in outputs, mistake


def test_broken_loses_exactly_the_steps_it_breaks(graded: Graded) -> None:
    result = graded.results["broken"]
    package = SAMPLES / "broken" / "attention"
    exit_line = _line_of(package / "weights.py", "sys.exit()")
    syntax_line = _line_of(package / "context.py", "torch.einsum(")
    init_line = _line_of(package / "self_attention.py", "self.W_query =")
    expected_messages = {
        "weights": ["attention_weights raised SystemExit", f"weights.py, line {exit_line}"],
        "context": ["attention/context.py could not be imported: SyntaxError", f"context.py, line {syntax_line}"],
        "self_attention": ["SelfAttention raised AttributeError", "Module.__init__()",
                           f"self_attention.py, line {init_line}"],
        "cross_attention": ["attention/cross_attention.py is missing from the submission"],
        "causal_pairs": ["importing attention/causal_pairs.py", f"did not finish within {CALL_SECONDS:g} s"],
    }
    for step in graded.course.steps:
        tests = _tests(result, step.id)
        questions = _question_tests(result, step.id)
        assert all(t.passed for t in questions.values()), step.id  # a broken step's questions keep their points
        if step.id in expected_messages:
            assert result.step_score(step.id) == sum(t.score for t in questions.values()), step.id
            for name, test in tests.items():
                for text in expected_messages[step.id]:
                    assert text in test.output, (step.id, name, text, test.output)
        else:
            failed = {name: t.output for name, t in tests.items() if not t.passed}
            assert not failed, step.id
            assert result.step_score(step.id) == step.points
    assert result.score == 100 - sum(code_points(s) for s in graded.course.steps if s.id in expected_messages)


def test_stubs_only_is_told_nothing_is_implemented(graded: Graded) -> None:
    result = graded.results["stubs_only"]
    assert result.score == 0
    for test in result.tests:
        assert not test.passed
        said = "not answered" if test.check.startswith("question_") else "not implemented yet"
        assert said in test.output, (test.step, test.check, test.output)


def test_reports_match_the_results(graded: Graded) -> None:
    course = graded.course
    with open(graded.out_dir / "grades.csv", newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["submission", "score", "max_score", *course.step_ids]
    assert [row[0] for row in rows[1:]] == sorted(NAMES)
    for row in rows[1:]:
        result = graded.results[row[0]]
        assert float(row[1]) == pytest.approx(result.score) and row[2] == "100"
        assert [float(v) for v in row[3:]] == pytest.approx([result.step_score(s) for s in course.step_ids])
    by_name = {row[0]: row for row in rows[1:]}
    assert by_name["complete_einsum"][1] == "100" and by_name["stubs_only"][1] == "0"
    for name, result in graded.results.items():
        data = json.loads((graded.out_dir / name / "results.json").read_text(encoding="utf-8"))
        assert data["score"] == pytest.approx(result.score)
        assert data["extra_data"]["seed"] == SEED
        assert sum(t["score"] for t in data["tests"]) == pytest.approx(result.score)
        for test in data["tests"]:
            assert test["tags"][0] in course.step_ids
            assert test["status"] == ("passed" if test["score"] == test["max_score"] else "failed")


def test_the_readme_documents_exactly_these_scores(graded: Graded) -> None:
    """The README's sample table (score column) is what grading the samples gives, to 2 decimals."""
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    documented = dict(re.findall(r"^\| `(\w+)` \| .* \| \*\*([\d.]+)\*\* \|$", readme, flags=re.M))
    assert sorted(documented) == sorted(NAMES), "README.md: the sample table names every sample once"
    for name, result in graded.results.items():
        assert f"{result.score:.2f}".rstrip("0").rstrip(".") == documented[name], name


def test_the_sample_glob_names_only_submissions() -> None:
    """``python -m autograder grade solutions exercises autograder/samples/*`` (the issue's command) works:
    the samples folder holds submissions only (their description is docs/samples.md)."""
    entries = sorted(str(p) for p in SAMPLES.iterdir())
    assert sorted(s.name for s in resolve_submissions(entries)) == sorted(NAMES)

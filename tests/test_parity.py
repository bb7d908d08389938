"""Parity: what the grader names, the learner's own ``pytest`` names too, on public inputs.

- Over the course's catalogue of mistaken implementations (``MISTAKES`` in test_hidden_checks,
  each one named by a hidden check), the public checks run in-process name at least 80 %.
- One catalogue (`selfcheck.mistakes`) serves both sides; a mistake is named only when the inputs
  tell it apart: several matching mistakes are listed as candidates, never one guessed.
- Public checks cover each step's idea (distinct sizes, T_q != T_k, batches, a cache that must be
  used, the integer rules of step 10, ``token_output`` on a batch), one file per step.
- Messages a learner can act on (issue 9, item 4).
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest
import torch
from correct_styles import STYLES
from mistake_cases import MAGNITUDE_CHECKS, MISTAKES, ListHeads, Mistake, decode_wrong_row
from sweep_styles import FINFO_MIN, causal_weights, fill_variants, style_namespace
from sweep_styles import STYLES as SWEEP_STYLES
from test_hidden_checks import reference_with, run_one

from autograder import reference as ref
from autograder.hidden import load_hidden_checks
from selfcheck import CheckFailed, LocalSubject, Outcome, expect_close, run_check
from selfcheck import mistakes as m
from selfcheck.magnitude import FINITE_FILL, UNSTABLE_SOFTMAX
from selfcheck.public import PUBLIC
from selfcheck.steps import STEPS

REPO_ROOT = Path(__file__).resolve().parents[1]
HIDDEN = load_hidden_checks()
PARITY_TARGET = 0.8


def public_outcomes(step: str, namespace: dict[str, Any]) -> dict[str, Outcome]:
    subject = LocalSubject(step, namespace, f"attention/{step}.py")
    return {check.name: run_check(check, subject, 0) for check in PUBLIC.for_step(step)}


def public_names(mistake: Mistake) -> bool:
    return any(mistake.says in o.message for o in public_outcomes(mistake.step, reference_with(**mistake.overrides))
               .values() if not o.passed)


def grader_names(mistake: Mistake) -> bool:
    outcome = run_one(mistake.step, reference_with(**mistake.overrides), mistake.check, mistake.seeds[0])
    return outcome.status == "failed" and mistake.says in outcome.message


@pytest.fixture(scope="module")
def parity() -> tuple[list[Mistake], list[Mistake]]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        graded = [mistake for mistake in MISTAKES if grader_names(mistake)]
        return graded, [mistake for mistake in graded if not public_names(mistake)]
    finally:
        torch.set_num_threads(threads)


def test_pytest_names_what_the_grader_names(parity: tuple[list[Mistake], list[Mistake]]) -> None:
    graded, missed = parity
    assert len(graded) >= 0.9 * len(MISTAKES), "the grader should name (nearly) every catalogued mistake"
    share = 1 - len(missed) / len(graded)
    print(f"\nparity: the public checks name {len(graded) - len(missed)} of the {len(graded)} mistakes the grader "
          f"names ({share:.0%})")
    assert share >= PARITY_TARGET, [f"{m.step}: {m.label}" for m in missed]


# ---------------------------------------------------------------------------------------------
# One catalogue; a mistake is named only when the inputs tell it apart
# ---------------------------------------------------------------------------------------------


def _failure(call: Any) -> str:
    with pytest.raises(CheckFailed) as failure:
        call()
    return str(failure.value)


def test_several_matching_mistakes_are_listed_not_guessed() -> None:
    expected, wrong = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    message = _failure(lambda: expect_close(wrong, expected, "x", mistakes={"mistake A": wrong, "mistake B": wrong}))
    assert m.AMBIGUOUS_PREFIX in message and "mistake A" in message and "mistake B" in message
    assert m.MISTAKE_PREFIX not in message
    message = _failure(lambda: expect_close(wrong, expected, "x", mistakes={"mistake A": wrong, "other": expected}))
    assert f"{m.MISTAKE_PREFIX}: mistake A." in message and "other" not in message
    nan = torch.tensor([float("nan"), 1.0])
    assert "NaN mistake" in _failure(lambda: expect_close(nan, expected, "x", mistakes={"NaN mistake": nan.clone()}))


def test_sqrt_dv_is_not_told_d_k_on_the_article_sizes() -> None:
    """On SelfAttention(3, 2, 4), d_k = 2 = sqrt(d_v): both mistakes give the same numbers there."""
    mutant = next(mistake for mistake in MISTAKES if mistake.label == "sqrt(d_v)")
    hidden = run_one("self_attention", reference_with(**mutant.overrides), "example_row", 3).message
    public = public_outcomes("self_attention", reference_with(**mutant.overrides))["row_one_of_the_example"].message
    for message in (hidden, public):
        assert m.AMBIGUOUS_PREFIX in message and m.SCALE_DK in message and m.SCALE_DV in message, message
    distinct = public_outcomes("self_attention", reference_with(**mutant.overrides))["output_from_parameters"]
    assert f"{m.MISTAKE_PREFIX}: {m.SCALE_DV}." in distinct.message, distinct.message  # sizes that tell them apart


def test_a_cache_masking_the_wrong_row_is_not_told_to_append_first() -> None:
    namespace = reference_with(decode_step=decode_wrong_row)
    hidden = run_one("kv_cache", namespace, "uses_cached_keys", 3).message
    public = public_outcomes("kv_cache", namespace)["uses_the_cache"].message
    for message in (hidden, public):
        assert m.AMBIGUOUS_PREFIX in message and m.MASK_ROW in message, message
        assert f"{m.MISTAKE_PREFIX}: {m.NOT_APPENDED}" not in message


def test_hidden_checks_and_public_checks_use_the_one_catalogue() -> None:
    hidden_dir = REPO_ROOT / "autograder" / "hidden"
    for description in (m.SCALE_DK, m.SPLIT_SCRAMBLED, m.KEYS_FROM_X1, m.ONLY_NEW, m.ZERO_NOT_INF, m.PAIRS_REVERSED):
        words = description[:40]
        for folder in (hidden_dir, REPO_ROOT / "exercises" / "selfcheck" / "public"):
            assert not any(words in path.read_text(encoding="utf-8") for path in folder.glob("*.py")), (
                f"{words!r} is spelled out in {folder.name}/ instead of coming from selfcheck.mistakes")


# ---------------------------------------------------------------------------------------------
# Public checks cover each step's idea; one file per step
# ---------------------------------------------------------------------------------------------


def test_public_checks_live_one_file_per_step() -> None:
    listed = subprocess.run(["git", "ls-files", "*multi_head*"], cwd=REPO_ROOT, capture_output=True, text=True,
                            check=True).stdout.split()
    assert "exercises/selfcheck/public/multi_head.py" in listed
    for step in STEPS:
        checks = PUBLIC.for_step(step.id)
        assert {c.function.__module__ for c in checks} == {f"selfcheck.public.{step.id}"}, step.id
    for path in (REPO_ROOT / "exercises" / "selfcheck").rglob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 500, path


def _failing_public(step: str, **overrides: Any) -> dict[str, str]:
    return {name: o.message for name, o in public_outcomes(step, reference_with(**overrides)).items() if not o.passed}


def test_integer_rules_of_step_10_are_public() -> None:
    accepts_bool = _failing_public("causal_pairs", count_causal_pairs=lambda n: n * (n + 1) // 2 if isinstance(
        n, bool) else ref.count_causal_pairs(n))
    assert "bool is a subclass of int" in accepts_bool["bad_arguments_raise"]

    def no_tensors(n: Any) -> int:
        if isinstance(n, torch.Tensor):
            raise ValueError("not an int")
        return ref.keys_attended(n)

    assert "keys_attended raised ValueError" in _failing_public("causal_pairs", keys_attended=no_tensors)[
        "index_like_arguments"]


def test_token_output_on_a_batch_is_public() -> None:
    def rows_only(weights_row: Any, values: Any) -> torch.Tensor:
        w, v = torch.as_tensor(weights_row, dtype=torch.float32), torch.as_tensor(values, dtype=torch.float32)
        return w @ v[: w.shape[0]]  # no batches: (2, 2) weights take two rows of each batch item

    assert "token_output_ignores_later_rows" in _failing_public("causal_attention", token_output=rows_only)


def test_a_cache_that_is_not_used_fails_publicly() -> None:
    mutant = next(mistake for mistake in MISTAKES if mistake.label == "cache not used")
    failing = _failing_public("kv_cache", **mutant.overrides)
    assert set(failing) == {"uses_the_cache"} and m.CACHE_UNUSED in failing["uses_the_cache"]


def test_t_q_differs_from_t_k_in_public_inputs() -> None:
    transposed = _failing_public("scores", attention_scores=lambda q, k: k @ q.mT if q.dim() > 1 else k @ q)
    assert "keys @ queries^T" in transposed["query_matrix"]
    swapped = _failing_public("cross_attention", CrossAttention=type("Swapped", (ref.CrossAttention,), {
        "forward": lambda self, x_1, x_2: ref.CrossAttention.forward(self, x_2, x_1)}))
    assert m.SWAPPED_INPUTS in swapped["queries_from_first_input"]


def test_large_magnitude_mistakes_are_named_by_pytest_as_by_the_grader() -> None:
    """A -1e4 or -1e5 mask fill and a softmax without the row maximum, in steps 11-13: the public checks name
    the same mistake as the grader, in the one check of the step that looks at large magnitudes."""
    cases = [mistake for mistake in MISTAKES if mistake.label.endswith("large scores")]
    assert len(cases) == 9
    for mistake in cases:
        assert grader_names(mistake), mistake.label
        failing = _failing_public(mistake.step, **mistake.overrides)
        assert list(failing) == [MAGNITUDE_PUBLIC[mistake.step]], (mistake.step, mistake.label, failing)
        message = failing[MAGNITUDE_PUBLIC[mistake.step]]
        assert f"{m.MISTAKE_PREFIX}: {mistake.says}." in message, (mistake.step, mistake.label, message)
        other = UNSTABLE_SOFTMAX if mistake.says == FINITE_FILL else FINITE_FILL
        assert other not in message


MAGNITUDE_PUBLIC = {"causal_mask": "masking_before_equals_after", "causal_attention": "attends_only_to_the_past",
                    "kv_cache": "uses_the_cache"}


@pytest.mark.parametrize("step", list(MAGNITUDE_CHECKS))
def test_safe_fills_and_styles_pass_the_public_large_magnitude_checks(step: str) -> None:
    """-inf, torch.finfo(dtype).min and -1e9 fills (float32, also applied before the scaling), float64 inside and
    a hand-written softmax that subtracts the row maximum pass every public check of the masking steps."""
    variants = {str(fill): fill_variants(fill)[step] for fill in (float("-inf"), FINFO_MIN, -1e9)}
    if step == "causal_mask":
        variants.update({f"{fill} before scaling": {"causal_attention_weights": causal_weights(
            fill, float64=False, before_scaling=True)} for fill in (float("-inf"), FINFO_MIN, -1e9)})
    for name, overrides in variants.items():
        assert _failing_public(step, **overrides) == {}, name
    for style in SWEEP_STYLES:  # (float64_finfo's token_output takes no batch: only the masking checks count)
        failing = _failing_public(step, **style_namespace(style, step))
        assert MAGNITUDE_PUBLIC[step] not in failing, (style, failing)


# ---------------------------------------------------------------------------------------------
# Messages a learner can act on
# ---------------------------------------------------------------------------------------------


def _learner_module(tmp_path: Path, module: str, source: str) -> dict[str, Any]:
    """Learner code in a file named like the step's module (the error's location names the step)."""
    path = tmp_path / f"{module}.py"
    path.write_text(source, encoding="utf-8")
    namespace: dict[str, Any] = {}
    exec(compile(source, str(path), "exec"), namespace)  # noqa: S102 - the test's own mutant
    return namespace


def test_a_shape_error_without_weight_matrices_does_not_mention_them(tmp_path: Path) -> None:
    context = _learner_module(tmp_path, "context", "def context_vectors(w, v):\n    return w @ v.mT\n")
    failing = _failing_public("context", **context)
    assert any("shapes cannot be multiplied" in message for message in failing.values()), failing
    assert not any("weight matrix" in message for message in failing.values())
    cross = _learner_module(tmp_path, "cross_attention", "from autograder.reference import CrossAttention as C\n"
                            "class CrossAttention(C):\n    def forward(self, x_1, x_2):\n"
                            "        return x_1 @ self.W_query.mT\n")
    weighted = _failing_public("cross_attention", CrossAttention=cross["CrossAttention"])
    assert any("each weight matrix is (d_in, d_out)" in message for message in weighted.values()), weighted


def test_heads_in_a_list_name_module_list() -> None:
    hidden = run_one("multi_head", reference_with(MultiHeadAttentionWrapper=ListHeads), "wrapper_heads", 3).message
    public = _failing_public("multi_head", MultiHeadAttentionWrapper=ListHeads)["wrapper_heads"]
    for message in (hidden, public):
        assert "but it is a list" in message and "nn.ModuleList" in message, message


def test_token_output_on_integer_lists_gets_a_dtype_hint() -> None:
    mutant = next(mistake for mistake in MISTAKES if mistake.label == "int lists")
    public = _failing_public("causal_attention", **mutant.overrides)["token_output_example"]
    assert m.TOKEN_DTYPE in public


def test_an_unnamed_wrong_result_shows_a_few_values() -> None:
    def off_by_a_little(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        return weights @ values + 0.5

    failing = _failing_public("context", context_vectors=off_by_a_little)
    assert failing and all("expected:" in message or "a few of the entries" in message for message in
                           failing.values()), failing
    big = torch.zeros(10, 20)
    message = _failure(lambda: expect_close(big + 1, big, "a (10, 20) result", reveal=True))
    assert "a few of the entries that differ" in message and "expected 0, got 1" in message


def _solution_lines() -> set[str]:
    lines: set[str] = set()
    for path in (REPO_ROOT / "solutions" / "attention").glob("*.py"):
        inside = False
        for line in path.read_text(encoding="utf-8").splitlines():
            if "BEGIN SOLUTION" in line:
                inside = True
            elif "END SOLUTION" in line:
                inside = False
            elif inside and len(line.strip()) > 25 and not line.strip().startswith(("#", "raise", "return")):
                lines.add(line.strip())
    return lines


def test_no_message_prints_a_line_of_the_solution() -> None:
    solution = _solution_lines()

    class NoBuffer(ref.CausalSelfAttention):
        def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
            super().__init__(d_in, d_out_kq, d_out_v, context_length)
            del self.mask
            self.mask = ref.causal_mask(context_length)

    cases = [*MISTAKES[::3], Mistake("causal_attention", "no buffer", {"CausalSelfAttention": NoBuffer},
                                     "parameters_and_mask", "register")]
    for mistake in cases:
        messages = [o.message for o in public_outcomes(mistake.step, reference_with(**mistake.overrides)).values()]
        messages.append(run_one(mistake.step, reference_with(**mistake.overrides), mistake.check, 3).message)
        for message in messages:
            leaked = [line for line in solution if line in message]
            assert not leaked, (mistake.label, leaked)
    assert "register_buffer('mask'" not in run_one("causal_attention", reference_with(CausalSelfAttention=NoBuffer),
                                                   "parameters_and_mask", 3).message



@pytest.mark.parametrize("step", [step.id for step in STEPS])
def test_correct_code_in_other_styles_passes_every_public_check(step: str) -> None:
    """The hidden checks' correct styles (einsum, loops, float64 inside, manual softmax) pass the public checks too."""
    failing = _failing_public(step, **STYLES[step])
    assert failing == {}, failing

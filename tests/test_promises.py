"""Every promise in a stub's docstring is checked by a public and a hidden check.

The rule (one for every step): a docstring in ``solutions/attention/`` promises an exception
("raises ``ValueError``") only where a public check (``selfcheck.public``) and a hidden check
(``autograder/hidden``) both test it. The same holds for the promise that scores may be "of any
magnitude" (step 5: a softmax that subtracts the row maximum; steps 11-13: mask with -inf or finfo.min too).
``PROMISES`` maps each promise to those two checks and to a mistaken implementation that breaks
the promise; the tests below fail

- when a docstring promises an exception that has no row here (a promise without checks),
- when a row names a check that does not exist,
- when either check lets the broken promise pass.
"""

from __future__ import annotations

import ast
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import torch
from mistake_cases import overflowing_softmax
from sweep_styles import fill_variants, naive_softmax_variants

from autograder import reference as ref
from autograder.hidden import load_hidden_checks
from selfcheck import LocalSubject, run_check
from selfcheck.magnitude import FINITE_FILL, UNSTABLE_SOFTMAX
from selfcheck.mistakes import SOFTMAX_OVERFLOW
from selfcheck.public import PUBLIC

REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS = REPO_ROOT / "solutions" / "attention"
HIDDEN = load_hidden_checks()
PROMISE = re.compile(r"``(\w+Error)``|(of any magnitude)")
NEG_INF = float("-inf")


@dataclass(frozen=True)
class Promise:
    module: str
    name: str  # qualified name of the documented function, class or method
    exception: str  # the exception promised, or "of any magnitude"
    public: str  # public check of the step
    hidden: str  # hidden check of the step
    broken: dict[str, Any] = field(hash=False)  # API overrides that break the promise
    step: str = ""
    says: str = ""  # what a failure message says when the promise is broken (default: the exception's name)

    @property
    def fragment(self) -> str:
        return self.says or self.exception

    @property
    def step_id(self) -> str:
        return self.step or self.module


def _lenient(function: Callable[[int], Any]) -> Callable[[Any], Any]:
    """An integer-argument function that accepts bools, floats and strings instead of raising."""
    return lambda value: function(max(int(value), 0))


def _unchecked_mask_scores(scores: torch.Tensor) -> torch.Tensor:
    t_q, t_k = scores.shape[-2:]
    return scores.masked_fill(torch.ones(t_q, t_k, dtype=torch.bool).triu(1), NEG_INF)


def _unchecked_weights(scores: torch.Tensor, d_k: float) -> torch.Tensor:
    return torch.softmax(_unchecked_mask_scores(scores) / math.sqrt(d_k), dim=-1)


def _unchecked_token_output(weights_row: Any, values: Any) -> torch.Tensor:
    w, v = torch.as_tensor(weights_row, dtype=torch.float32), torch.as_tensor(values, dtype=torch.float32)
    return (w.unsqueeze(-2) @ v[..., : w.shape[-1], :]).squeeze(-2)  # too few rows: torch's own error


class _NoLengthCheck(ref.CausalSelfAttention):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value
        blocked = torch.ones(x.shape[-2], x.shape[-2], dtype=torch.bool).triu(1)
        return torch.softmax((q @ k.mT).masked_fill(blocked, NEG_INF) / math.sqrt(q.shape[-1]), -1) @ v


def _decode_without_limit(attn: torch.nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
    q, k, v = x_t @ attn.W_query, x_t @ attn.W_key, x_t @ attn.W_value
    cache.append(k, v)
    weights = torch.softmax(q.unsqueeze(-2) @ cache.keys.mT / math.sqrt(q.shape[-1]), -1)
    return (weights @ cache.values).squeeze(-2)


PROMISES = [
    Promise("tokens", "encode", "KeyError", "unknown_word_raises", "encode_unknown_word",
            {"encode": lambda text, vocab: torch.tensor([vocab.get(w, 0) for w in text.split()], dtype=torch.int64)}),
    Promise("causal_pairs", "_as_length", "ValueError", "bad_arguments_raise", "invalid_arguments",
            {"keys_attended": _lenient(ref.keys_attended)}),
    Promise("causal_pairs", "causal_pairs", "ValueError", "bad_arguments_raise", "invalid_arguments",
            {"causal_pairs": _lenient(ref.causal_pairs)}),
    Promise("causal_pairs", "count_causal_pairs", "ValueError", "bad_arguments_raise", "invalid_arguments",
            {"count_causal_pairs": _lenient(ref.count_causal_pairs)}),
    Promise("causal_pairs", "keys_attended", "ValueError", "bad_arguments_raise", "invalid_arguments",
            {"keys_attended": _lenient(ref.keys_attended)}),
    Promise("causal_mask", "mask_scores", "ValueError", "minus_inf_above_diagonal", "non_square_rejected",
            {"mask_scores": _unchecked_mask_scores}),
    Promise("causal_mask", "causal_attention_weights", "ValueError", "masking_before_equals_after",
            "non_square_rejected", {"causal_attention_weights": _unchecked_weights}),
    Promise("causal_attention", "token_output", "ValueError", "token_output_ignores_later_rows", "invalid_inputs",
            {"token_output": lambda w, v: _unchecked_token_output(w, v)}),
    Promise("causal_attention", "CausalSelfAttention.forward", "ValueError", "batch_and_too_long", "invalid_inputs",
            {"CausalSelfAttention": _NoLengthCheck}),
    Promise("kv_cache", "decode_step", "ValueError", "full_cache_raises", "full_cache",
            {"decode_step": _decode_without_limit}),
    Promise("causal_mask", "causal_attention_weights", "of any magnitude", "masking_before_equals_after",
            "causal_weights_values", fill_variants(-1e4)["causal_mask"], says=FINITE_FILL),
    Promise("causal_attention", "CausalSelfAttention.forward", "of any magnitude", "attends_only_to_the_past",
            "future_invariance", naive_softmax_variants()["causal_attention"], says=UNSTABLE_SOFTMAX),
    Promise("weights", "attention_weights", "of any magnitude", "any_magnitude", "batched",
            {"attention_weights": overflowing_softmax}, says=SOFTMAX_OVERFLOW),
    Promise("kv_cache", "decode_step", "of any magnitude", "uses_the_cache", "uses_cached_keys",
            fill_variants(-1e5)["kv_cache"], says=FINITE_FILL),
]


def _documented_promises() -> set[tuple[str, str, str]]:
    """``(module, qualified name, exception)`` for every docstring in solutions/attention that names an exception."""
    found: set[tuple[str, str, str]] = set()
    for path in sorted(SOLUTIONS.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))

        def visit(node: ast.AST, prefix: str, module: str = path.stem) -> None:
            for child in ast.iter_child_nodes(node):
                if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    name = f"{prefix}{child.name}"
                    for groups in PROMISE.findall(ast.get_docstring(child) or ""):
                        found.update((module, name, promised) for promised in groups if promised)
                    visit(child, f"{name}.")

        visit(tree, "")
    return found


def test_every_docstring_promise_has_a_row() -> None:
    table = {(p.module, p.name, p.exception) for p in PROMISES}
    documented = _documented_promises()
    assert documented - table == set(), "a docstring promises an exception that no public and hidden check test"
    assert table - documented == set(), "a row for a promise no docstring makes any more"


@pytest.mark.parametrize("promise", PROMISES, ids=lambda p: f"{p.module}.{p.name}")
def test_the_promise_has_a_public_and_a_hidden_check(promise: Promise) -> None:
    assert promise.public in {c.name for c in PUBLIC.for_step(promise.step_id)}, promise.public
    assert promise.hidden in {c.name for c in HIDDEN.for_step(promise.step_id)}, promise.hidden


@pytest.mark.parametrize("promise", PROMISES, ids=lambda p: f"{p.module}.{p.name}")
def test_both_checks_fail_when_the_promise_is_broken(promise: Promise) -> None:
    namespace = ref.namespace()
    namespace.update(promise.broken)
    for registry, name in ((PUBLIC, promise.public), (HIDDEN, promise.hidden)):
        check = next(c for c in registry.for_step(promise.step_id) if c.name == name)
        outcome = run_check(check, LocalSubject(promise.step_id, namespace, f"attention/{promise.module}.py"), 4)
        assert outcome.status == "failed", (name, outcome)
        assert promise.fragment in outcome.message, (name, outcome.message)
    correct = ref.namespace()
    for registry, name in ((PUBLIC, promise.public), (HIDDEN, promise.hidden)):
        check = next(c for c in registry.for_step(promise.step_id) if c.name == name)
        assert run_check(check, LocalSubject(promise.step_id, correct, "attention"), 4).passed, name

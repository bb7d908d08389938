"""Hidden checks of step 5, ``weights``: ``attention_weights``."""

from __future__ import annotations

import math
from typing import Any

import torch

from selfcheck import CheckFailed, Subject, expect_inputs_unchanged, expect_tensor

from . import HIDDEN
from ._common import (
    distinct,
    expect_close_named,
    expect_computed,
    expect_weights_at_magnitude,
    f64,
    large_weight_scores,
    randint,
    randn,
    weight_mistakes,
)

STEP = "weights"


def _case(rng: torch.Generator, batch: tuple[int, ...]) -> tuple[torch.Tensor, int]:
    """Scores (T_q != T_k) whose scaled values have a spread near 1.5, and d_k."""
    t_q, t_k, d_k = distinct(rng, 3, 3, 16)
    return randn(rng, *batch, t_q, t_k, scale=1.5 * math.sqrt(d_k)), d_k


def _expect_weights(subject: Subject, scores: torch.Tensor, d_k: int, what: str, *,
                    dtype: torch.dtype | str = "floating", result: Any = None, aspect: bool = False) -> None:
    """``attention_weights`` on a copy of ``scores`` (or its ``result`` already computed) against the oracle.

    ``aspect``: the check is about another property, so a catalogued mistake's weights pass (`expect_computed`).
    """
    (s,) = f64(scores)
    expected = torch.softmax(s / math.sqrt(d_k), dim=-1)
    result = subject.attention_weights(scores.clone(), d_k) if result is None else result
    mistakes = weight_mistakes(s, d_k, causal=False)
    if aspect:
        expect_computed(result, expected, what, inputs=(scores,), mistakes=mistakes, dtype=dtype)
    else:
        expect_close_named(result, expected, what, mistakes=mistakes, dtype=dtype)


@HIDDEN.check(STEP, "softmax of scores / sqrt(d_k) over the last dimension (torch.softmax as reference)", weight=3)
def scaled_softmax(subject: Subject, rng: torch.Generator) -> None:
    scores, d_k = _case(rng, ())
    _expect_weights(subject, scores, d_k, "attention_weights on hidden (T_q, T_k) scores")


@HIDDEN.check(STEP, "every row of weights is non-negative and sums to 1", weight=1.5)
def rows_sum_to_one(subject: Subject, rng: torch.Generator) -> None:
    scores, d_k = _case(rng, (randint(rng, 2, 4),))
    result = expect_tensor(subject.attention_weights(scores, d_k), "attention_weights", shape=tuple(scores.shape),
                           dtype="floating")
    if bool((result < 0).any()) or bool(result.isnan().any()):
        raise CheckFailed("attention_weights has negative or NaN entries; softmax gives values in [0, 1]")
    sums = result.double().sum(dim=-1)
    bad = int((~torch.isclose(sums, torch.ones_like(sums), atol=1e-5, rtol=0)).sum())
    if bad:
        columns = result.double().sum(dim=-2)
        hint = " (its columns do: softmax over the wrong dimension, use dim=-1)" if bool(
            torch.isclose(columns, torch.ones_like(columns), atol=1e-5, rtol=0).all()) else ""
        raise CheckFailed(f"{bad} of {sums.numel()} rows of attention_weights do not sum to 1 (tolerance 1e-5){hint}")
    _expect_weights(subject, scores, d_k, "attention_weights on hidden (B, T_q, T_k) scores", result=result,
                    aspect=True)


@HIDDEN.check(STEP, "leading batch dimensions: (..., T_q, T_k) scores, also of any magnitude (no overflow)",
              weight=1.5)
def batched(subject: Subject, rng: torch.Generator) -> None:
    scores, d_k = _case(rng, (randint(rng, 2, 4), randint(rng, 2, 3)))
    _expect_weights(subject, scores, d_k, "attention_weights on scores with two batch dimensions")
    t_q, t_k, d_k = distinct(rng, 3, 3, 16)  # then scores far above 100 and far below -1e5: exp overflows there
    large = large_weight_scores(rng, (randint(rng, 1, 3),), t_q, t_k, d_k)
    expect_weights_at_magnitude(subject.attention_weights(large.clone(), d_k), large, d_k,
                                "attention_weights on hidden scores of large magnitude")


@HIDDEN.check(STEP, "float32 scores give float32 weights", weight=0.5)
def float32_result(subject: Subject, rng: torch.Generator) -> None:
    scores, d_k = _case(rng, ())
    _expect_weights(subject, scores, d_k, "attention_weights on float32 scores", dtype=torch.float32, aspect=True)


@HIDDEN.check(STEP, "attention_weights does not modify the scores", weight=1)
def inputs_unchanged(subject: Subject, rng: torch.Generator) -> None:
    scores, d_k = _case(rng, (2,))
    result = subject.attention_weights(scores, d_k)
    expect_inputs_unchanged(subject, "attention_weights")
    _expect_weights(subject, scores, d_k, "attention_weights on hidden (B, T_q, T_k) scores", result=result,
                    aspect=True)

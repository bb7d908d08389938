"""Hidden checks of step 11, ``causal_mask``: masks, masking, causal weights and ``is_causal``."""

from __future__ import annotations

import math
from typing import Any

import torch

from autograder import reference as ref
from selfcheck import CheckFailed, LearnerError, Subject, expect_inputs_unchanged, expect_tensor

from . import HIDDEN
from ._common import (
    DIAGONAL_MASKED,
    INVERTED,
    NO_RENORM,
    ZERO_NOT_INF,
    distinct,
    expect_bool,
    expect_close_named,
    f64,
    large_causal_scores,
    large_scores_mistake,
    randint,
    randn,
    recognise,
    weight_mistakes,
    with_mistake,
)

STEP = "causal_mask"
NEG_INF = float("-inf")


def _scores(rng: torch.Generator, *batch: int) -> tuple[torch.Tensor, int]:
    """``(*batch, T, T)`` scores whose scaled values have a spread near 1.5, and d_k."""
    length, d_k = distinct(rng, 2, 3, 16)
    return randn(rng, *batch, length, length, scale=1.5 * math.sqrt(d_k)), d_k


def _causal_weights(rng: torch.Generator, *batch: int) -> torch.Tensor:
    scores, _ = _scores(rng, *batch)
    return torch.softmax(scores / 3, dim=-1)


def _expect_exact(actual: Any, expected: torch.Tensor, what: str, mistakes: dict[str, torch.Tensor]) -> None:
    """Exact values first (any dtype), then the dtype: a wrong dtype alone says so."""
    expect_tensor(actual, what, shape=tuple(expected.shape))
    values_equal = torch.equal(actual.double(), expected.double())
    if not values_equal:
        found = [name for name, made in mistakes.items()
                 if tuple(made.shape) == tuple(actual.shape) and torch.equal(actual.double(), made.double())]
        mistake = "; or ".join(found) if found else None
        raise CheckFailed(with_mistake(f"{what} does not have the right entries", mistake))
    expect_tensor(actual, what, dtype=expected.dtype)


@HIDDEN.check(STEP, "tril_mask(n): float32 ones on and below the diagonal; causal_mask(n): bool, True above the "
              "diagonal (blocked)", weight=2)
def masks(subject: Subject, rng: torch.Generator) -> None:
    for n in (randint(rng, 2, 64), 1):
        ones = torch.ones(n, n)
        _expect_exact(subject.tril_mask(n), ref.tril_mask(n), "tril_mask(n)", {
            "the diagonal is left out: a query attends to its own key (torch.tril(..., diagonal=0))":
                torch.tril(ones, diagonal=-1),
            "the polarity is inverted: ones above the diagonal instead of on and below": torch.triu(ones, diagonal=1),
            "ones on and above the diagonal: the mask keeps the past, so the ones go on and below":
                torch.triu(ones),
        })
        _expect_exact(subject.causal_mask(n), ref.causal_mask(n), "causal_mask(n)", {
            "the diagonal is blocked too: use torch.triu(..., diagonal=1)": torch.triu(ones).bool(),
            "the polarity is inverted: True must mark the blocked keys, those after the query":
                torch.tril(ones).bool(),
            "True below the diagonal: the blocked keys are those after the query (above the diagonal)":
                torch.tril(ones, diagonal=-1).bool(),
        })


@HIDDEN.check(STEP, "mask_and_renormalize: zero above the diagonal, then every row divided by its sum "
              "(batch of weight matrices)", weight=2)
def mask_and_renormalize_values(subject: Subject, rng: torch.Generator) -> None:
    weights = _causal_weights(rng, randint(rng, 2, 4))
    (w,) = f64(weights)
    lower = torch.tril(w)
    mistakes = {
        NO_RENORM: lower,
        DIAGONAL_MASKED: torch.tril(w, -1) / torch.tril(w, -1).sum(-1, keepdim=True),
        INVERTED: torch.triu(w) / torch.triu(w).sum(-1, keepdim=True),
        "the columns are renormalized instead of the rows (sum over dim=-1)": lower / lower.sum(-2, keepdim=True),
    }
    expect_close_named(subject.mask_and_renormalize(weights.clone()), ref.mask_and_renormalize(w),
                       "mask_and_renormalize on hidden (B, T, T) weights", mistakes=mistakes)


@HIDDEN.check(STEP, "mask_scores: -inf above the diagonal, every other entry unchanged (scores with two batch "
              "dimensions)", weight=2)
def mask_scores_values(subject: Subject, rng: torch.Generator) -> None:
    scores, _ = _scores(rng, randint(rng, 2, 3), randint(rng, 2, 4))
    (s,) = f64(scores)
    length = s.shape[-1]
    ones = torch.ones(length, length, dtype=torch.bool)
    mistakes = {
        ZERO_NOT_INF: s.masked_fill(torch.triu(ones, 1), 0.0),
        DIAGONAL_MASKED: s.masked_fill(torch.triu(ones), NEG_INF),
        INVERTED: s.masked_fill(torch.tril(ones, -1), NEG_INF),
        "+inf instead of -inf (softmax would put all the weight on the blocked keys)":
            s.masked_fill(torch.triu(ones, 1), float("inf")),
    }
    expect_close_named(subject.mask_scores(scores.clone()), ref.mask_scores(s),
                       "mask_scores on hidden (A, B, T, T) scores", mistakes=mistakes)


@HIDDEN.check(STEP, "causal_attention_weights: softmax of the masked scores / sqrt(d_k) "
              "(F.scaled_dot_product_attention with is_causal=True as reference)", weight=3)
def causal_weights_values(subject: Subject, rng: torch.Generator) -> None:
    for batch, what in (((), "(T, T)"), ((randint(rng, 2, 4),), "(B, T, T)")):
        scores, d_k = _scores(rng, *batch)
        (s,) = f64(scores)
        expect_close_named(subject.causal_attention_weights(scores.clone(), d_k), ref.causal_attention_weights(s, d_k),
                           f"causal_attention_weights on hidden {what} scores",
                           mistakes=weight_mistakes(s, d_k, causal=True))
    length, d_k = distinct(rng, 2, 3, 16)  # masking must survive real score magnitudes (a -1e4 fill leaks here)
    scores = large_causal_scores(rng, (randint(rng, 2, 4),), length, d_k)
    result = subject.causal_attention_weights(scores.clone(), d_k)
    try:
        expect_close_named(result, ref.causal_attention_weights(scores.double(), d_k),
                           "causal_attention_weights on hidden (B, T, T) scores of large magnitude")
    except CheckFailed as failure:
        raise CheckFailed(with_mistake(str(failure), large_scores_mistake(result))) from None


@HIDDEN.check(STEP, "causal_attention_weights: exactly 0 above the diagonal, rows sum to 1, and masking with -inf "
              "equals renormalizing after masking", weight=1.5)
def causal_weights_properties(subject: Subject, rng: torch.Generator) -> None:
    scores, d_k = _scores(rng, randint(rng, 2, 4))
    result = expect_tensor(subject.causal_attention_weights(scores, d_k), "causal_attention_weights",
                           shape=tuple(scores.shape), dtype="floating")
    (s,) = f64(scores)
    mistakes = weight_mistakes(s, d_k, causal=True)
    above = torch.triu(torch.ones(result.shape[-2:], dtype=torch.bool), diagonal=1)
    if bool(result.isnan().any()):
        raise CheckFailed(with_mistake("causal_attention_weights has NaN entries", recognise(result, mistakes)))
    if not bool((result[..., above] == 0).all()):
        raise CheckFailed(with_mistake("causal_attention_weights is not exactly 0 above the diagonal: a query must "
                                       "give no weight at all to later keys", recognise(result, mistakes)))
    sums = result.double().sum(-1)
    if not bool(torch.isclose(sums, torch.ones_like(sums), atol=1e-5, rtol=0).all()):
        raise CheckFailed(with_mistake("the rows of causal_attention_weights do not sum to 1 (tolerance 1e-5)",
                                       recognise(result, mistakes)))
    renormalized = ref.mask_and_renormalize(torch.softmax(s / math.sqrt(d_k), dim=-1))
    expect_close_named(result, renormalized, "causal_attention_weights compared with softmax, then masking and "
                       "renormalizing", mistakes=mistakes)


def _is_causal_cases(rng: torch.Generator) -> list[tuple[torch.Tensor, bool, str, str]]:
    """(matrix, expected, description, what a wrong answer suggests)."""
    length = randint(rng, 3, 12)
    lower = torch.tril(randn(rng, length, length)) + torch.eye(length)  # nonzero diagonal
    nonzero_above = lower.clone()
    row = randint(rng, 0, length - 2)
    nonzero_above[row, randint(rng, row + 1, length - 1)] = 1e-3
    batch = torch.tril(randn(rng, 3, length, length))
    batch[-1, 0, length - 1] = 0.5
    return [
        (lower, True, "a lower-triangular matrix with a nonzero diagonal",
         "the diagonal is not above the diagonal: only entries with j > i must be 0 or -inf"),
        (ref.mask_scores(randn(rng, length, length)), True, "scores masked with -inf above the diagonal",
         "-inf above the diagonal counts as masked, just like 0"),
        (ref.causal_attention_weights(randn(rng, 2, 3, length, length), 4), True,
         "a (2, 3, n, n) batch of causal weights", "every matrix of a batch counts"),
        (torch.zeros(1, 1), True, "a 1 x 1 matrix", "a 1 x 1 matrix has nothing above its diagonal"),
        (lower.masked_fill(torch.tril(torch.ones(length, length, dtype=torch.bool), -1), NEG_INF), True,
         "a matrix with -inf below the diagonal", "only the entries above the diagonal matter"),
        (nonzero_above, False, "a matrix with one small nonzero entry above the diagonal",
         "any entry above the diagonal other than 0 or -inf makes it False (compare exactly, not with a tolerance)"),
        (batch, False, "a batch whose last matrix has a nonzero entry above the diagonal",
         "check every matrix of the batch, not only the first"),
        (lower.T.contiguous(), False, "an upper-triangular matrix",
         "the polarity is inverted: the entries above the diagonal (j > i) must be masked"),
        (lower.masked_fill(torch.triu(torch.ones(length, length, dtype=torch.bool), 1), float("inf")), False,
         "a matrix with +inf above the diagonal", "only -inf counts as masked, +inf does not"),
        (lower.masked_fill(torch.triu(torch.ones(length, length, dtype=torch.bool), 1), float("nan")), False,
         "a matrix with NaN above the diagonal", "NaN is neither 0 nor -inf, so it makes the matrix not causal"),
    ]


@HIDDEN.check(STEP, "is_causal: True iff every entry above the diagonal is 0 or -inf (NaN and +inf are not), "
              "for every matrix of a batch", weight=1.5)
def is_causal_cases(subject: Subject, rng: torch.Generator) -> None:
    for matrix, expected, description, hint in _is_causal_cases(rng):
        result = expect_bool(subject.is_causal(matrix), f"is_causal on {description}")
        if result != expected:
            raise CheckFailed(f"is_causal returned {result} for {description}; expected {expected}: {hint}")


@HIDDEN.check(STEP, "mask_scores and causal_attention_weights raise ValueError for non-square scores", weight=0.5)
def non_square_rejected(subject: Subject, rng: torch.Generator) -> None:
    t_q, t_k = distinct(rng, 2, 3, 12)
    scores = randn(rng, 2, t_q, t_k)
    for name, args in (("mask_scores", (scores,)), ("causal_attention_weights", (scores, 4))):
        try:
            result = getattr(subject, name)(*args)
        except LearnerError as error:
            if isinstance(error, ValueError):
                continue
            raise CheckFailed(f"{name} on non-square (B, T_q, T_k) scores should raise ValueError, "
                              f"but it raised {error.type_name}") from None
        raise CheckFailed(f"{name} on non-square (B, T_q, T_k) scores should raise ValueError, "
                          f"but it returned a {type(result).__name__}")


@HIDDEN.check(STEP, "mask_and_renormalize, mask_scores, causal_attention_weights and is_causal do not modify "
              "their inputs", weight=1)
def inputs_unchanged(subject: Subject, rng: torch.Generator) -> None:
    scores, d_k = _scores(rng, 2)
    for name, args in (("mask_and_renormalize", (torch.softmax(scores, -1),)), ("mask_scores", (scores.clone(),)),
                       ("causal_attention_weights", (scores.clone(), d_k)), ("is_causal", (scores.clone(),))):
        getattr(subject, name)(*args)
        expect_inputs_unchanged(subject, name)

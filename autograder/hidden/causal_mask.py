"""Hidden checks of step 11, ``causal_mask``: masks, masking, causal weights and ``is_causal``."""

from __future__ import annotations

import math
from typing import Any

import torch

from autograder import reference as ref
from selfcheck import CheckFailed, LearnerError, Subject, expect_inputs_unchanged, expect_tensor
from selfcheck import mistakes as m
from selfcheck.compare import expect_exact

from . import HIDDEN
from ._common import (
    distinct,
    expect_bool,
    expect_close_named,
    expect_computed,
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
    expect_exact(actual, expected, what, mistakes)


@HIDDEN.check(STEP, "tril_mask(n): float32 ones on and below the diagonal; causal_mask(n): bool, True above the "
              "diagonal (blocked)", weight=2)
def masks(subject: Subject, rng: torch.Generator) -> None:
    for n in (randint(rng, 2, 64), 1):
        _expect_exact(subject.tril_mask(n), ref.tril_mask(n), "tril_mask(n)", m.tril_mistakes(n))
        _expect_exact(subject.causal_mask(n), ref.causal_mask(n), "causal_mask(n)", m.bool_mask_mistakes(n))


@HIDDEN.check(STEP, "mask_and_renormalize: zero above the diagonal, then every row divided by its sum "
              "(batch of weight matrices)", weight=2)
def mask_and_renormalize_values(subject: Subject, rng: torch.Generator) -> None:
    weights = _causal_weights(rng, randint(rng, 2, 4))
    (w,) = f64(weights)
    mistakes = m.renormalize_mistakes(w)
    expect_close_named(subject.mask_and_renormalize(weights.clone()), ref.mask_and_renormalize(w),
                       "mask_and_renormalize on hidden (B, T, T) weights", mistakes=mistakes)


@HIDDEN.check(STEP, "mask_scores: -inf above the diagonal, every other entry unchanged (scores with two batch "
              "dimensions)", weight=2)
def mask_scores_values(subject: Subject, rng: torch.Generator) -> None:
    scores, _ = _scores(rng, randint(rng, 2, 3), randint(rng, 2, 4))
    (s,) = f64(scores)
    mistakes = m.mask_score_mistakes(scores)  # float32: a finfo.min fill is float32's
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


def _aspect_mistakes(name: str, argument: torch.Tensor, d_k: int) -> dict[str, torch.Tensor]:
    """The catalogue's mistakes of ``name`` on ``argument``: they cost their own check, not `inputs_unchanged`."""
    (a,) = f64(argument)
    if name == "mask_and_renormalize":
        return m.renormalize_mistakes(a)
    if name == "mask_scores":
        return m.mask_score_mistakes(a)
    return weight_mistakes(a, d_k, causal=True)


def _is_causal_cases(rng: torch.Generator) -> list[tuple[torch.Tensor, bool, str, str]]:
    """(matrix, expected, description, what a wrong answer suggests): the catalogue's cases on hidden draws."""
    return m.is_causal_cases(rng, randint(rng, 3, 12))


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
    (s,) = f64(scores)
    causal, weights = ref.causal_attention_weights(s, d_k).float(), torch.softmax(scores, -1)
    for name, args, expected in (
        ("mask_and_renormalize", (weights,), ref.mask_and_renormalize(weights.double())),
        ("mask_scores", (scores.clone(),), ref.mask_scores(s)),
        ("causal_attention_weights", (scores.clone(), d_k), ref.causal_attention_weights(s, d_k)),
        ("is_causal", (scores.clone(),), False),
        ("is_causal", (causal,), True),
    ):
        result = getattr(subject, name)(*args)
        expect_inputs_unchanged(subject, name)
        what = f"{name} on hidden (B, T, T) {'weights' if name != 'mask_scores' else 'scores'}"
        if isinstance(expected, bool):
            if expect_bool(result, what) != expected:
                raise CheckFailed(f"{what}: returned {not expected}, expected {expected}")
        else:
            expect_computed(result, expected, what, inputs=args[:1], mistakes=_aspect_mistakes(name, args[0], d_k))

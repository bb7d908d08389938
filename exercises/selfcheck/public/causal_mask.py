"""Public checks of step 11, ``causal_mask`` (attention/causal_mask.py): Causal masks."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import magnitude as large
from .. import mistakes as m
from ..compare import (
    expect_bool,
    expect_close,
    expect_exact,
    expect_inputs_unchanged,
    expect_raises,
)
from ..errors import CheckFailed
from ..registry import CheckFunction
from ..subject import Subject
from .common import (
    public_check,
)

STEP = "causal_mask"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


_SQUARE = torch.tensor([[1.0, 2.0, 4.0], [3.0, 0.0, -1.0], [0.5, 1.5, 2.0]])  # (3, 3) scores
_LOWER_3 = torch.tril(torch.ones(3, 3))
_BATCH = torch.tensor([[[1.0, 2.0, 4.0, -1.0], [3.0, 0.0, -1.0, 2.0], [0.5, 1.5, 2.0, 1.0], [-2.0, 1.0, 0.0, 3.0]],
                       [[0.0, -1.0, 2.0, 1.0], [2.5, 1.0, 0.5, -0.5], [1.0, 3.0, -2.0, 0.0], [0.5, 0.5, 1.5, -1.0]]])
_D_K = 4  # sqrt(4) = 2, so dividing by d_k (4) and by sqrt(d_k) differ
# Scores of large magnitude (scaled scores between -2e5 and -2.5e6): a batch of 5 (5, 5) matrices, fixed.
_LARGE = large.large_causal_scores(torch.Generator().manual_seed(11), (5,), 5, _D_K)


def _exact(actual: object, expected: torch.Tensor, what: str, mistakes: dict[str, torch.Tensor]) -> None:
    try:
        expect_exact(actual, expected, what, mistakes)
    except CheckFailed as failure:
        shown = actual.tolist() if isinstance(actual, torch.Tensor) else actual
        raise CheckFailed(f"{failure}\n  expected: {expected.tolist()}\n  got:      {shown}") from None


@check("tril_mask(4) is float32 ones on and below the diagonal; causal_mask(4) is bool, True above it")
def tril_and_bool_masks(subject: Subject, rng: torch.Generator) -> None:
    ones = torch.ones(4, 4)
    _exact(subject.tril_mask(4), torch.tril(ones), "tril_mask(4)", m.tril_mistakes(4))
    _exact(subject.causal_mask(4), torch.triu(ones, 1).bool(), "causal_mask(4)", m.bool_mask_mistakes(4))


@check("mask_scores returns a new tensor with -inf above the diagonal (batches too); non-square raises ValueError")
def minus_inf_above_diagonal(subject: Subject, rng: torch.Generator) -> None:
    got = subject.mask_scores(_BATCH.clone())
    expect_inputs_unchanged(subject, "mask_scores")
    expected = _BATCH.masked_fill(torch.ones(4, 4, dtype=torch.bool).triu(1), float("-inf"))
    expect_close(got, expected, "mask_scores(scores (2, 4, 4))", reveal=True, mistakes=m.mask_score_mistakes(_BATCH))
    expect_raises(ValueError, lambda: subject.mask_scores(torch.zeros(2, 3)), "mask_scores(scores (2, 3))")


@check("mask_and_renormalize zeroes the weights above the diagonal and makes each row sum to 1")
def renormalized_rows(subject: Subject, rng: torch.Generator) -> None:
    weights = torch.softmax(_BATCH, dim=-1)
    got = subject.mask_and_renormalize(weights.clone())
    expect_inputs_unchanged(subject, "mask_and_renormalize")
    masked = weights * torch.tril(torch.ones(4, 4))
    expect_close(got, masked / masked.sum(-1, keepdim=True), "mask_and_renormalize(weights (2, 4, 4))", reveal=True,
                 mistakes=m.renormalize_mistakes(weights))


@check("causal_attention_weights: softmax of the -inf-masked scores / sqrt(d_k), the same as masking after the "
       "softmax and renormalizing, also on scores of large magnitude (below -1e5); non-square raises ValueError")
def masking_before_equals_after(subject: Subject, rng: torch.Generator) -> None:
    blocked = torch.ones(4, 4, dtype=torch.bool).triu(1)
    expected = torch.softmax((_BATCH / 2.0).masked_fill(blocked, float("-inf")), dim=-1)
    before = subject.causal_attention_weights(_BATCH.clone(), _D_K)
    expect_inputs_unchanged(subject, "causal_attention_weights")
    expect_close(before, expected, "causal_attention_weights(scores (2, 4, 4), d_k=4)", reveal=True,
                 mistakes=m.weight_mistakes(_BATCH, _D_K, causal=True))
    after = subject.mask_and_renormalize(torch.softmax(_BATCH / 2.0, dim=-1))
    expect_close(after, expected, "mask_and_renormalize(softmax(scores / sqrt(4))) for scores (2, 4, 4)", reveal=True)
    expect_raises(ValueError, lambda: subject.causal_attention_weights(torch.zeros(3, 2), _D_K),
                  "causal_attention_weights(scores (3, 2), d_k=4)")
    _survives_large_scores(subject)


def _survives_large_scores(subject: Subject) -> None:
    """causal_attention_weights on scores far below -1e5 (after passing on ordinary scores): a finite fill
    such as -1e4 leaks there, a softmax that subtracts no row maximum gives NaN."""
    got = subject.causal_attention_weights(_LARGE.clone(), _D_K)
    blocked = torch.ones(5, 5, dtype=torch.bool).triu(1)
    expected = torch.softmax((_LARGE.double() / 2.0).masked_fill(blocked, float("-inf")), dim=-1)
    try:
        expect_close(got, expected, "causal_attention_weights(scores (5, 5, 5) far below -1e5, d_k=4)")
    except CheckFailed as failure:
        raise CheckFailed(m.with_mistake(str(failure), large.large_scores_mistake(got))) from None


@check("is_causal returns a bool: True when everything above the diagonal is 0 or -inf, for every matrix of a batch")
def is_causal_answers(subject: Subject, rng: torch.Generator) -> None:
    cases = [(_LOWER_3.clone(), True, "a lower-triangular (3, 3) matrix",
              "the diagonal is not above the diagonal: only entries with j > i must be 0 or -inf")]
    cases += m.is_causal_cases(torch.Generator().manual_seed(0), 4)
    for matrix, expected, description, hint in cases:
        got = expect_bool(subject.is_causal(matrix.clone()), f"is_causal on {description}")
        expect_inputs_unchanged(subject, "is_causal")
        if got is not expected:
            raise CheckFailed(f"is_causal returned {got} for {description}; expected {expected}"
                              + (f": {hint}" if hint else ""))

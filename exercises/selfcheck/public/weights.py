"""Public checks of step 5, ``weights`` (attention/weights.py): Scaled softmax: attention weights."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import magnitude as large
from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_inputs_unchanged,
    expect_tensor,
)
from ..registry import CheckFunction
from ..subject import Subject
from .common import (
    expect_rows_sum_to_one,
    public_check,
)

STEP = "weights"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


_SCORES = torch.tensor([[1.0, 2.0, 4.0], [3.0, 0.0, -1.0]])  # (2, 3)


def _softmax_mistakes(scores: torch.Tensor, d_k: int) -> dict[str, torch.Tensor]:
    return m.weight_mistakes(scores, d_k, causal=False)


@check("attention_weights(scores (2, 3), d_k=4) has shape (2, 3) and every row sums to 1")
def rows_sum_to_one(subject: Subject, rng: torch.Generator) -> None:
    got = subject.attention_weights(_SCORES.clone(), 4)
    expect_inputs_unchanged(subject, "attention_weights")
    expect_tensor(got, "attention_weights(scores (2, 3), d_k=4)", shape=(2, 3), dtype="floating")
    expect_rows_sum_to_one(got, "attention_weights(scores (2, 3), d_k=4)")


@check("the weights are softmax(scores / sqrt(d_k)) over the last dimension")
def scaled_softmax(subject: Subject, rng: torch.Generator) -> None:
    got = subject.attention_weights(_SCORES.clone(), 4)
    expect_close(got, torch.softmax(_SCORES / 2.0, dim=-1), "attention_weights(scores (2, 3), d_k=4)",
                 mistakes=_softmax_mistakes(_SCORES, 4), reveal=True)


@check("one score row (3,) gives one weight row (3,); a batch (2, 2, 3) keeps its shape")
def vector_and_batch(subject: Subject, rng: torch.Generator) -> None:
    row = _SCORES[0].clone()
    expect_close(subject.attention_weights(row, 4), torch.softmax(row / 2.0, dim=-1),
                 "attention_weights(scores (3,), d_k=4)", reveal=True, mistakes=_softmax_mistakes(row, 4))
    batch = torch.stack([_SCORES, _SCORES.flip(-1)])
    expect_close(subject.attention_weights(batch, 4), torch.softmax(batch / 2.0, dim=-1),
                 "attention_weights(scores (2, 2, 3), d_k=4)", reveal=True, mistakes=_softmax_mistakes(batch, 4))


_LARGE = large.large_weight_scores(torch.Generator().manual_seed(5), (3,), 4, 5, 4)  # (3, 4, 5), public seed


@check("scores of any magnitude: rows far above 100 and far below -1e5 still give weights (no NaN)")
def any_magnitude(subject: Subject, rng: torch.Generator) -> None:
    got = subject.attention_weights(_SCORES.clone(), 4)
    expect_close(got, torch.softmax(_SCORES / 2.0, dim=-1), "attention_weights(scores (2, 3), d_k=4)",
                 mistakes=_softmax_mistakes(_SCORES, 4))
    large.expect_weights_at_magnitude(subject.attention_weights(_LARGE.clone(), 4), _LARGE, 4,
                                      "attention_weights(scores (3, 4, 5) of magnitude 1000 to 1e6, d_k=4)")

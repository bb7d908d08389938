"""Public checks of step 4, ``scores`` (attention/scores.py): Unnormalized attention scores."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_inputs_unchanged,
)
from ..registry import CheckFunction
from ..subject import Subject
from .common import (
    copies,
    public_check,
)

STEP = "scores"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


_QUERIES = torch.tensor([[1.0, 2.0], [0.0, -1.0]])  # (T_q=2, d_k=2)
_KEYS = torch.tensor([[1.0, 0.0], [2.0, 1.0], [-1.0, 3.0]])  # (T_k=3, d_k=2)


@check("one query vector (2,) against keys (3, 2) gives 3 scores, one per key")
def one_query_vector(subject: Subject, rng: torch.Generator) -> None:
    query = _QUERIES[0].clone()
    got = subject.attention_scores(query, _KEYS.clone())
    expect_inputs_unchanged(subject, "attention_scores")
    expect_close(got, _KEYS @ query, "attention_scores(query (2,), keys (3, 2))", reveal=True,
                 mistakes=m.score_mistakes(query, _KEYS))


@check("queries (2, 2) against keys (3, 2) give a (2, 3) matrix: row i holds query i's scores")
def query_matrix(subject: Subject, rng: torch.Generator) -> None:
    got = subject.attention_scores(*copies(_QUERIES, _KEYS))
    expect_inputs_unchanged(subject, "attention_scores")
    expect_close(got, _QUERIES @ _KEYS.T, "attention_scores(queries (2, 2), keys (3, 2))", reveal=True,
                 mistakes=m.score_mistakes(_QUERIES, _KEYS))


@check("leading batch dimensions are kept: (2, 2, 2) against (2, 3, 2) gives (2, 2, 3)")
def batched_scores(subject: Subject, rng: torch.Generator) -> None:
    queries, keys = torch.stack([_QUERIES, 2 * _QUERIES]), torch.stack([_KEYS, _KEYS.flip(0)])
    got = subject.attention_scores(queries, keys)
    expect_close(got, queries @ keys.transpose(-2, -1), "attention_scores(queries (2, 2, 2), keys (2, 3, 2))",
                 reveal=True, mistakes=m.score_mistakes(queries, keys))

"""Hidden checks of step 6, ``context``: ``context_vectors``."""

from __future__ import annotations

import torch

from autograder import reference as ref
from selfcheck import Subject, expect_inputs_unchanged, expect_tensor

from . import HIDDEN
from ._common import WEIGHTS_TRANSPOSED, distinct, expect_close_named, expect_computed, f64, randint, randn

STEP = "context"


def _weights(rng: torch.Generator, *shape: int) -> torch.Tensor:
    """Rows of softmax weights (each sums to 1)."""
    return torch.softmax(randn(rng, *shape, scale=1.5), dim=-1)


def _expect_context(subject: Subject, weights: torch.Tensor, values: torch.Tensor, what: str) -> None:
    w, v = f64(weights, values)
    expected = ref.context_vectors(w, v)
    mistakes = {}
    if w.dim() >= 2 and w.shape[-1] == w.shape[-2]:
        mistakes[WEIGHTS_TRANSPOSED] = w.mT @ v
    result = subject.context_vectors(weights.clone(), values.clone())
    expect_close_named(result, expected, what, mistakes=mistakes)


@HIDDEN.check(STEP, "one weight row (T,) gives one context vector (d_v,)", weight=1.5)
def one_row(subject: Subject, rng: torch.Generator) -> None:
    length, d_v = distinct(rng, 2, 3, 12)
    _expect_context(subject, _weights(rng, length), randn(rng, length, d_v), "context_vectors(weights (T,), values)")


@HIDDEN.check(STEP, "weights (T_q, T_k) @ values (T_k, d_v) with T_q != T_k", weight=2)
def weight_matrix(subject: Subject, rng: torch.Generator) -> None:
    t_q, t_k, d_v = distinct(rng, 3, 3, 12)
    _expect_context(subject, _weights(rng, t_q, t_k), randn(rng, t_k, d_v),
                    "context_vectors(weights (T_q, T_k), values (T_k, d_v))")


@HIDDEN.check(STEP, "square self-attention weights (T, T): row i weights the values for token i", weight=1)
def square_weights(subject: Subject, rng: torch.Generator) -> None:
    length, d_v = distinct(rng, 2, 3, 12)
    _expect_context(subject, _weights(rng, length, length), randn(rng, length, d_v),
                    "context_vectors(weights (T, T), values (T, d_v))")


@HIDDEN.check(STEP, "leading batch dimensions: (..., T_q, T_k) weights and (..., T_k, d_v) values", weight=1.5)
def batched(subject: Subject, rng: torch.Generator) -> None:
    t_q, t_k, d_v = distinct(rng, 3, 3, 12)
    batch = (randint(rng, 2, 4), randint(rng, 2, 3))
    _expect_context(subject, _weights(rng, *batch, t_q, t_k), randn(rng, *batch, t_k, d_v),
                    "context_vectors on inputs with two batch dimensions")


@HIDDEN.check(STEP, "float32 inputs give float32 context vectors, inputs unchanged", weight=0.5)
def float32_and_unchanged(subject: Subject, rng: torch.Generator) -> None:
    t_q, t_k, d_v = distinct(rng, 3, 3, 12)
    weights, values = _weights(rng, 2, t_q, t_k), randn(rng, 2, t_k, d_v)
    result = subject.context_vectors(weights, values)
    expect_inputs_unchanged(subject, "context_vectors")
    expect_tensor(result, "context_vectors on float32 inputs", dtype=torch.float32)
    w, v = f64(weights, values)
    mistakes = {WEIGHTS_TRANSPOSED: w.mT @ v} if t_q == t_k else {}
    expect_computed(result, ref.context_vectors(w, v), "context_vectors on hidden float32 inputs",
                    inputs=(weights, values), mistakes=mistakes)

"""Public checks of step 6, ``context`` (attention/context.py): Context vectors."""

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

STEP = "context"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


_WEIGHT_ROWS = torch.tensor([[0.5, 0.25, 0.25], [0.0, 1.0, 0.0]])  # (T_q=2, T=3)
_VALUES = torch.tensor([[2.0, 0.0], [4.0, 8.0], [0.0, -4.0]])  # (T=3, d_v=2)


@check("one weight row (3,) and values (3, 2) give one context vector (2,)")
def one_weight_row(subject: Subject, rng: torch.Generator) -> None:
    row = _WEIGHT_ROWS[0].clone()
    got = subject.context_vectors(row, _VALUES.clone())
    expect_inputs_unchanged(subject, "context_vectors")
    expect_close(got, row @ _VALUES, "context_vectors(weights (3,), values (3, 2))", reveal=True)


@check("weights (2, 3) and values (3, 2) give (2, 2): row i is the weighted sum of the value rows; square weights "
       "(3, 3) too")
def weight_matrix(subject: Subject, rng: torch.Generator) -> None:
    got = subject.context_vectors(*copies(_WEIGHT_ROWS, _VALUES))
    expect_inputs_unchanged(subject, "context_vectors")
    expect_close(got, _WEIGHT_ROWS @ _VALUES, "context_vectors(weights (2, 3), values (3, 2))", reveal=True)
    square = torch.tensor([[0.5, 0.5, 0.0], [0.0, 0.25, 0.75], [1.0, 0.0, 0.0]])  # (T, T): row i weights token i
    got = subject.context_vectors(*copies(square, _VALUES))
    expect_close(got, square @ _VALUES, "context_vectors(weights (3, 3), values (3, 2))", reveal=True,
                 mistakes={m.WEIGHTS_TRANSPOSED: square.mT @ _VALUES})


@check("leading batch dimensions are kept: (2, 2, 3) with (2, 3, 2) gives (2, 2, 2)")
def batched_context(subject: Subject, rng: torch.Generator) -> None:
    weights, values = torch.stack([_WEIGHT_ROWS, _WEIGHT_ROWS.flip(-1)]), torch.stack([_VALUES, 2 * _VALUES])
    got = subject.context_vectors(weights, values)
    expect_close(got, weights @ values, "context_vectors(weights (2, 2, 3), values (2, 3, 2))", reveal=True)

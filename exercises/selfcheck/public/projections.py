"""Public checks of step 3, ``projections`` (attention/projections.py): Query, key and value projections."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_draws,
    expect_inputs_unchanged,
    expect_tensor,
)
from ..errors import CheckFailed
from ..registry import CheckFunction
from ..subject import Subject, describe_value
from .common import (
    D_IN,
    D_KQ,
    D_V,
    SEED,
    W_SHAPES,
    X_2x3,
    copies,
    expect_drawn,
    public_check,
)

STEP = "projections"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


NAMES = ("W_query", "W_key", "W_value")
_WQ = torch.tensor([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
_WK = torch.tensor([[0.0, 2.0], [1.0, 0.0], [0.5, 0.5]])
_WV = torch.tensor([[1.0, 0.0, 0.0, 1.0], [0.0, 1.0, 0.0, 1.0], [0.0, 0.0, 1.0, 1.0]])


def _three_parameters(result: Any, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed(f"{what} should return a tuple (W_query, W_key, W_value), but it returned "
                          f"{describe_value(result)}" + (f" of {len(result)} items" if isinstance(result, (tuple, list))
                                                         else ""))
    found = dict(zip(W_SHAPES, result, strict=True))
    for name, shape in W_SHAPES.items():
        expect_tensor(found[name], f"{name} from {what}", shape=shape, dtype=torch.float32)
        if not isinstance(found[name], torch.nn.Parameter):
            raise CheckFailed(f"{name} from {what} should be an nn.Parameter (nn.Parameter(torch.rand(...))), "
                              "but it is a plain tensor")
    return found


@check("init_projections(3, 2, 4) returns nn.Parameters of shapes (3, 2), (3, 2), (3, 4), drawn from the current "
       "random state when no seed is given")
def parameter_shapes(subject: Subject, rng: torch.Generator) -> None:
    what = "init_projections(3, 2, 4) right after torch.manual_seed(7)"
    subject.manual_seed(7)  # where the learner code runs
    found = _three_parameters(subject.init_projections(D_IN, D_KQ, D_V), what)
    reseeded = {f"{m.RESEEDED} (here with seed {s})": m.seeded_draws(s, W_SHAPES, NAMES) for s in (123, 0, 42)}
    expect_draws(found, 7, W_SHAPES, what, parameter=False, extra=reseeded)


@check("init_projections(3, 2, 4, seed=123) draws torch.rand for W_query, W_key, W_value in order")
def seeded_draws(subject: Subject, rng: torch.Generator) -> None:
    what = "init_projections(3, 2, 4, seed=123)"
    found = _three_parameters(subject.init_projections(D_IN, D_KQ, D_V, seed=SEED), what)
    expect_drawn(found, what, W_SHAPES)


@check("project_qkv(x, W_query, W_key, W_value) returns x @ W for each, shapes (2, 2), (2, 2), (2, 4)")
def project_fixed_input(subject: Subject, rng: torch.Generator) -> None:
    result = subject.project_qkv(*copies(X_2x3, _WQ, _WK, _WV))
    expect_inputs_unchanged(subject, "project_qkv")
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed(f"project_qkv should return (queries, keys, values), not {describe_value(result)}")
    expected = [X_2x3 @ weight for weight in (_WQ, _WK, _WV)]
    for index, (name, got) in enumerate(zip(("queries", "keys", "values"), result, strict=True)):
        expect_close(got, expected[index], f"{name} from project_qkv(x (2, 3), ...)", reveal=True,
                     mistakes=m.returned_order_mistakes(expected, index, NAMES, name))


@check("project_qkv keeps leading batch dimensions: x (2, 2, 3) gives (2, 2, 2), (2, 2, 2), (2, 2, 4)")
def project_batched_input(subject: Subject, rng: torch.Generator) -> None:
    x = torch.stack([X_2x3, -X_2x3])
    result = subject.project_qkv(x, *copies(_WQ, _WK, _WV))
    if not isinstance(result, (tuple, list)) or len(result) != 3:
        raise CheckFailed(f"project_qkv should return (queries, keys, values), not {describe_value(result)}")
    for name, got, weight in zip(("queries", "keys", "values"), result, (_WQ, _WK, _WV), strict=True):
        expect_close(got, x @ weight, f"{name} from project_qkv(x (2, 2, 3), ...)")

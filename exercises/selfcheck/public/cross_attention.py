"""Public checks of step 9, ``cross_attention`` (attention/cross_attention.py): Cross-attention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_inputs_unchanged,
    expect_tensor,
)
from ..errors import CheckFailed, LearnerError
from ..registry import CheckFunction
from ..subject import Handle, Subject
from .common import (
    D_IN,
    D_KQ,
    D_V,
    W_SHAPES,
    X_2x3,
    copies,
    expect_drawn,
    own_weights,
    public_check,
    qkv_parameters,
    seeded,
)

STEP = "cross_attention"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


_X_1 = X_2x3  # (T_1=2, d_in=3): the queries' sequence
_X_2 = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0], [2.0, 0.0, 1.0], [0.5, 0.5, 0.5], [-1.0, 0.0, 1.0]])  # (5, 3)


@check("CrossAttention(3, 2, 4) after manual_seed(123): W_query, W_key, W_value by torch.rand")
def cross_parameters(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).CrossAttention(D_IN, D_KQ, D_V)  # seeded where the learner code runs
    found = qkv_parameters(attn, "CrossAttention(3, 2, 4)", W_SHAPES)
    expect_drawn(found, "CrossAttention(3, 2, 4)", W_SHAPES)


# (5, 3): another sequence as long as x_2
_X_SAME = torch.tensor([[0.0, 1.0, -1.0], [1.5, 0.5, 0.0], [-0.5, 2.0, 1.0], [1.0, -1.0, 0.5], [0.0, 0.0, 2.0]])


def _cross(attn: Handle, x_1: torch.Tensor, x_2: torch.Tensor, what: str) -> Any:
    """``attn(x_1, x_2)``; a shape error with T_1 != T_2 says which inputs the keys and values come from."""
    try:
        return attn(*copies(x_1, x_2))
    except LearnerError as error:
        if x_1.shape[-2] == x_2.shape[-2] or not isinstance(error, RuntimeError):
            raise
        raise CheckFailed(f"{what}: {error.describe()}\n  {m.CROSS_SHAPE_ERROR}") from None


@check("forward(x_1 (2, 3), x_2 (5, 3)) gives (2, 4): one output per query token of x_1")
def output_shape(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).CrossAttention(D_IN, D_KQ, D_V)
    what = "CrossAttention(3, 2, 4)(x_1 (2, 3), x_2 (5, 3))"
    out = _cross(attn, _X_1, _X_2, what)
    expect_inputs_unchanged(subject, "CrossAttention.forward")
    expect_tensor(out, what, shape=(2, D_V), dtype=torch.float32)


@check("queries come from x_1, keys and values from x_2 (x_2 longer than x_1, and two sequences of one length)")
def queries_from_first_input(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).CrossAttention(D_IN, D_KQ, D_V)
    found = own_weights(attn, "CrossAttention(3, 2, 4)", W_SHAPES)
    w_q, w_k, w_v = (found[name].detach() for name in W_SHAPES)
    for x_1, x_2 in ((_X_SAME, _X_2), (_X_1, _X_2)):
        what = f"CrossAttention(3, 2, 4)(x_1 {tuple(x_1.shape)}, x_2 {tuple(x_2.shape)})"
        expected = m.attend(x_1 @ w_q, x_2 @ w_k, x_2 @ w_v)
        expect_close(_cross(attn, x_1, x_2, what), expected, what, reveal=True,
                     mistakes=m.cross_mistakes(x_1, x_2, w_q, w_k, w_v))


@check("a batch: x_1 (2, 2, 3) and x_2 (2, 5, 3) give (2, 2, 4)")
def batched_inputs(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).CrossAttention(D_IN, D_KQ, D_V)
    found = own_weights(attn, "CrossAttention(3, 2, 4)", W_SHAPES)
    w_q, w_k, w_v = (found[name].detach() for name in W_SHAPES)
    x_1, x_2 = torch.stack([_X_1, -_X_1]), torch.stack([_X_2, _X_2.flip(0)])
    what = "CrossAttention(3, 2, 4)(x_1 (2, 2, 3), x_2 (2, 5, 3))"
    expected = m.attend(x_1 @ w_q, x_2 @ w_k, x_2 @ w_v)
    expect_close(_cross(attn, x_1, x_2, what), expected, what, reveal=True,
                 mistakes=m.cross_mistakes(x_1, x_2, w_q, w_k, w_v))

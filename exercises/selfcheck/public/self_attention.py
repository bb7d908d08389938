"""Public checks of step 7, ``self_attention`` (attention/self_attention.py): A self-attention module."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_inputs_unchanged,
    expect_tensor,
)
from ..registry import CheckFunction
from ..subject import Subject
from .common import (
    D_IN,
    D_KQ,
    D_V,
    FOUR_DECIMALS,
    SEED,
    SELF_ATTENTION_ROW_1,
    W_SHAPES,
    WIDE_IN,
    WIDE_KQ,
    WIDE_T,
    WIDE_V,
    T,
    conditioned,
    example_x,
    expect_drawn,
    own_weights,
    public_check,
    published,
    qkv_parameters,
    seeded,
)

STEP = "self_attention"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


@check("SelfAttention(3, 2, 4) after manual_seed(123): W_query, W_key, W_value by torch.rand")
def parameters_follow_the_seed(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).SelfAttention(D_IN, D_KQ, D_V)  # seeded where the learner code runs
    found = qkv_parameters(attn, "SelfAttention(3, 2, 4)", W_SHAPES)
    expect_drawn(found, "SelfAttention(3, 2, 4)", W_SHAPES)


WIDE = (WIDE_IN, WIDE_KQ, WIDE_V)
WIDE_SHAPES = {"W_query": (WIDE_IN, WIDE_KQ), "W_key": (WIDE_IN, WIDE_KQ), "W_value": (WIDE_IN, WIDE_V)}
WIDE_WHAT = f"SelfAttention({WIDE_IN}, {WIDE_KQ}, {WIDE_V})"


@check("on the example sentence, the output is (6, 4) with row 1 [0.5313, 1.3607, 0.7891, 1.3110]")
def row_one_of_the_example(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).SelfAttention(D_IN, D_KQ, D_V)  # seeded where the learner code runs
    found = qkv_parameters(attn, "SelfAttention(3, 2, 4)", W_SHAPES)
    found = {name: drawn.detach() for name, drawn in m.seeded_draws(SEED, W_SHAPES, tuple(W_SHAPES)).items()}
    x = example_x()
    out = attn(x)
    expect_inputs_unchanged(subject, "SelfAttention.forward")
    expect_tensor(out, "SelfAttention(3, 2, 4)(x (6, 3))", shape=(T, D_V), dtype=torch.float32)
    q, k, v = (x @ found[name].detach() for name in W_SHAPES)
    mistakes = {name: made[1] for name, made in m.output_mistakes(q, k, v, d_in=D_IN).items()}
    expect_close(out[1], published(SELF_ATTENTION_ROW_1), "row 1 of SelfAttention(3, 2, 4)(x)", reveal=True,
                 mistakes=mistakes, **FOUR_DECIMALS)


@check(f"forward(x (4, {WIDE_IN})) of {WIDE_WHAT} is softmax(queries keys^T / sqrt(d_out_kq)) values, all tokens "
       "attending to all")
def output_from_parameters(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).SelfAttention(*WIDE)
    found = own_weights(attn, WIDE_WHAT, WIDE_SHAPES)
    x = conditioned((WIDE_T, WIDE_IN), found["W_query"], found["W_key"])
    q, k, v = (x @ found[name].detach() for name in WIDE_SHAPES)
    out = attn(x)
    expect_inputs_unchanged(subject, "SelfAttention.forward")
    expect_close(out, m.attend(q, k, v), f"{WIDE_WHAT}(x ({WIDE_T}, {WIDE_IN}))", reveal=True,
                 mistakes=m.output_mistakes(q, k, v, d_in=WIDE_IN))


@check(f"a batch (2, {WIDE_T}, {WIDE_IN}) gives (2, {WIDE_T}, {WIDE_V}), each item as if it were alone")
def batched_input(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).SelfAttention(*WIDE)
    found = own_weights(attn, WIDE_WHAT, WIDE_SHAPES)
    one = conditioned((WIDE_T, WIDE_IN), found["W_query"], found["W_key"])
    batch = torch.stack([one, one.flip(0) * 0.5])
    out = attn(batch)
    expect_tensor(out, f"{WIDE_WHAT}(x (2, {WIDE_T}, {WIDE_IN}))", shape=(2, WIDE_T, WIDE_V), dtype=torch.float32)
    q, k, v = (batch @ found[name].detach() for name in WIDE_SHAPES)
    expect_close(out, m.attend(q, k, v), f"{WIDE_WHAT}(x (2, {WIDE_T}, {WIDE_IN}))", reveal=True,
                 mistakes=m.output_mistakes(q, k, v, d_in=WIDE_IN))

"""Public checks of step 8, ``multi_head`` (attention/multi_head.py): Multi-head attention."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_handle,
    expect_inputs_unchanged,
    expect_tensor,
)
from ..errors import CheckFailed
from ..registry import CheckFunction
from ..subject import Handle, Subject, parameters
from .common import (
    D_IN,
    D_KQ,
    D_V,
    SEED,
    W_SHAPES,
    T,
    conditioned,
    example_x,
    expect_drawn,
    own_weights,
    public_check,
    qkv_parameters,
    seeded,
)

STEP = "multi_head"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


HEADS = 2
_WIDE_SHAPES = {"W_query": (D_IN, HEADS * D_KQ), "W_key": (D_IN, HEADS * D_KQ), "W_value": (D_IN, HEADS * D_V)}
# Sizes that tell the mistakes apart: d_in, d_out_kq, d_out_v, heads and T all different, T differs from the
# heads' total widths, and sqrt(heads * d_out_kq) != sqrt(d_out_kq) != sqrt(d_out_v) != d_out_kq.
M_IN, M_KQ, M_V, M_T = 5, 3, 4, 7
M_SHAPES = {"W_query": (M_IN, HEADS * M_KQ), "W_key": (M_IN, HEADS * M_KQ), "W_value": (M_IN, HEADS * M_V)}
M_WHAT = f"MultiHeadAttention({M_IN}, {M_KQ}, {M_V}, num_heads={HEADS})"


def _wrapper_heads(wrapper: Handle) -> list[Handle]:
    what = "MultiHeadAttentionWrapper(3, 2, 4, num_heads=2)"
    expect_handle(wrapper, what, base="Module")
    heads = expect_handle(wrapper.heads, f"{what}.heads", base="ModuleList")
    if len(heads) != HEADS:
        raise CheckFailed(f"{what}.heads should hold {HEADS} heads, but it holds {len(heads)}")
    found = [heads[i] for i in range(HEADS)]
    for i, head in enumerate(found):
        expect_handle(head, f"{what}.heads[{i}]", base="SelfAttention")
    count = len(parameters(wrapper))
    if count != 3 * HEADS:
        raise CheckFailed(f"{what} has {count} parameters, expected {3 * HEADS} (W_query, W_key, W_value per head)"
                          + m.mistake_note(m.SHARED_HEAD))
    return found


def _own_head_weights(heads: list[Handle]) -> list[dict[str, torch.Tensor]]:
    """The checker's weights loaded into each head: what the seeded wrapper draws, head 0 first (`own_weights`)."""
    generator = torch.Generator().manual_seed(SEED)
    return [own_weights(head, f"MultiHeadAttentionWrapper(3, 2, 4, num_heads=2).heads[{i}]", W_SHAPES, generator)
            for i, head in enumerate(heads)]


@check("MultiHeadAttentionWrapper(3, 2, 4, num_heads=2).heads is an nn.ModuleList of 2 separate SelfAttention")
def wrapper_heads(subject: Subject, rng: torch.Generator) -> None:
    _wrapper_heads(subject.MultiHeadAttentionWrapper(D_IN, D_KQ, D_V, HEADS))


@check("the wrapper's output (6, 8) is its heads' outputs side by side, head 0 first")
def wrapper_concatenates(subject: Subject, rng: torch.Generator) -> None:
    wrapper = seeded(subject).MultiHeadAttentionWrapper(D_IN, D_KQ, D_V, HEADS)
    heads = _wrapper_heads(wrapper)
    own = _own_head_weights(heads)
    x = example_x()
    out = wrapper(x)
    expect_inputs_unchanged(subject, "MultiHeadAttentionWrapper.forward")
    expect_tensor(out, "MultiHeadAttentionWrapper(3, 2, 4, num_heads=2)(x (6, 3))", shape=(T, HEADS * D_V),
                  dtype=torch.float32)
    expect_close(out, torch.cat([m.attend(x @ w["W_query"], x @ w["W_key"], x @ w["W_value"]) for w in own], dim=-1),
                 "MultiHeadAttentionWrapper output compared with torch.cat of its heads' outputs on the last dimension",
                 reveal=True)


@check("MultiHeadAttention(3, 2, 4, num_heads=2) draws W_query, W_key (3, 4), W_value (3, 8)")
def wide_parameters(subject: Subject, rng: torch.Generator) -> None:
    what = "MultiHeadAttention(3, 2, 4, num_heads=2)"
    mha = seeded(subject).MultiHeadAttention(D_IN, D_KQ, D_V, HEADS)  # seeded where the learner code runs
    found = qkv_parameters(mha, what, _WIDE_SHAPES)
    expect_drawn(found, what, _WIDE_SHAPES)


@check(f"{M_WHAT}: head h uses column block h of each matrix; (7, 5) -> (7, 8), batches too")
def efficient_output(subject: Subject, rng: torch.Generator) -> None:
    mha = seeded(subject).MultiHeadAttention(M_IN, M_KQ, M_V, HEADS)
    found = own_weights(mha, M_WHAT, M_SHAPES)
    x = conditioned((M_T, M_IN), found["W_query"][:, :M_KQ], found["W_key"][:, :M_KQ])
    out = mha(x)
    expect_inputs_unchanged(subject, "MultiHeadAttention.forward")
    expected, mistakes = m.multi_head(x, found["W_query"], found["W_key"], found["W_value"], HEADS)
    expect_close(out, expected, f"{M_WHAT}(x ({M_T}, {M_IN}))", reveal=True, mistakes=mistakes)
    batch = torch.stack([x, x.flip(0)])
    expected, mistakes = m.multi_head(batch, found["W_query"], found["W_key"], found["W_value"], HEADS)
    expect_close(mha(batch), expected, f"{M_WHAT}(x (2, {M_T}, {M_IN}))", reveal=True, mistakes=mistakes)


@check("MultiHeadAttention.from_wrapper(wrapper): head h's matrices in column block h, the wrapper's output")
def from_wrapper_matches(subject: Subject, rng: torch.Generator) -> None:
    wrapper = seeded(subject).MultiHeadAttentionWrapper(D_IN, D_KQ, D_V, HEADS)
    heads = _wrapper_heads(wrapper)
    own = _own_head_weights(heads)
    mha = subject.MultiHeadAttention.from_wrapper(wrapper)
    expect_handle(mha, "MultiHeadAttention.from_wrapper(wrapper)", base="Module")
    found = qkv_parameters(mha, "MultiHeadAttention.from_wrapper(wrapper)", _WIDE_SHAPES)
    for name in _WIDE_SHAPES:  # W_query, W_key, W_value
        blocks = [w[name] for w in own]
        expect_close(found[name], torch.cat(blocks, dim=1), f"from_wrapper(wrapper).{name} (the heads' {name} side "
                     "by side)", reveal=True, atol=1e-6,
                     mistakes={m.BLOCKS_REVERSED: torch.cat(blocks[::-1], dim=1)})
    x = example_x()
    expected = torch.cat([m.attend(x @ w["W_query"], x @ w["W_key"], x @ w["W_value"]) for w in own], dim=-1)
    expect_close(mha(x), expected, "MultiHeadAttention.from_wrapper(wrapper)(x) compared with wrapper(x)",
                 reveal=True)

"""Public checks of step 12, ``causal_attention`` (attention/causal_attention.py): Causal self-attention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .. import magnitude as large
from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_exact,
    expect_inputs_unchanged,
    expect_raises,
    expect_tensor,
)
from ..errors import CheckFailed, LearnerError
from ..registry import CheckFunction
from ..subject import Handle, Subject, buffers
from .common import (
    D_IN,
    D_KQ,
    D_V,
    W_SHAPES,
    WIDE_IN,
    WIDE_KQ,
    WIDE_V,
    T,
    conditioned,
    expect_drawn,
    own_weights,
    public_check,
    published,
    qkv_parameters,
    seeded,
)

STEP = "causal_attention"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


_ROW_WEIGHTS = (0.1, 0.6, 0.3)
_ROW_VALUES = ((1, 2), (3, 0), (4, 5))  # passed as fresh lists
C_IN, C_KQ, C_V, C_LEN = WIDE_IN, WIDE_KQ, WIDE_V, 6  # distinct sizes: the mistakes give different numbers
C_SHAPES = {"W_query": (C_IN, C_KQ), "W_key": (C_IN, C_KQ), "W_value": (C_IN, C_V)}
C_WHAT = f"CausalSelfAttention({C_IN}, {C_KQ}, {C_V}, context_length={C_LEN})"


def token_output_call(subject: Subject, what: str, *args: Any) -> Any:
    """``subject.token_output(*args)``; an error about mixed dtypes gets the dtype hint."""
    try:
        return subject.token_output(*args)
    except LearnerError as error:
        note = m.dtype_note(error.learner_message)
        if note is None:
            raise
        raise CheckFailed(f"{what}: {error.describe()}\n  {note}") from None


@check("token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]]) is [3.1, 1.7] (lists of ints too)")
def token_output_example(subject: Subject, rng: torch.Generator) -> None:
    what = "token_output([0.1, 0.6, 0.3], [[1, 2], [3, 0], [4, 5]])"
    got = token_output_call(subject, what, list(_ROW_WEIGHTS), [list(row) for row in _ROW_VALUES])
    expect_tensor(got, what, shape=(2,), dtype="floating")
    expect_close(got, published([3.1, 1.7]), what, reveal=True)


@check("token_output uses only the first i+1 value rows, batches too; too few rows raise ValueError")
def token_output_ignores_later_rows(subject: Subject, rng: torch.Generator) -> None:
    weights, values = torch.tensor([0.4, 0.6]), torch.tensor(_ROW_VALUES, dtype=torch.float32)
    got = subject.token_output(weights, values)
    expect_inputs_unchanged(subject, "token_output")
    expect_close(got, published([2.2, 0.8]), "token_output(tensor([0.4, 0.6]), values (3, 2))", reveal=True,
                 mistakes=m.token_output_mistakes(weights, values))
    batch_w = torch.stack([weights, weights.flip(0)])  # (2, 2)
    batch_v = torch.stack([values, values * 2])  # (2, 3, 2)
    expected = (batch_w.unsqueeze(-2).double() @ batch_v[:, :2].double()).squeeze(-2)
    expect_close(subject.token_output(batch_w, batch_v), expected, "token_output(weights (2, 2), values (2, 3, 2))",
                 reveal=True, mistakes=m.token_output_mistakes(batch_w, batch_v))
    expect_raises(ValueError, lambda: subject.token_output(list(_ROW_WEIGHTS), [list(row) for row in _ROW_VALUES[:2]]),
                  "token_output(3 weights, values with 2 rows)")


@check("CausalSelfAttention(3, 2, 4, 6) has W_query, W_key, W_value and a bool buffer mask (6, 6)")
def mask_buffer(subject: Subject, rng: torch.Generator) -> None:
    what = "CausalSelfAttention(3, 2, 4, context_length=6)"
    attn = seeded(subject).CausalSelfAttention(D_IN, D_KQ, D_V, T)  # seeded where the learner code runs
    found = qkv_parameters(attn, what, W_SHAPES)
    expect_drawn(found, what, W_SHAPES)
    registered = buffers(attn)
    if "mask" not in registered:
        raise CheckFailed(f"{what} should register a buffer named `mask` holding causal_mask(context_length) "
                          "(nn.Module.register_buffer: a buffer moves and is saved with the module, but is not "
                          f"trained); its buffers are: {', '.join(registered) or 'none'}")
    mask = registered["mask"]
    expect_exact(mask, torch.ones(T, T).triu(1).bool(), f"{what}.mask (True exactly above the diagonal, like "
                 "causal_mask(6))", m.bool_mask_mistakes(T))


def _forward(attn: Handle, x: torch.Tensor, what: str) -> Any:
    """``attn(x)``; a shape error with fewer tokens than context_length says to slice the mask."""
    try:
        return attn(x)
    except LearnerError as error:
        if isinstance(error, RuntimeError) and x.shape[-2] < C_LEN:
            raise CheckFailed(f"{what}: {error.describe()}\n  {m.UNSLICED}") from None
        raise


@check(f"{C_WHAT} on x (4, {C_IN}) and (6, {C_IN}): token i attends to tokens 0..i only; later tokens change "
       "nothing before them, also when the scores are far below -1e5")
def attends_only_to_the_past(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).CausalSelfAttention(C_IN, C_KQ, C_V, C_LEN)
    found = own_weights(attn, C_WHAT, C_SHAPES)
    x = conditioned((C_LEN, C_IN), found["W_query"], found["W_key"])
    changed = torch.cat([x[:3], -x[3:]])
    before, after = _forward(attn, x, C_WHAT), _forward(attn, changed, C_WHAT)
    if isinstance(before, torch.Tensor) and isinstance(after, torch.Tensor) and before.shape == after.shape and not (
            torch.allclose(before[:3].double(), after[:3].double(), rtol=1e-5, atol=1e-6)):
        q, k, v = (x @ found[name].detach() for name in C_SHAPES)
        raise CheckFailed(m.with_mistake(
            "the outputs at positions 0..2 changed when only tokens 3..5 changed: a query sees keys after it",
            m.recognise(before, m.output_mistakes(q, k, v, causal=True), m.attend(q, k, v, causal=True))))
    for length in (4, C_LEN):
        part = x[:length].clone()
        q, k, v = (part @ found[name].detach() for name in C_SHAPES)
        what = f"{C_WHAT}(x ({length}, {C_IN}))"
        out = _forward(attn, part, what)
        expect_inputs_unchanged(subject, "CausalSelfAttention.forward")
        expect_close(out, m.attend(q, k, v, causal=True), what, reveal=True,
                     mistakes=m.output_mistakes(q, k, v, causal=True))
    _survives_large_scores(attn, found)


def _survives_large_scores(attn: Handle, found: dict[str, torch.Tensor]) -> None:
    """On fixed tokens x (5, d_in) whose scaled scores are far below -1e5 (after passing on ordinary inputs), the
    output matches and scaling tokens 3..4 changes nothing before them: a finite fill such as -1e4 leaks there, a
    softmax that subtracts no row maximum gives NaN."""
    w_query, w_key, w_value = (found[name].detach() for name in C_SHAPES)
    x = large.large_score_tokens(torch.Generator().manual_seed(12), (), 5, w_query, w_key)
    if x is None:  # W_query W_key^T has no negative direction: the weights are not SPEC's draws (another check)
        return
    changed = torch.cat([x[:3], 1.25 * x[3:]])
    what = f"{C_WHAT}(x (5, {C_IN})) on tokens whose scores are far below -1e5"
    before = expect_tensor(_forward(attn, x, what), what, shape=(5, C_V), dtype="floating")
    after = expect_tensor(_forward(attn, changed, what), what, shape=(5, C_V), dtype="floating")
    atol = large.magnitude_atol(x, w_value, 1e-6)
    q, k, v = (x.double() @ w.double() for w in (w_query, w_key, w_value))
    try:
        expect_close(before, m.attend(q, k, v, causal=True), what, atol=atol)
        if not torch.allclose(before[:3].double(), after[:3].double(), rtol=1e-5, atol=atol):
            raise CheckFailed(f"{what}: the outputs at positions 0..2 changed when only tokens 3..4 changed: a "
                              "query sees keys after it")
    except CheckFailed as failure:
        raise CheckFailed(m.with_mistake(str(failure), large.large_output_mistake(before))) from None


@check(f"a batch (2, 6, {C_IN}) gives (2, 6, {C_V}); 7 tokens with context_length 6 raise ValueError")
def batch_and_too_long(subject: Subject, rng: torch.Generator) -> None:
    attn = seeded(subject).CausalSelfAttention(C_IN, C_KQ, C_V, C_LEN)
    found = own_weights(attn, C_WHAT, C_SHAPES)
    x = conditioned((C_LEN, C_IN), found["W_query"], found["W_key"])
    batch = torch.stack([x, x.flip(0)])
    q, k, v = (batch @ found[name].detach() for name in C_SHAPES)
    what = f"{C_WHAT}(x (2, 6, {C_IN}))"
    expect_close(_forward(attn, batch, what), m.attend(q, k, v, causal=True), what, reveal=True,
                 mistakes=m.output_mistakes(q, k, v, causal=True))
    too_long = torch.cat([x, x[:1]])
    expect_raises(ValueError, lambda: attn(too_long), f"{C_WHAT}(x (7, {C_IN}))")

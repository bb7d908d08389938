"""Public checks of step 13, ``kv_cache`` (attention/kv_cache.py): Decoding with a KV cache."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import magnitude as large
from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_equal,
    expect_handle,
    expect_inputs_unchanged,
    expect_raises,
)
from ..errors import CheckFailed
from ..registry import CheckFunction
from ..subject import Handle, Subject, describe_value
from .common import (
    D_IN,
    D_KQ,
    D_V,
    SEED,
    W_SHAPES,
    T,
    copies,
    example_x,
    needs_api,
    own_weights,
    public_check,
)

STEP = "kv_cache"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


_KEY_1, _VALUE_1 = torch.tensor([1.0, 2.0]), torch.tensor([1.0, 0.0, 0.0, 3.0])
_KEY_2, _VALUE_2 = torch.tensor([0.5, -1.0]), torch.tensor([0.0, 2.0, 1.0, 1.0])


@check("KVCache() starts empty (len 0, .keys and .values None); appends of (2,) keys and (4,) values, or batched "
       "(3, 2) keys, grow .keys to (t, 2) or (3, t, 2) in order")
def appends_grow_the_cache(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    expect_equal(len(cache), 0, "len(KVCache())", reveal=True)
    for name in ("keys", "values"):
        value = getattr(cache, name)
        if value is not None:
            raise CheckFailed(f"KVCache().{name} should be None while the cache is empty, but it is "
                              f"{describe_value(value)}")
    cache.append(*copies(_KEY_1, _VALUE_1))
    cache.append(*copies(_KEY_2, _VALUE_2))
    expect_inputs_unchanged(subject, "KVCache.append")
    expect_equal(len(cache), 2, "len(cache) after two appends", reveal=True)
    expect_close(cache.keys, torch.stack([_KEY_1, _KEY_2]), "cache.keys after two appends", reveal=True)
    expect_close(cache.values, torch.stack([_VALUE_1, _VALUE_2]), "cache.values after two appends", reveal=True)
    batched = expect_handle(subject.KVCache(), "KVCache()")
    keys = torch.stack([torch.stack([_KEY_1, _KEY_2]), torch.stack([_KEY_2, -_KEY_1]),
                        torch.stack([-_KEY_2, _KEY_1])])  # (B=3, t=2, d_k=2)
    values = torch.stack([torch.stack([_VALUE_1, _VALUE_2]), torch.stack([_VALUE_2, _VALUE_1]),
                          torch.stack([-_VALUE_1, _VALUE_2])])  # (3, 2, 4)
    for t in range(2):
        batched.append(keys[:, t].clone(), values[:, t].clone())
    expect_close(batched.keys, keys, "cache.keys after two appends of batched (3, 2) keys, (B, t, d_k)", reveal=True,
                 mistakes={m.CACHE_DIM0: keys.transpose(0, 1)})
    expect_equal(len(batched), 2, "len(cache) after two appends of batched (3, d) keys", reveal=True)


def _causal_module(subject: Subject, context_length: int) -> tuple[Handle, list[torch.Tensor]]:
    """``CausalSelfAttention(3, 2, 4, context_length)`` made after the seed where the learner code runs; its weights."""
    causal_cls = needs_api(subject, "CausalSelfAttention", "causal_attention")
    subject.manual_seed(SEED)  # seeded where the learner code runs
    what = f"CausalSelfAttention(3, 2, 4, {context_length})"
    attn = expect_handle(causal_cls(D_IN, D_KQ, D_V, context_length), what, base="Module")
    found = own_weights(attn, what, W_SHAPES)
    return attn, [found[name].detach().double() for name in W_SHAPES]


def _decode_all(subject: Subject, cache: Handle, attn: Handle, weights: list[torch.Tensor], x: torch.Tensor,
                steps: int, what: str) -> None:
    """Decode ``steps`` tokens of ``x`` ((T, d_in) or (B, T, d_in)), each against the causal pass, row by row."""
    q, k, v = (x.double() @ w for w in weights)
    full = m.attend(q, k, v, causal=True)
    for t in range(steps):
        out = subject.decode_step(attn, x[..., t, :].clone(), cache)
        expect_inputs_unchanged(subject, "decode_step")
        expect_close(out, full[..., t, :], f"{what} for token {t}, compared with row {t} of causal attention",
                     reveal=True, mistakes=m.decode_row_mistakes(q[..., t, :], k[..., :t + 1, :], v[..., :t + 1, :]))
        expect_equal(len(cache), t + 1, f"len(cache) after decoding token {t}", reveal=True)


@check("decode_step on the 6 tokens one by one gives the rows of the full causal pass, growing the cache")
def decoding_matches_full_pass(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")  # this step's own code first: a stub says so
    attn, weights = _causal_module(subject, T)
    _decode_all(subject, cache, attn, weights, example_x(), T, "decode_step (x_t of shape (3,))")


@check("decode_step takes a batch of tokens (2, 3) and gives (2, 4)")
def batched_decoding(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    attn, weights = _causal_module(subject, T)
    x = example_x()
    _decode_all(subject, cache, attn, weights, torch.stack([x, x.flip(0)]), 3,
                "decode_step on a batch (x_t of shape (2, 3))")


@check("decode_step uses the cache: with 3 keys and values already in it, the new query attends to those 3 and "
       "its own, also when the scores are far below -1e5")
def uses_the_cache(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    attn, weights = _causal_module(subject, T)
    old_keys = torch.tensor([[1.0, -1.0], [0.5, 2.0], [-1.5, 0.5]])  # (3, d_k=2), not made from any token
    old_values = torch.tensor([[1.0, 0.0, -1.0, 2.0], [0.0, 3.0, 1.0, -2.0], [2.0, 2.0, 0.0, 1.0]])  # (3, d_v=4)
    for key, value in zip(old_keys, old_values, strict=True):
        cache.append(key.clone(), value.clone())
    x_t = example_x()[3]
    q, k_new, v_new = (x_t.double() @ w for w in weights)
    keys = torch.cat([old_keys.double(), k_new.unsqueeze(0)])
    values = torch.cat([old_values.double(), v_new.unsqueeze(0)])
    expected = m.attend(q.unsqueeze(0), keys, values).squeeze(0)
    mistakes = {**m.decode_row_mistakes(q, keys, values), m.CACHE_UNUSED: v_new}
    expect_close(subject.decode_step(attn, x_t.clone(), cache), expected,
                 "decode_step with a cache holding 3 earlier keys and values", reveal=True, mistakes=mistakes)
    expect_equal(len(cache), 4, "len(cache) after one decode step on a cache of 3", reveal=True)
    _survives_large_scores(subject, attn, weights)


def _survives_large_scores(subject: Subject, attn: Handle, weights: list[torch.Tensor]) -> None:
    """decode_step with a cache of 3 keys whose scaled scores, like the new token's own, are far below -1e5
    (after passing on ordinary inputs): a cache that scores unused slots and fills them with a finite value
    such as -1e4 leaks there, a softmax that subtracts no row maximum gives NaN."""
    built = large.large_score_cache(torch.Generator().manual_seed(13), 3, weights[0], weights[1])
    if built is None:  # W_query W_key^T has no negative direction: the weights are not SPEC's draws (another check)
        return
    x_t, old_keys = built
    old_values = torch.tensor([[2.0, -1.0, 0.5, 1.0], [-0.5, 1.5, 2.0, 0.0], [1.0, 1.0, -2.0, 3.0]])  # (3, d_v=4)
    cache = expect_handle(subject.KVCache(), "KVCache()")
    for key, value in zip(old_keys, old_values, strict=True):
        cache.append(key.clone(), value.clone())
    q, k_new, v_new = (x_t.double() @ w for w in weights)
    keys = torch.cat([old_keys.double(), k_new.unsqueeze(0)])  # (3, d_k) + (1, d_k) -> (4, d_k)
    values = torch.cat([old_values.double(), v_new.unsqueeze(0)])  # (3, d_v) + (1, d_v) -> (4, d_v)
    got = subject.decode_step(attn, x_t.clone(), cache)
    try:
        expect_close(got, m.attend(q.unsqueeze(0), keys, values).squeeze(0),
                     "decode_step with a cache of 3 earlier keys and values whose scores are far below -1e5")
    except CheckFailed as failure:
        raise CheckFailed(m.with_mistake(str(failure), large.large_output_mistake(got))) from None


@check("decode_step raises ValueError once the cache holds context_length tokens")
def full_cache_raises(subject: Subject, rng: torch.Generator) -> None:
    cache = expect_handle(subject.KVCache(), "KVCache()")
    attn, _ = _causal_module(subject, 2)
    x = example_x()
    subject.decode_step(attn, x[0].clone(), cache)
    subject.decode_step(attn, x[1].clone(), cache)
    expect_raises(ValueError, lambda: subject.decode_step(attn, x[2].clone(), cache),
                  "decode_step with context_length=2 and a cache already holding 2 tokens")


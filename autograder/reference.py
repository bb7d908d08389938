"""An independent implementation of every step's API, on torch's own reference operations.

Two roles (see ``docs/DESIGN.md``, "Dependencies between steps: stand-ins"):

- **Oracle.** The hidden checks compare learner results with these functions, computed in the
  trusted grader process.
- **Stand-ins.** When the grader checks step k, the learner's imports of *earlier* steps'
  modules (``from attention.self_attention import SelfAttention``) get these objects instead
  (`standin_namespace`), so a wrong earlier step cannot cost points in a later one. They
  therefore follow ``SPEC.md`` exactly: the same names and signatures, the same parameter draws
  (``torch.rand`` for ``W_query``, ``W_key``, ``W_value`` in that order), the same attributes
  (``.heads``, the ``mask`` buffer, ``KVCache.keys/.values``), batched or not.

Learner code in the sandbox can see this module's stand-ins, so its public surface is the SPEC's
names only; every helper is private. It never imports ``solutions/``.

Attention is computed with ``F.scaled_dot_product_attention`` (with ``is_causal`` or a boolean
``attn_mask``); masks come from ``nn.Transformer.generate_square_subsequent_mask``,
``torch.triu`` and ``torch.tril_indices``; softmax is ``torch.softmax``. The function objects are
bound when this module is imported, so a forbidden-API guard installed later (which replaces
``torch.nn.functional.scaled_dot_product_attention`` for learner code) does not see the
stand-ins' own calls.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "build_vocab", "encode", "embed", "init_projections", "project_qkv", "attention_scores",
    "attention_weights", "context_vectors", "SelfAttention", "MultiHeadAttentionWrapper",
    "MultiHeadAttention", "CrossAttention", "causal_pairs", "count_causal_pairs", "keys_attended",
    "tril_mask", "mask_and_renormalize", "causal_mask", "mask_scores", "causal_attention_weights",
    "is_causal", "token_output", "CausalSelfAttention", "KVCache", "decode_step", "standin_namespace",
]

# Bound at import time (see the module docstring).
_sdpa = F.scaled_dot_product_attention
_softmax = torch.softmax
_square_subsequent_mask = nn.Transformer.generate_square_subsequent_mask


# ---------------------------------------------------------------------------------------------
# Private helpers
# ---------------------------------------------------------------------------------------------


def _count(value: Any, what: str) -> int:
    """A non-negative int from anything ``operator.index`` accepts, except ``bool``."""
    if isinstance(value, bool) or (isinstance(value, torch.Tensor) and value.dtype == torch.bool):
        raise ValueError(f"{what} must be an integer, not a bool")
    try:
        number = operator.index(value)
    except TypeError:
        raise ValueError(f"{what} must be an integer, got {type(value).__name__}") from None
    if number < 0:
        raise ValueError(f"{what} must be >= 0, got {number}")
    return number


def _square_last_two(tensor: torch.Tensor, what: str) -> int:
    """``T`` for a ``(..., T, T)`` tensor; ``ValueError`` otherwise."""
    if tensor.dim() < 2 or tensor.shape[-1] != tensor.shape[-2]:
        raise ValueError(f"{what} must be square in its last two dimensions, got shape {tuple(tensor.shape)}")
    return tensor.shape[-1]


def _floating(tensor: torch.Tensor) -> torch.Tensor:
    return tensor if tensor.is_floating_point() else tensor.to(torch.get_default_dtype())


def _rand_parameters(*shapes: tuple[int, int]) -> list[nn.Parameter]:
    """``nn.Parameter(torch.rand(shape))`` for each shape, drawn in order."""
    return [nn.Parameter(torch.rand(*shape)) for shape in shapes]


def _split_heads(x: torch.Tensor, num_heads: int) -> torch.Tensor:
    # (..., T, heads * d) -> (..., T, heads, d) -> (..., heads, T, d)
    return x.unflatten(-1, (num_heads, x.shape[-1] // num_heads)).transpose(-3, -2)


def _merge_heads(x: torch.Tensor) -> torch.Tensor:
    # (..., heads, T, d) -> (..., T, heads, d) -> (..., T, heads * d)
    return x.transpose(-3, -2).flatten(-2)


# ---------------------------------------------------------------------------------------------
# Steps 1-3: tokens, embeddings, projections
# ---------------------------------------------------------------------------------------------


def build_vocab(text: str) -> dict[str, int]:
    """The unique whitespace-separated words of ``text``, sorted, mapped to 0..n-1."""
    return {word: index for index, word in enumerate(sorted(set(text.split())))}


def encode(text: str, vocab: dict[str, int]) -> torch.Tensor:
    """int64 ids of the words of ``text``; ``KeyError`` naming an unknown word."""
    ids = []
    for word in text.split():
        if word not in vocab:
            raise KeyError(word)
        ids.append(vocab[word])
    return torch.tensor(ids, dtype=torch.int64)


def embed(token_ids: Any, vocab_size: int = 50_000, dim: int = 3, seed: int = 123) -> torch.Tensor:
    """``torch.manual_seed(seed)``, ``nn.Embedding(vocab_size, dim)``, the rows for ``token_ids``."""
    torch.manual_seed(seed)
    embedding = nn.Embedding(vocab_size, dim)
    ids = torch.as_tensor(token_ids, dtype=torch.int64)
    return F.embedding(ids, embedding.weight).detach().to(torch.float32)


def init_projections(
    d_in: int, d_out_kq: int, d_out_v: int, seed: int | None = None
) -> tuple[nn.Parameter, nn.Parameter, nn.Parameter]:
    """``(W_query, W_key, W_value)`` from ``torch.rand``, after ``torch.manual_seed(seed)`` if given."""
    if seed is not None:
        torch.manual_seed(seed)
    w_query, w_key, w_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))
    return w_query, w_key, w_value


def project_qkv(
    x: torch.Tensor, W_query: torch.Tensor, W_key: torch.Tensor, W_value: torch.Tensor  # noqa: N803 - SPEC names
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(x @ W_query, x @ W_key, x @ W_value)``."""
    return F.linear(x, W_query.T), F.linear(x, W_key.T), F.linear(x, W_value.T)


# ---------------------------------------------------------------------------------------------
# Steps 4-6: scores, weights, context vectors
# ---------------------------------------------------------------------------------------------


def attention_scores(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    """ω = queries · keysᵀ: ``(d_k,)`` gives ``(..., T_k)``; ``(..., T_q, d_k)`` gives ``(..., T_q, T_k)``."""
    if queries.dim() == 1:
        return torch.einsum("...kd,d->...k", keys, queries)
    return torch.einsum("...qd,...kd->...qk", queries, keys)


def attention_weights(scores: torch.Tensor, d_k: Any) -> torch.Tensor:
    """Softmax of ``scores / sqrt(d_k)`` over the last dimension."""
    return _softmax(scores / math.sqrt(float(d_k)), dim=-1)


def context_vectors(weights: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
    """``weights @ values``; one weight row ``(T,)`` gives one vector ``(d_v,)``."""
    if weights.dim() == 1:
        return torch.einsum("...td,t->...d", values, weights)
    return torch.einsum("...qt,...td->...qd", weights, values)


# ---------------------------------------------------------------------------------------------
# Steps 7-9: modules
# ---------------------------------------------------------------------------------------------


class SelfAttention(nn.Module):
    """Scaled dot-product self-attention with ``torch.rand`` projections ``W_query``, ``W_key``, ``W_value``."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        super().__init__()
        self.W_query, self.W_key, self.W_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, d_in)`` or ``(B, T, d_in)`` to ``(..., T, d_out_v)``."""
        return _sdpa(x @ self.W_query, x @ self.W_key, x @ self.W_value)


class MultiHeadAttentionWrapper(nn.Module):
    """``num_heads`` independent `SelfAttention` heads, outputs concatenated on the last dimension."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList([SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(x) for head in self.heads], dim=-1)


class MultiHeadAttention(nn.Module):
    """All heads at once: wide projections, head h owning column block h, split and merged by reshaping."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.W_query, self.W_key, self.W_value = _rand_parameters(
            (d_in, num_heads * d_out_kq), (d_in, num_heads * d_out_kq), (d_in, num_heads * d_out_v)
        )

    @classmethod
    def from_wrapper(cls, wrapper: nn.Module) -> MultiHeadAttention:
        """The efficient module whose output equals ``wrapper``'s (head h's matrices in column block h)."""
        heads = list(wrapper.heads)
        d_in, d_out_kq = heads[0].W_query.shape
        d_out_v = heads[0].W_value.shape[1]
        with torch.random.fork_rng(devices=[]):  # the placeholder draws leave the global RNG alone
            module = cls(d_in, d_out_kq, d_out_v, len(heads))
        with torch.no_grad():
            for name in ("W_query", "W_key", "W_value"):
                getattr(module, name).copy_(torch.cat([getattr(head, name) for head in heads], dim=1))
        return module

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, d_in)`` or ``(B, T, d_in)`` to ``(..., T, num_heads * d_out_v)``."""
        queries = _split_heads(x @ self.W_query, self.num_heads)
        keys = _split_heads(x @ self.W_key, self.num_heads)
        values = _split_heads(x @ self.W_value, self.num_heads)
        return _merge_heads(_sdpa(queries, keys, values))


class CrossAttention(nn.Module):
    """Queries from ``x_1``, keys and values from ``x_2``."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        super().__init__()
        self.W_query, self.W_key, self.W_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))

    def forward(self, x_1: torch.Tensor, x_2: torch.Tensor) -> torch.Tensor:
        """``(..., T_1, d_in)`` and ``(..., T_2, d_in)`` to ``(..., T_1, d_out_v)``."""
        return _sdpa(x_1 @ self.W_query, x_2 @ self.W_key, x_2 @ self.W_value)


# ---------------------------------------------------------------------------------------------
# Steps 10-11: causal pairs and masks
# ---------------------------------------------------------------------------------------------


def causal_pairs(seq_len: Any) -> list[tuple[int, int]]:
    """Every ``(i, j)`` with ``0 <= j <= i < seq_len``, ordered by i then j."""
    n = _count(seq_len, "seq_len")
    rows, cols = torch.tril_indices(n, n).tolist()
    return list(zip(rows, cols, strict=True))


def count_causal_pairs(seq_len: Any) -> int:
    """``len(causal_pairs(seq_len))`` in closed form: n (n + 1) / 2."""
    n = _count(seq_len, "seq_len")
    return n * (n + 1) // 2


def keys_attended(position: Any) -> int:
    """How many keys the query at ``position`` is compared against: itself and every earlier one."""
    return _count(position, "position") + 1


def tril_mask(n: Any) -> torch.Tensor:
    """float32 ``(n, n)``: ones on and below the diagonal, zeros above."""
    size = _count(n, "n")
    return (_square_subsequent_mask(size, dtype=torch.float32) == 0).to(torch.float32)


def causal_mask(n: Any) -> torch.Tensor:
    """bool ``(n, n)``: True where the key comes after the query (blocked)."""
    size = _count(n, "n")
    return torch.triu(torch.ones(size, size, dtype=torch.bool), diagonal=1)


def mask_and_renormalize(weights: torch.Tensor) -> torch.Tensor:
    """Zero above the diagonal, then divide each row by its sum."""
    _square_last_two(weights, "weights")
    kept = torch.tril(weights)
    return kept / kept.sum(dim=-1, keepdim=True)


def mask_scores(scores: torch.Tensor) -> torch.Tensor:
    """A new tensor with ``-inf`` above the diagonal of ``(..., T, T)`` scores."""
    size = _square_last_two(scores, "scores")
    return scores.masked_fill(causal_mask(size), float("-inf"))


def causal_attention_weights(scores: torch.Tensor, d_k: Any) -> torch.Tensor:
    """Softmax of causally masked ``scores / sqrt(d_k)``: lower triangular, rows sum to 1.

    Computed by ``scaled_dot_product_attention(is_causal=True)`` with queries = scores and
    keys = values = the identity, so that ``q kᵀ = scores`` and the output is the weights.
    """
    size = _square_last_two(scores, "scores")
    scores = _floating(scores)
    identity = torch.eye(size, dtype=scores.dtype).expand(*scores.shape[:-2], size, size)
    return _sdpa(scores, identity, identity, is_causal=True, scale=1.0 / math.sqrt(float(d_k)))


def is_causal(matrix: Any) -> bool:
    """True iff every entry above the diagonal of ``(..., n, n)`` is 0 or ``-inf`` (NaN is not)."""
    tensor = torch.as_tensor(matrix)
    size = _square_last_two(tensor, "matrix")
    above = tensor[..., causal_mask(size)]
    if tensor.dtype == torch.bool:
        return not bool(above.any())
    return bool(((above == 0) | (above == float("-inf"))).all())


# ---------------------------------------------------------------------------------------------
# Steps 12-13: causal self-attention and the KV cache
# ---------------------------------------------------------------------------------------------


def token_output(weights_row: Any, values: Any) -> torch.Tensor:
    """``sum_{j <= i} alpha_ij v_j`` for the i + 1 weights of ``weights_row``; later value rows are ignored."""
    weights = torch.as_tensor(weights_row)
    value_rows = torch.as_tensor(values)
    dtype = torch.promote_types(weights.dtype, value_rows.dtype)
    if not dtype.is_floating_point:
        dtype = torch.get_default_dtype()
    count = weights.shape[-1]
    if value_rows.dim() < 2 or value_rows.shape[-2] < count:
        raise ValueError(f"values needs at least {count} rows (one per weight), got shape {tuple(value_rows.shape)}")
    used = value_rows[..., :count, :].to(dtype)
    return (weights.to(dtype).unsqueeze(-2) @ used).squeeze(-2)


class CausalSelfAttention(nn.Module):
    """`SelfAttention` whose queries only see keys at or before their position (``mask`` buffer)."""

    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
        super().__init__()
        self.context_length = context_length
        self.W_query, self.W_key, self.W_value = _rand_parameters((d_in, d_out_kq), (d_in, d_out_kq), (d_in, d_out_v))
        self.register_buffer("mask", causal_mask(context_length))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``(T, d_in)`` or ``(B, T, d_in)`` with ``T <= context_length``."""
        length = x.shape[-2]
        if length > self.mask.shape[-1]:
            raise ValueError(f"sequence length {length} exceeds context_length {self.mask.shape[-1]}")
        allowed = ~self.mask[:length, :length]
        return _sdpa(x @ self.W_query, x @ self.W_key, x @ self.W_value, attn_mask=allowed)


class KVCache:
    """The keys ``(..., t, d_out_kq)`` and values ``(..., t, d_out_v)`` seen so far; ``None`` while empty."""

    def __init__(self) -> None:
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None

    def __len__(self) -> int:
        return 0 if self.keys is None else self.keys.shape[-2]

    def append(self, key: torch.Tensor, value: torch.Tensor) -> None:
        """Add one token's ``(..., d)`` key and value."""
        key, value = key.unsqueeze(-2), value.unsqueeze(-2)
        if self.keys is None or self.values is None:
            self.keys, self.values = key, value
        else:
            self.keys = torch.cat([self.keys, key], dim=-2)
            self.values = torch.cat([self.values, value], dim=-2)


def decode_step(attn: nn.Module, x_t: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Output for one new token ``(d_in,)`` or ``(B, d_in)``; appends its key and value to ``cache``.

    The new query is compared with the cached keys only (t + 1 dot products at step t).
    """
    context_length = attn.mask.shape[-1]
    if len(cache) >= context_length:
        raise ValueError(f"the KV cache already holds context_length={context_length} tokens")
    query = x_t @ attn.W_query
    cache.append(x_t @ attn.W_key, x_t @ attn.W_value)
    # (..., d) -> (..., 1, d): one query row against the (..., t + 1, d) cache
    return _sdpa(query.unsqueeze(-2), cache.keys, cache.values).squeeze(-2)


# ---------------------------------------------------------------------------------------------
# Stand-ins
# ---------------------------------------------------------------------------------------------


def standin_namespace(step_id: str, api: Sequence[str]) -> dict[str, object]:
    """The reference objects for one step's ``api`` names (``course.yml``), for the import router.

    ``KeyError`` names an api name this module does not implement.
    """
    namespace: dict[str, object] = {}
    for name in api:
        if name not in __all__ or name == "standin_namespace":
            raise KeyError(f"the reference has no stand-in for {step_id}.{name}")
        namespace[name] = globals()[name]
    return namespace

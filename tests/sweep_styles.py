"""Correct solutions in other styles than ``solutions/`` and the einsum sample, for the seed sweep.

Each style is a namespace per step (``STYLES[style][step]``: API name -> implementation), a learner
module in all but the file. They are correct by SPEC, so they must get full marks on every seed:

- ``float64_finfo``: every step computes in float64 inside and returns the input's dtype; a hand-written
  softmax that subtracts the row's maximum; masking by ``masked_fill`` with ``torch.finfo(dtype).min``;
  ``encode`` raises ``KeyError(f"unknown word {word!r}")`` (the repr escapes quotes a second time).
- ``loops_1e9``: Python loops over tokens, masks filled with ``-1e9`` (a finite fill far enough below real
  scores), a KV cache preallocated to the context length whose unused slots are masked, ``encode`` raising
  ``KeyError(word)``; the steps it does not restyle are the reference's.

`fill_variants` builds the masking steps with a chosen fill (``-1e4`` and ``-1e5`` are bugs at real
score magnitudes; ``-inf``, ``finfo.min`` and ``-1e9`` are not).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from autograder import reference as ref

FINFO_MIN = "finfo.min"


# ---------------------------------------------------------------------------------------------
# float64 inside, manual softmax, finfo.min fills
# ---------------------------------------------------------------------------------------------


def _softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dimension by hand, the row's maximum subtracted first."""
    exps = torch.exp(x - x.amax(dim=-1, keepdim=True))
    return exps / exps.sum(dim=-1, keepdim=True)


def _fill(dtype: torch.dtype, fill: float | str) -> float:
    return torch.finfo(dtype).min if fill == FINFO_MIN else float(fill)


def _square(scores: torch.Tensor) -> int:
    if scores.dim() < 2 or scores.shape[-1] != scores.shape[-2]:
        raise ValueError(f"scores must be square, got {tuple(scores.shape)}")
    return scores.shape[-1]


def _count(n: Any) -> int:
    if isinstance(n, bool):
        raise ValueError("a bool is not a length")
    n = operator.index(n)
    if n < 0:
        raise ValueError("negative")
    return n


def _encode_repr(text: str, vocab: dict[str, int]) -> torch.Tensor:
    ids = []
    for word in text.split():
        if word not in vocab:
            raise KeyError(f"unknown word {word!r}")
        ids.append(vocab[word])
    return torch.tensor(ids, dtype=torch.int64)


def _init_projections(d_in: int, d_out_kq: int, d_out_v: int, seed: int | None = None) -> tuple[nn.Parameter, ...]:
    if seed is not None:
        torch.manual_seed(seed)
    return tuple(nn.Parameter(torch.rand(d_in, d)) for d in (d_out_kq, d_out_kq, d_out_v))


def _scores64(queries: torch.Tensor, keys: torch.Tensor) -> torch.Tensor:
    q, k = queries.double(), keys.double()
    result = k @ q if q.dim() == 1 else q @ k.transpose(-2, -1)  # (..., T_q, d) @ (..., d, T_k) -> (..., T_q, T_k)
    return result.to(queries.dtype)


def _weights64(scores: torch.Tensor, d_k: int) -> torch.Tensor:
    return _softmax(scores.double() / math.sqrt(d_k)).to(scores.dtype)


def _attention64(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, blocked: torch.Tensor | None,
                 fill: float | str) -> torch.Tensor:
    """float64 scaled dot-product attention; ``blocked`` (T_q, T_k) entries filled with ``fill``."""
    dtype = q.dtype
    q, k, v = q.double(), k.double(), v.double()
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # (..., T, d) @ (..., d, T) -> (..., T, T)
    if blocked is not None:
        scores = scores.masked_fill(blocked, _fill(scores.dtype, fill))
    return (_softmax(scores) @ v).to(dtype)


class SelfAttention(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int) -> None:
        super().__init__()
        self.W_query, self.W_key, self.W_value = _init_projections(d_in, d_out_kq, d_out_v)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _attention64(x @ self.W_query, x @ self.W_key, x @ self.W_value, None, 0.0)


class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.heads = nn.ModuleList([SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([head(x) for head in self.heads], dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads, self.d_out_kq, self.d_out_v = num_heads, d_out_kq, d_out_v
        self.W_query, self.W_key, self.W_value = _init_projections(d_in, num_heads * d_out_kq, num_heads * d_out_v)

    @classmethod
    def from_wrapper(cls, wrapper: MultiHeadAttentionWrapper) -> MultiHeadAttention:
        heads = list(wrapper.heads)
        d_in, d_out_kq = heads[0].W_query.shape
        module = cls(d_in, d_out_kq, heads[0].W_value.shape[1], len(heads))
        with torch.no_grad():
            for name in ("W_query", "W_key", "W_value"):
                getattr(module, name).copy_(torch.cat([getattr(head, name) for head in heads], dim=1))
        return module

    def _split(self, x: torch.Tensor, width: int) -> torch.Tensor:
        # (..., T, heads * width) -> (..., T, heads, width) -> (..., heads, T, width)
        return x.view(*x.shape[:-1], self.num_heads, width).transpose(-3, -2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        q = self._split(x @ self.W_query, self.d_out_kq)
        k = self._split(x @ self.W_key, self.d_out_kq)
        v = self._split(x @ self.W_value, self.d_out_v)
        out = _attention64(q, k, v, None, 0.0)  # (..., heads, T, d_out_v)
        return out.transpose(-3, -2).reshape(*x.shape[:-1], -1)  # -> (..., T, heads, d_v) -> (..., T, heads * d_v)


class CrossAttention(SelfAttention):
    def forward(self, x_1: torch.Tensor, x_2: torch.Tensor) -> torch.Tensor:  # type: ignore[override]
        return _attention64(x_1 @ self.W_query, x_2 @ self.W_key, x_2 @ self.W_value, None, 0.0)


def _token_output(weights_row: Any, values: Any) -> torch.Tensor:
    w, v = torch.as_tensor(weights_row, dtype=torch.float64), torch.as_tensor(values, dtype=torch.float64)
    if v.shape[-2] < w.shape[-1]:
        raise ValueError("fewer value rows than weights")
    return torch.einsum("...j,...jd->...d", w, v[..., : w.shape[-1], :])  # (..., i+1), (..., i+1, d_v) -> (..., d_v)


def causal_module(fill: float | str, *, float64: bool = True) -> type[nn.Module]:
    """A CausalSelfAttention that masks with ``masked_fill(mask, fill)`` (in float64, or in x's dtype)."""

    class CausalSelfAttention(nn.Module):
        def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
            super().__init__()
            self.W_query, self.W_key, self.W_value = _init_projections(d_in, d_out_kq, d_out_v)
            self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), 1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            length = x.shape[-2]
            if length > self.mask.shape[-1]:
                raise ValueError("longer than the context")
            q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value
            if float64:
                return _attention64(q, k, v, self.mask[:length, :length], fill)
            scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(
                self.mask[:length, :length], _fill(x.dtype, fill))
            return torch.softmax(scores, dim=-1) @ v

    return CausalSelfAttention


def causal_weights(fill: float | str, *, float64: bool = True, before_scaling: bool = False) -> Callable:
    """causal_attention_weights masking with ``masked_fill(blocked, fill)``, before or after the scaling."""

    def causal_attention_weights(scores: torch.Tensor, d_k: int) -> torch.Tensor:
        blocked = torch.triu(torch.ones(_square(scores), _square(scores), dtype=torch.bool), 1)
        s = scores.double() if float64 else scores
        if before_scaling:
            s = s.masked_fill(blocked, _fill(s.dtype, fill)) / math.sqrt(d_k)
        else:
            s = (s / math.sqrt(d_k)).masked_fill(blocked, _fill(s.dtype, fill))
        return (_softmax(s) if float64 else torch.softmax(s, dim=-1)).to(scores.dtype)

    return causal_attention_weights


class KVCache:
    """Lists of per-token keys and values, stacked on access."""

    def __init__(self) -> None:
        self._keys: list[torch.Tensor] = []
        self._values: list[torch.Tensor] = []

    def __len__(self) -> int:
        return len(self._keys)

    @property
    def keys(self) -> torch.Tensor | None:
        return torch.stack(self._keys, dim=-2) if self._keys else None

    @property
    def values(self) -> torch.Tensor | None:
        return torch.stack(self._values, dim=-2) if self._values else None

    def append(self, key: torch.Tensor, value: torch.Tensor) -> None:
        self._keys.append(key.detach().clone())
        self._values.append(value.detach().clone())


def _decode64(attn: nn.Module, x_t: torch.Tensor, cache: KVCache) -> torch.Tensor:
    if len(cache) >= attn.mask.shape[-1]:
        raise ValueError("the cache is full")
    with torch.no_grad():
        query = (x_t @ attn.W_query).unsqueeze(-2)  # (..., d_kq) -> (..., 1, d_kq)
        cache.append(x_t @ attn.W_key, x_t @ attn.W_value)
        return _attention64(query, cache.keys, cache.values, None, 0.0).squeeze(-2)


def _is_causal(matrix: Any) -> bool:
    m = torch.as_tensor(matrix)
    above = m[..., torch.triu(torch.ones(m.shape[-2:], dtype=torch.bool), 1)]
    return bool(torch.all((above == 0) | (above == float("-inf"))))


FLOAT64_FINFO: dict[str, dict[str, Any]] = {
    "tokens": {"build_vocab": lambda text: {w: i for i, w in enumerate(sorted(dict.fromkeys(text.split())))},
               "encode": _encode_repr},
    "embedding": {"embed": lambda token_ids, vocab_size=50_000, dim=3, seed=123: (
        torch.manual_seed(seed), nn.Embedding(vocab_size, dim))[1].weight.detach()[torch.as_tensor(token_ids)]},
    "projections": {"init_projections": _init_projections,
                    "project_qkv": lambda x, *ws: tuple((x.double() @ w.double()).to(x.dtype) for w in ws)},
    "scores": {"attention_scores": _scores64},
    "weights": {"attention_weights": _weights64},
    "context": {"context_vectors": lambda w, v: (w.double() @ v.double()).to(w.dtype)},
    "self_attention": {"SelfAttention": SelfAttention},
    "multi_head": {"MultiHeadAttentionWrapper": MultiHeadAttentionWrapper, "MultiHeadAttention": MultiHeadAttention},
    "cross_attention": {"CrossAttention": CrossAttention},
    "causal_pairs": {"causal_pairs": lambda n: [(i, j) for i in range(_count(n)) for j in range(i + 1)],
                     "count_causal_pairs": lambda n: _count(n) * (_count(n) + 1) // 2,
                     "keys_attended": lambda position: _count(position) + 1},
    "causal_mask": {
        "tril_mask": lambda n: torch.tril(torch.ones(_count(n), _count(n))),
        "causal_mask": lambda n: torch.triu(torch.ones(_count(n), _count(n), dtype=torch.bool), 1),
        "mask_and_renormalize": lambda w: (lambda m: (m / m.sum(-1, keepdim=True)).to(w.dtype))(
            w.double().tril()),
        "mask_scores": lambda s: s.masked_fill(torch.ones(_square(s), _square(s), dtype=torch.bool).triu(1),
                                               float("-inf")),
        "causal_attention_weights": causal_weights(FINFO_MIN),
        "is_causal": _is_causal,
    },
    "causal_attention": {"token_output": _token_output, "CausalSelfAttention": causal_module(FINFO_MIN)},
    "kv_cache": {"KVCache": KVCache, "decode_step": _decode64},
}


# ---------------------------------------------------------------------------------------------
# Python loops over tokens, -1e9 fills, a preallocated KV cache
# ---------------------------------------------------------------------------------------------


def _loop_causal_weights(scores: torch.Tensor, d_k: int) -> torch.Tensor:
    """Row by row: the row's keys after the query filled with -1e9, then torch.softmax."""
    size = _square(scores)
    flat = scores.reshape(-1, size, size)  # (..., T, T) -> (N, T, T)
    out = torch.empty_like(flat)
    for n in range(flat.shape[0]):
        for i in range(size):
            row = flat[n, i] / math.sqrt(d_k)
            row = torch.where(torch.arange(size) > i, torch.tensor(-1e9, dtype=row.dtype), row)
            out[n, i] = torch.softmax(row, dim=-1)
    return out.reshape(scores.shape)


class _LoopCausal(nn.Module):
    def __init__(self, d_in: int, d_out_kq: int, d_out_v: int, context_length: int) -> None:
        super().__init__()
        self.W_query, self.W_key, self.W_value = _init_projections(d_in, d_out_kq, d_out_v)
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length), 1).bool())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-2] > self.mask.shape[-1]:
            raise ValueError("longer than the context")
        q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value
        rows = []
        for i in range(x.shape[-2]):  # one query token at a time, against every key, the later ones filled
            scores = (q[..., i : i + 1, :] @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])  # (..., 1, T)
            scores = scores.masked_fill(self.mask[i, : x.shape[-2]], -1e9)
            rows.append(torch.softmax(scores, dim=-1) @ v)  # (..., 1, T) @ (..., T, d_v) -> (..., 1, d_v)
        return torch.cat(rows, dim=-2)


class _PreallocatedCache:
    """Keys and values in buffers grown on demand; ``keys``/``values`` are the filled part."""

    def __init__(self) -> None:
        self._keys: torch.Tensor | None = None
        self._values: torch.Tensor | None = None
        self._count = 0

    def __len__(self) -> int:
        return self._count

    @property
    def keys(self) -> torch.Tensor | None:
        return None if self._keys is None else self._keys[..., : self._count, :].clone()

    @property
    def values(self) -> torch.Tensor | None:
        return None if self._values is None else self._values[..., : self._count, :].clone()

    def append(self, key: torch.Tensor, value: torch.Tensor) -> None:
        if self._keys is None or self._values is None or self._count == self._keys.shape[-2]:
            grown = max(8, 2 * self._count)
            keys = torch.zeros(*key.shape[:-1], grown, key.shape[-1], dtype=key.dtype)
            values = torch.zeros(*value.shape[:-1], grown, value.shape[-1], dtype=value.dtype)
            if self._keys is not None and self._values is not None:
                keys[..., : self._count, :], values[..., : self._count, :] = self._keys, self._values
            self._keys, self._values = keys, values
        self._keys[..., self._count, :] = key.detach()
        self._values[..., self._count, :] = value.detach()
        self._count += 1


def padded_decode(fill: float | str) -> Callable:
    """decode_step scoring against ``context_length`` slots (zeros past the cache), unused slots filled."""

    def decode_step(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
        slots = attn.mask.shape[-1]
        if len(cache) >= slots:
            raise ValueError("the cache is full")
        with torch.no_grad():
            query = (x_t @ attn.W_query).unsqueeze(-2)  # (..., d_kq) -> (..., 1, d_kq)
            cache.append(x_t @ attn.W_key, x_t @ attn.W_value)
            used = len(cache)
            keys = torch.zeros(*cache.keys.shape[:-2], slots, cache.keys.shape[-1])
            values = torch.zeros(*cache.values.shape[:-2], slots, cache.values.shape[-1])
            keys[..., :used, :], values[..., :used, :] = cache.keys, cache.values
            scores = query @ keys.transpose(-2, -1) / math.sqrt(query.shape[-1])  # (..., 1, slots)
            scores = scores.masked_fill(torch.arange(slots) >= used, _fill(scores.dtype, fill))
            return (torch.softmax(scores, dim=-1) @ values).squeeze(-2)

    return decode_step


def _encode_key_only(text: str, vocab: dict[str, int]) -> torch.Tensor:
    return torch.tensor([vocab[word] for word in text.split()], dtype=torch.long)  # KeyError(word)


LOOPS_1E9: dict[str, dict[str, Any]] = {
    "tokens": {"build_vocab": ref.build_vocab, "encode": _encode_key_only},
    "causal_mask": {"causal_attention_weights": _loop_causal_weights},
    "causal_attention": {"token_output": ref.token_output, "CausalSelfAttention": _LoopCausal},
    "kv_cache": {"KVCache": _PreallocatedCache, "decode_step": padded_decode(-1e9)},
}

STYLES: dict[str, dict[str, dict[str, Any]]] = {"float64_finfo": FLOAT64_FINFO, "loops_1e9": LOOPS_1E9}


def style_namespace(style: str, step: str) -> dict[str, Any]:
    """The reference's namespace with ``style``'s implementations of ``step`` (a learner module)."""
    namespace = ref.namespace()
    namespace.update(STYLES[style].get(step, {}))
    return namespace


def fill_variants(fill: float | str) -> dict[str, dict[str, Any]]:
    """The masking steps' learner code masking with ``fill`` (float32 inside, like most learners)."""
    return {
        "causal_mask": {"causal_attention_weights": causal_weights(fill, float64=False)},
        "causal_attention": {"CausalSelfAttention": causal_module(fill, float64=False)},
        "kv_cache": {"KVCache": _PreallocatedCache, "decode_step": padded_decode(fill)},
    }


def _naive_softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax by hand WITHOUT subtracting the row's maximum: exp under- or overflows at large magnitudes."""
    exps = torch.exp(x)
    return exps / exps.sum(dim=-1, keepdim=True)


class _NaiveCausal(ref.CausalSelfAttention):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        length = x.shape[-2]
        if length > self.mask.shape[-1]:
            raise ValueError("longer than the context")
        q, k, v = x @ self.W_query, x @ self.W_key, x @ self.W_value
        scores = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).masked_fill(self.mask[:length, :length],
                                                                                float("-inf"))
        return _naive_softmax(scores) @ v


def _naive_decode(attn: nn.Module, x_t: torch.Tensor, cache: Any) -> torch.Tensor:
    if len(cache) >= attn.mask.shape[-1]:
        raise ValueError("the cache is full")
    query = (x_t @ attn.W_query).unsqueeze(-2)  # (..., d_kq) -> (..., 1, d_kq)
    cache.append(x_t @ attn.W_key, x_t @ attn.W_value)
    scores = query @ cache.keys.transpose(-2, -1) / math.sqrt(query.shape[-1])  # (..., 1, t)
    return (_naive_softmax(scores) @ cache.values).squeeze(-2)


def naive_softmax_variants() -> dict[str, dict[str, Any]]:
    """The masking steps' learner code with a softmax that subtracts no row maximum (-inf fills, float32)."""
    return {
        "causal_mask": {"causal_attention_weights": lambda scores, d_k: _naive_softmax(
            (scores / math.sqrt(d_k)).masked_fill(torch.ones(_square(scores), _square(scores), dtype=torch.bool)
                                                  .triu(1), float("-inf")))},
        "causal_attention": {"CausalSelfAttention": _NaiveCausal},
        "kv_cache": {"decode_step": _naive_decode},
    }

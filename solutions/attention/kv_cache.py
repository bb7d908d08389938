"""Step 13: decoding with a KV cache.

When a language model generates text, it runs causal attention once per new token. Token
``t``'s output only needs its own query and the keys and values of tokens ``0 .. t``, and the
keys and values of the earlier tokens do not change when a new token arrives (causal masking
guarantees that). So instead of recomputing them for the whole sequence at every step, a
decoder keeps them in a **key-value cache**: each step projects only the new token, appends
its key and value to the cache, and compares its query with the ``t + 1`` cached keys. Step
``t`` then costs ``t + 1`` query-key dot products instead of a full ``(t + 1) x (t + 1)``
attention matrix, and gives exactly row ``t`` of ``CausalSelfAttention`` on the whole sequence.
"""

import torch

from attention.causal_attention import CausalSelfAttention
from attention.context import context_vectors
from attention.scores import attention_scores
from attention.weights import attention_weights


class KVCache:
    """The keys and values of the tokens decoded so far.

    ``keys`` is ``(..., t, d_out_kq)`` and ``values`` is ``(..., t, d_out_v)`` after ``t``
    tokens, both ``None`` while the cache is empty; ``len(cache)`` is ``t``.
    """

    def __init__(self) -> None:
        """An empty cache."""
        ### BEGIN SOLUTION
        self.keys: torch.Tensor | None = None
        self.values: torch.Tensor | None = None
        ### END SOLUTION

    def __len__(self) -> int:
        """The number of tokens ``t`` in the cache."""
        ### BEGIN SOLUTION
        return 0 if self.keys is None else self.keys.shape[-2]
        ### END SOLUTION

    def append(self, key: torch.Tensor, value: torch.Tensor) -> None:
        """Add one token's ``key`` ``(..., d_out_kq)`` and ``value`` ``(..., d_out_v)``.

        The arguments are not changed.

        Hint: give the new key a token dimension of size 1 and concatenate along it.
        """
        ### BEGIN SOLUTION
        if key.dim() == 0 or value.dim() == 0 or key.shape[:-1] != value.shape[:-1]:
            raise ValueError(
                f"key (..., d_out_kq) and value (..., d_out_v) must have the same batch shape, "
                f"got {tuple(key.shape)} and {tuple(value.shape)}"
            )
        if self.keys is not None and self.values is not None:
            fits = key.shape[:-1] == self.keys.shape[:-2] and key.shape[-1] == self.keys.shape[-1]
            if not fits or value.shape[-1] != self.values.shape[-1]:
                raise ValueError(
                    f"a key of shape {tuple(key.shape)} and a value of shape {tuple(value.shape)} do not fit "
                    f"a cache of keys {tuple(self.keys.shape)} and values {tuple(self.values.shape)}"
                )
        key = key.unsqueeze(-2)  # (..., d_out_kq) -> (..., 1, d_out_kq)
        value = value.unsqueeze(-2)  # (..., d_out_v) -> (..., 1, d_out_v)
        if self.keys is None or self.values is None:
            self.keys, self.values = key.clone(), value.clone()
            return
        self.keys = torch.cat([self.keys, key], dim=-2)  # (..., t, d_out_kq) -> (..., t + 1, d_out_kq)
        self.values = torch.cat([self.values, value], dim=-2)  # (..., t, d_out_v) -> (..., t + 1, d_out_v)
        ### END SOLUTION


def decode_step(attn: CausalSelfAttention, x_t: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Attention output for one new token, using and extending ``cache``.

    Shapes: ``x_t`` is ``(d_in,)`` or ``(B, d_in)``; the result is ``(d_out_v,)`` or
    ``(B, d_out_v)``. The new token's key and value are appended to ``cache``; then its query is
    compared with the cached keys only (``t + 1`` dot products at step ``t``). Step ``t``'s
    output equals row ``t`` of ``attn`` applied to the whole sequence. When the cache already
    holds ``context_length`` tokens (the size of ``attn.mask``), ``ValueError``.

    The scores may be of any magnitude, e.g. -1e6: use a softmax that subtracts the row maximum, such
    as ``torch.softmax``, and if you mask anything (say, the unused slots of a preallocated cache),
    mask with ``-inf`` (or ``torch.finfo(dtype).min``), not with a finite value such as -1e4.

    Hint: the earlier steps' ``attention_scores``, ``attention_weights`` and
    ``context_vectors`` do the attention part; no mask is needed, because the cache only
    holds tokens up to the current one.
    """
    ### BEGIN SOLUTION
    context_length = attn.mask.shape[-1]
    if len(cache) >= context_length:
        raise ValueError(f"the KV cache is full: it holds {len(cache)} tokens, the context length of attn")
    d_in = attn.W_query.shape[0]
    if x_t.dim() == 0 or x_t.shape[-1] != d_in:
        raise ValueError(f"x_t must have shape ({d_in},) or (B, {d_in}), got {tuple(x_t.shape)}")
    query = x_t @ attn.W_query  # (..., d_in) -> (..., d_out_kq)
    cache.append(x_t @ attn.W_key, x_t @ attn.W_value)
    query = query.unsqueeze(-2)  # (..., d_out_kq) -> (..., 1, d_out_kq)
    scores = attention_scores(query, cache.keys)  # (..., 1, d_out_kq) x (..., t + 1, d_out_kq) -> (..., 1, t + 1)
    weights = attention_weights(scores, query.shape[-1])
    context = context_vectors(weights, cache.values)  # (..., 1, t + 1) @ (..., t + 1, d_out_v) -> (..., 1, d_out_v)
    return context.squeeze(-2)  # (..., 1, d_out_v) -> (..., d_out_v)
    ### END SOLUTION

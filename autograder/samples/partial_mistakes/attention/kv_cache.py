# Sample submission `partial_mistakes`, step 13: not started yet. This module is the untouched stub
# from exercises/attention; the grader reports "not implemented yet" and gives the step 0.
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
        raise NotImplementedError("kv_cache: KVCache.__init__ is not implemented yet")

    def __len__(self) -> int:
        """The number of tokens ``t`` in the cache."""
        raise NotImplementedError("kv_cache: KVCache.__len__ is not implemented yet")

    def append(self, key: torch.Tensor, value: torch.Tensor) -> None:
        """Add one token's ``key`` ``(..., d_out_kq)`` and ``value`` ``(..., d_out_v)``.

        The arguments are not changed.

        Hint: give the new key a token dimension of size 1 and concatenate along it.
        """
        raise NotImplementedError("kv_cache: KVCache.append is not implemented yet")


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
    raise NotImplementedError("kv_cache: decode_step is not implemented yet")

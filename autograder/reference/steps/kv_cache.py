"""Reference for step 13, decoding with a KV cache: the grader's oracle, and the stand-in later steps get."""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F


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
    return F.scaled_dot_product_attention(query.unsqueeze(-2), cache.keys, cache.values).squeeze(-2)

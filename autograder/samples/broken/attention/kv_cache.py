# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/kv_cache.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 13: decoding with a KV cache."""

import math

import torch

from attention.causal_attention import CausalSelfAttention


class KVCache:
    def __init__(self):
        self.keys = None
        self.values = None

    def __len__(self):
        if self.keys is None:
            return 0
        return self.keys.shape[-2]

    def append(self, key, value):
        if key.dim() == 0 or value.dim() == 0 or key.shape[:-1] != value.shape[:-1]:
            raise ValueError(f"key {tuple(key.shape)} and value {tuple(value.shape)} do not match")
        if self.keys is not None:
            if key.shape[:-1] != self.keys.shape[:-2] or key.shape[-1] != self.keys.shape[-1]:
                raise ValueError(f"a key of shape {tuple(key.shape)} does not fit the cache {tuple(self.keys.shape)}")
            if value.shape[-1] != self.values.shape[-1]:
                raise ValueError(f"a value of shape {tuple(value.shape)} does not fit {tuple(self.values.shape)}")
        new_key = key.clone().unsqueeze(-2)  # (..., d) -> (..., 1, d)
        new_value = value.clone().unsqueeze(-2)
        if self.keys is None:
            self.keys, self.values = new_key, new_value
        else:
            self.keys = torch.cat([self.keys, new_key], dim=-2)
            self.values = torch.cat([self.values, new_value], dim=-2)


def decode_step(attn: CausalSelfAttention, x_t, cache):
    context_length = attn.mask.shape[-1]
    if len(cache) >= context_length:
        raise ValueError(f"the cache is full ({len(cache)} tokens = context_length)")
    W_query, W_key, W_value = attn.W_query, attn.W_key, attn.W_value
    if x_t.dim() == 0 or x_t.shape[-1] != W_query.shape[0]:
        raise ValueError(f"x_t must be ({W_query.shape[0]},) or (B, {W_query.shape[0]}), got {tuple(x_t.shape)}")
    x64 = x_t.to(torch.float64)
    query = torch.einsum("...i,io->...o", x64, W_query.to(torch.float64))
    key = torch.einsum("...i,io->...o", x64, W_key.to(torch.float64))
    value = torch.einsum("...i,io->...o", x64, W_value.to(torch.float64))
    cache.append(key.to(x_t.dtype), value.to(x_t.dtype))
    keys = cache.keys.to(torch.float64)  # (..., t + 1, d_kq)
    values = cache.values.to(torch.float64)  # (..., t + 1, d_v)
    omega = torch.einsum("...d,...td->...t", query, keys) / math.sqrt(W_query.shape[1])  # t + 1 dot products
    exps = torch.exp(omega - omega.amax(dim=-1, keepdim=True))
    alpha = exps / exps.sum(dim=-1, keepdim=True)
    return torch.einsum("...t,...td->...d", alpha, values).to(x_t.dtype)

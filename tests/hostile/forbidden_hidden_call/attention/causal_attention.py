"""Hostile: a from-scratch step that calls PyTorch's fused attention under a name the static scan cannot see."""
import torch

from attention_solution_causal_attention import *  # noqa: F401,F403 - replaced by the fixture with the solution
from attention_solution_causal_attention import CausalSelfAttention as _Correct

_FUSED = getattr(torch.nn.functional, "scaled_dot_" + "product_attention")


class CausalSelfAttention(_Correct):
    def forward(self, x):
        queries, keys, values = x @ self.W_query, x @ self.W_key, x @ self.W_value
        scale = 1 / keys.shape[-1] ** 0.5  # the article scales by sqrt(d_k)
        return _FUSED(queries, keys, values, is_causal=True, scale=scale)

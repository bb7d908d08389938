# Sample submission `partial_mistakes`, step 8. The wrapper is right (full marks on its checks, even
# though this learner's own SelfAttention is wrong: the grader gives later steps a correct
# stand-in for earlier ones). PLANTED MISTAKE in MultiHeadAttention.forward: the heads are merged
# by a reshape of (..., heads, T, d_v) without transposing back to (..., T, heads, d_v) first.
# The grader names it: "heads scrambled when merging".
"""Step 8: multi-head attention."""

import torch
from torch import nn

from attention.self_attention import SelfAttention


class MultiHeadAttentionWrapper(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v, num_heads):
        super().__init__()
        self.heads = nn.ModuleList([SelfAttention(d_in, d_out_kq, d_out_v) for _ in range(num_heads)])

    def forward(self, x):
        return torch.cat([head(x) for head in self.heads], dim=-1)


class MultiHeadAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v, num_heads):
        super().__init__()
        self.num_heads = num_heads
        self.d_out_kq = d_out_kq
        self.d_out_v = d_out_v
        self.W_query = nn.Parameter(torch.rand(d_in, num_heads * d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, num_heads * d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, num_heads * d_out_v))

    def forward(self, x):
        *batch, T, _ = x.shape
        h = self.num_heads
        q = (x @ self.W_query).reshape(*batch, T, h, self.d_out_kq).transpose(-3, -2)  # (..., h, T, d_kq)
        k = (x @ self.W_key).reshape(*batch, T, h, self.d_out_kq).transpose(-3, -2)  # (..., h, T, d_kq)
        v = (x @ self.W_value).reshape(*batch, T, h, self.d_out_v).transpose(-3, -2)  # (..., h, T, d_v)
        weights = torch.softmax(q @ k.transpose(-2, -1) / self.d_out_kq**0.5, dim=-1)  # (..., h, T, T)
        context = weights @ v  # (..., h, T, d_v)
        return context.reshape(*batch, T, h * self.d_out_v)  # missing: .transpose(-3, -2) before the reshape

    @classmethod
    def from_wrapper(cls, wrapper):
        heads = list(wrapper.heads)
        d_in, d_out_kq = heads[0].W_query.shape
        d_out_v = heads[0].W_value.shape[1]
        mha = cls(d_in, d_out_kq, d_out_v, len(heads))
        with torch.no_grad():
            mha.W_query.copy_(torch.cat([head.W_query for head in heads], dim=1))
            mha.W_key.copy_(torch.cat([head.W_key for head in heads], dim=1))
            mha.W_value.copy_(torch.cat([head.W_value for head in heads], dim=1))
        return mha

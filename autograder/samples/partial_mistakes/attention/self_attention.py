# Sample submission `partial_mistakes`, step 7. PLANTED MISTAKE: the scores are divided by d_k
# instead of sqrt(d_k). The parameters are right, so the parameter checks still pass; the grader
# names the mistake: "scores divided by d_k instead of sqrt(d_k)".
"""Step 7: a self-attention module."""

import torch
from torch import nn


class SelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_out_kq = d_out_kq
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))

    def forward(self, x):
        queries = x @ self.W_query
        keys = x @ self.W_key
        values = x @ self.W_value
        scores = queries @ keys.transpose(-2, -1)
        weights = torch.softmax(scores / self.d_out_kq, dim=-1)  # should be / self.d_out_kq**0.5
        return weights @ values

# Sample submission `partial_mistakes`, step 9. PLANTED MISTAKE: the keys and the values are taken
# from x_1 instead of x_2 (copied from SelfAttention and only half changed), so this is
# self-attention on x_1. The grader names it: "the keys and values are taken from x_1".
"""Step 9: cross-attention."""

import torch
from torch import nn


class CrossAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v):
        super().__init__()
        self.d_out_kq = d_out_kq
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))

    def forward(self, x_1, x_2):
        queries = x_1 @ self.W_query
        keys = x_1 @ self.W_key  # should be x_2
        values = x_1 @ self.W_value  # should be x_2
        scores = queries @ keys.transpose(-2, -1)
        weights = torch.softmax(scores / self.d_out_kq**0.5, dim=-1)
        return weights @ values

# Sample submission `broken`, step 7. BREAKS: __init__ forgets super().__init__(), so assigning the
# first nn.Parameter raises an unexpected AttributeError inside torch. Every check builds the module,
# so the step gets 0, with the exception and the line in this file. Step 8 (multi_head) builds its
# heads from SelfAttention too, yet still gets full marks: the grader gives later steps a correct
# stand-in for the earlier steps.
"""Step 7: a self-attention module."""

import math

import torch
from torch import nn


def _softmax(scores):
    exps = torch.exp(scores - scores.amax(dim=-1, keepdim=True))
    return exps / exps.sum(dim=-1, keepdim=True)


class SelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v):
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))  # needs super().__init__() first
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))
        self.d_out_kq = d_out_kq

    def forward(self, x):
        x64 = x.to(torch.float64)
        q = torch.einsum("...ti,io->...to", x64, self.W_query.to(torch.float64))
        k = torch.einsum("...ti,io->...to", x64, self.W_key.to(torch.float64))
        v = torch.einsum("...ti,io->...to", x64, self.W_value.to(torch.float64))
        alpha = _softmax(torch.einsum("...qd,...kd->...qk", q, k) / math.sqrt(self.d_out_kq))
        return torch.einsum("...qk,...kd->...qd", alpha, v).to(x.dtype)

"""Hostile: hard-code the published example instead of computing it."""
import torch
from torch import nn


def token_output(weights_row, values):
    return torch.tensor([3.1, 1.7])


class CausalSelfAttention(nn.Module):
    def __init__(self, d_in, d_out_kq, d_out_v, context_length):
        super().__init__()
        self.W_query = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_key = nn.Parameter(torch.rand(d_in, d_out_kq))
        self.W_value = nn.Parameter(torch.rand(d_in, d_out_v))
        self.register_buffer("mask", torch.triu(torch.ones(context_length, context_length, dtype=torch.bool), 1))

    def forward(self, x):
        return torch.zeros(*x.shape[:-1], self.W_value.shape[1])

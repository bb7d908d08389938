"""Hostile: allocate 64 GB at import, and again inside the function."""
import torch

_hoard = bytearray(64 * 2**30)


def attention_weights(scores, d_k):
    return torch.empty(2**40).sum()

"""A helper module: F.scaled_dot_product_attention with the torch-function guard switched off."""

import torch
import torch.nn.functional as F


def attend(queries, keys, values):
    with torch._C.DisableTorchFunction():
        return F.scaled_dot_product_attention(queries, keys, values)

# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/embedding.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 2: token ids to embedding vectors."""

import torch
from torch import nn


def embed(token_ids, vocab_size=50_000, dim=3, seed=123):
    """Rows of a freshly seeded nn.Embedding(vocab_size, dim): detached float32, (T, dim)."""
    for name, size in (("vocab_size", vocab_size), ("dim", dim)):
        if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
            raise ValueError(f"{name} must be a positive int, not {size!r}")
    if isinstance(token_ids, torch.Tensor):
        ids = token_ids.detach().clone()
    else:
        ids = torch.tensor(list(token_ids), dtype=torch.int64)
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"token ids must be integers, got {ids.dtype}")
    ids = ids.to(torch.int64)
    if ids.numel() > 0 and (ids.min().item() < 0 or ids.max().item() >= vocab_size):
        raise ValueError(f"token ids must lie in 0..{vocab_size - 1}")
    torch.manual_seed(seed)
    table = nn.Embedding(vocab_size, dim)
    with torch.no_grad():
        rows = table.weight[ids]
    return rows.to(torch.float32)

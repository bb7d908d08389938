"""Step 2: token ids to embedding vectors.

An embedding layer is a lookup table: row ``i`` of its weight matrix is the vector of token
``i``. The article uses ``torch.nn.Embedding`` with room for 50,000 tokens and tiny
3-dimensional vectors so that every number can be printed and followed by hand. It seeds
torch's random generator with 123 first, so everyone gets the same vectors: the embedding of
"The" (id 0) in the running example is ``[0.3374, -0.1778, -0.3035]``.

In a trained LLM these vectors are learned; here they stay random, which is all self-attention
needs to be demonstrated.
"""

from collections.abc import Sequence

import torch
from torch import nn


def embed(
    token_ids: torch.Tensor | Sequence[int], vocab_size: int = 50_000, dim: int = 3, seed: int = 123
) -> torch.Tensor:
    """The embedding vectors of ``token_ids``: a detached float32 tensor of shape ``(T, dim)``.

    Calls ``torch.manual_seed(seed)``, builds ``nn.Embedding(vocab_size, dim)`` and returns the
    rows of its weight for ``token_ids`` (a tensor or a list of ids, shape ``(T,)``; more
    dimensions work too: ``(..., T)`` gives ``(..., T, dim)``). Ids must lie in
    ``0 .. vocab_size-1``.

    Hint: the result must not carry the layer's autograd graph (``requires_grad`` is False).
    """
    ### BEGIN SOLUTION
    for name, size in (("vocab_size", vocab_size), ("dim", dim)):
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"{name} must be a positive integer, got {size!r}")
    ids = torch.as_tensor(token_ids)
    if ids.numel() == 0:
        ids = ids.long()  # an empty list becomes a float tensor
    if ids.dtype.is_floating_point or ids.dtype.is_complex or ids.dtype == torch.bool:
        raise ValueError(f"token ids must be integers, got a tensor of dtype {ids.dtype}")
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        bad = int(ids.min()) if int(ids.min()) < 0 else int(ids.max())
        raise ValueError(f"token id {bad} is outside the vocabulary 0..{vocab_size - 1}")
    torch.manual_seed(seed)
    layer = nn.Embedding(vocab_size, dim, dtype=torch.float32)
    return layer(ids.long()).detach()
    ### END SOLUTION

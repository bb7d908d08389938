# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
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
    raise NotImplementedError("embedding: embed is not implemented yet")

# Sample submission `partial_mistakes`, step 2 (correct): full marks.
"""Step 2: token ids to embedding vectors."""

import torch
from torch import nn


def embed(token_ids, vocab_size=50_000, dim=3, seed=123):
    torch.manual_seed(seed)
    embedding = nn.Embedding(vocab_size, dim)
    ids = torch.as_tensor(token_ids, dtype=torch.long)
    return embedding(ids).detach()

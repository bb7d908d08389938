# Sample submission `broken`: this module is correct (a copy of complete_einsum/attention/tokens.py below
# this header) and gets full marks, although other modules of this submission are broken.
"""Step 1: words to token ids."""

import torch


def build_vocab(text: str) -> dict[str, int]:
    """Every distinct whitespace-separated word of ``text``, sorted, numbered from 0."""
    vocab = {}
    next_id = 0
    for word in sorted(set(text.split())):
        vocab[word] = next_id
        next_id += 1
    return vocab


def encode(text: str, vocab: dict[str, int]) -> torch.Tensor:
    """The int64 ids of the words of ``text``; an unknown word raises KeyError naming it."""
    ids = []
    for word in text.split():
        try:
            ids.append(vocab[word])
        except KeyError:
            raise KeyError(f"unknown word: {word} is not in the vocabulary") from None
    return torch.tensor(ids, dtype=torch.int64)

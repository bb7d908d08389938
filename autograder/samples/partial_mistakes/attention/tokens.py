# Sample submission `partial_mistakes`, step 1 (correct): full marks.
"""Step 1: words to token ids."""

import torch


def build_vocab(text: str) -> dict[str, int]:
    words = sorted(set(text.split()))
    return {word: i for i, word in enumerate(words)}


def encode(text: str, vocab: dict[str, int]) -> torch.Tensor:
    ids = []
    for word in text.split():
        if word not in vocab:
            raise KeyError(f"{word} is not in the vocabulary")
        ids.append(vocab[word])
    return torch.tensor(ids, dtype=torch.long)

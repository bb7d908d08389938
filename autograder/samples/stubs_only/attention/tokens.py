# Sample submission `stubs_only`: a learner who submitted the stubs from exercises/attention unchanged
# (this header aside). Every test reads "not implemented yet" and the submission scores 0.
"""Step 1: words to token ids.

Self-attention works on vectors, so the article first turns its sentence into numbers. It
builds a tiny vocabulary from the sentence itself: every distinct word, sorted, gets an integer
id. For the running example "The sun rises in the east" that is

    {'The': 0, 'east': 1, 'in': 2, 'rises': 3, 'sun': 4, 'the': 5}

("The" and "the" are different words, and uppercase letters sort before lowercase ones), and
the sentence becomes the token ids ``tensor([0, 4, 3, 2, 5, 1])``. Real LLMs use a subword
tokenizer (byte-pair encoding) with tens of thousands of tokens; the idea is the same.
"""

import torch


def build_vocab(text: str) -> dict[str, int]:
    """Map every distinct word of ``text`` to an id in ``0 .. n-1``.

    Words are the whitespace-separated pieces of ``text``, case kept. The distinct words are
    sorted in Python's order and numbered in that order.

    >>> build_vocab("The sun rises in the east")
    {'The': 0, 'east': 1, 'in': 2, 'rises': 3, 'sun': 4, 'the': 5}

    Hint: ``str.split()`` without arguments splits on any run of whitespace; a ``set`` drops
    repeated words.
    """
    raise NotImplementedError("tokens: build_vocab is not implemented yet")


def encode(text: str, vocab: dict[str, int]) -> torch.Tensor:
    """The token ids of the words of ``text``: an int64 tensor of shape ``(T,)``.

    ``T`` is the number of words; ``encode("", vocab)`` is an empty int64 tensor. A word that
    is not in ``vocab`` raises ``KeyError`` naming the word.

    >>> encode("The sun rises in the east", build_vocab("The sun rises in the east"))
    tensor([0, 4, 3, 2, 5, 1])

    Hint: pass ``dtype=torch.long`` to ``torch.tensor`` so that an empty list gives int64 too.
    """
    raise NotImplementedError("tokens: encode is not implemented yet")

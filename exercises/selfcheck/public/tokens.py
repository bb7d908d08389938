"""Public checks of step 1, ``tokens``: ``build_vocab`` and ``encode``."""

from __future__ import annotations

from collections.abc import Callable

import torch

from .. import mistakes as m
from ..compare import (
    expect_close,
    expect_equal,
    expect_raises,
    expect_tensor,
    expect_vocab,
)
from ..errors import CheckFailed
from ..registry import CheckFunction
from ..subject import Subject
from .common import (
    SENTENCE,
    TOKEN_IDS,
    VOCAB,
    T,
    public_check,
)

STEP = "tokens"


def check(title: str) -> Callable[[CheckFunction], CheckFunction]:
    """Register a public check of this step."""
    return public_check(STEP, title)


# Whitespace of every kind, words differing only in case, punctuation, repeats: the text on which
# the common vocabulary mistakes (lowercasing, order of appearance, split(' ')) all differ.
MIXED_TEXT = "the Sun\trises  in\nthe east, The sun sets\r\nin the west."
# A vocabulary that is not numbered in sorted order, so ids from a rebuilt vocabulary differ.
SHUFFLED_VOCAB = {"The": 3, "east": 5, "in": 0, "rises": 4, "sun": 1, "the": 2}


@check("build_vocab('The sun rises in the east') maps the sorted unique words to 0..5")
def vocab_of_the_example(subject: Subject, rng: torch.Generator) -> None:
    vocab = subject.build_vocab(SENTENCE)
    try:
        expect_equal(vocab, VOCAB, f"build_vocab({SENTENCE!r})", reveal=True)
    except CheckFailed as failure:
        raise CheckFailed(m.with_mistake(str(failure), m.recognise(vocab, m.vocab_mistakes(SENTENCE), VOCAB))) from None
    # then a text where any whitespace splits and case is kept: the common mistakes all differ on it
    expect_vocab(subject.build_vocab(MIXED_TEXT), m.sorted_vocab(MIXED_TEXT.split()), f"build_vocab({MIXED_TEXT!r})",
                 m.vocab_mistakes(MIXED_TEXT))


@check("encode gives the int64 tensor [0, 4, 3, 2, 5, 1] for the example sentence, and uses the vocab it is given")
def encode_the_example(subject: Subject, rng: torch.Generator) -> None:
    ids = subject.encode(SENTENCE, dict(VOCAB))
    what = f"encode({SENTENCE!r}, vocab)"
    expect_tensor(ids, what, shape=(T,), dtype=torch.int64)
    expect_close(ids, torch.tensor(TOKEN_IDS), what, dtype=torch.int64, reveal=True)
    shuffled = subject.encode(SENTENCE, dict(SHUFFLED_VOCAB))
    expected = torch.tensor([SHUFFLED_VOCAB[w] for w in SENTENCE.split()])
    expect_close(shuffled, expected, f"encode({SENTENCE!r}, {SHUFFLED_VOCAB})", dtype=torch.int64, reveal=True,
                 mistakes=m.encode_mistakes(SENTENCE), rtol=0, atol=0)


@check("encode raises KeyError naming an unknown word")
def unknown_word_raises(subject: Subject, rng: torch.Generator) -> None:
    expect_raises(KeyError, lambda: subject.encode("The moon rises", dict(VOCAB)),
                  "encode('The moon rises', vocab) ('moon' is not in the vocabulary)", mentions="moon")


@check("encode('') and encode of whitespace only are empty int64 tensors")
def encode_empty_text(subject: Subject, rng: torch.Generator) -> None:
    for text in ("", " \n\t "):
        result = subject.encode(text, dict(VOCAB))
        try:
            expect_tensor(result, f"encode({text!r}, vocab)", shape=(0,), dtype=torch.int64)
        except CheckFailed as failure:
            floating = isinstance(result, torch.Tensor) and result.dtype == torch.float32
            raise CheckFailed(m.with_mistake(str(failure), m.FLOAT_EMPTY if floating else None)) from None

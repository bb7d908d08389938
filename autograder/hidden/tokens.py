"""Hidden checks of step 1, ``tokens``: ``build_vocab`` and ``encode``."""

from __future__ import annotations

import json

import torch

from autograder import reference as ref
from selfcheck import CheckFailed, LearnerError, Subject, expect_close, expect_equal, expect_tensor
from selfcheck import mistakes as m
from selfcheck.compare import expect_vocab

from .. import parsing
from . import HIDDEN
from ._common import permutation, randint, with_mistake

STEP = "tokens"
FACT_TEXT = "The sun rises in the east"
# Letters of both cases, digits and punctuation: Python's order puts punctuation and digits
# before uppercase letters, and uppercase before lowercase.
ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,!?'-"
SEPARATORS = (" ", " ", " ", "  ", "\t", "\n", " \n ", "\r\n")


def _random_words(rng: torch.Generator, count: int) -> list[str]:
    """``count`` distinct words (some differing only in case), in random order."""
    words: list[str] = []
    while len(words) < count:
        length = randint(rng, 1, 7)
        word = "".join(ALPHABET[randint(rng, 0, len(ALPHABET) - 1)] for _ in range(length))
        if word not in words:
            words.append(word)
        variant = word.swapcase()
        if len(words) < count and variant not in words and randint(rng, 0, 2) == 0:
            words.append(variant)
    return [words[i] for i in permutation(rng, len(words))]


def _random_text(rng: torch.Generator, words: list[str], length: int) -> str:
    """``length`` words drawn from ``words`` (repeats likely), joined by assorted whitespace."""
    picked = [words[randint(rng, 0, len(words) - 1)] for _ in range(length)]
    parts = [SEPARATORS[randint(rng, 0, len(SEPARATORS) - 1)] if randint(rng, 0, 1) else ""]
    for word in picked:
        parts.append(word)
        parts.append(SEPARATORS[randint(rng, 0, len(SEPARATORS) - 1)])
    return "".join(parts)


def _readings(message: str) -> list[str]:
    """``message`` and the texts it is the repr of: ``str(KeyError(x))`` is ``repr(x)``, nested any depth.

    ``KeyError(f"unknown word {word!r}")`` arrives as ``repr`` of that text, with the word's quotes
    escaped a second time; undoing the reprs recovers the text the learner wrote.
    """
    readings, pending = [message], [message]
    while pending and len(readings) < 16:
        text = pending.pop().strip()
        if len(text) < 2 or text[0] not in "'\"([" or text[-1] not in "'\")]":
            continue  # not the repr of a str or of a tuple (nor compiled: no SyntaxWarning for prose)
        try:
            value = parsing.literal_eval(text)
        except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
            continue
        items = value if isinstance(value, (tuple, list)) else (value,)
        for item in items:
            if isinstance(item, str) and item not in readings:
                readings.append(item)
                pending.append(item)
    return readings


def _stands_alone(form: str, text: str) -> bool:
    """Whether ``form`` occurs in ``text`` not glued to letters or digits ("n" is not in "unknown word")."""
    start = text.find(form)
    while start != -1:
        end = start + len(form)
        glued_before = start > 0 and text[start - 1].isalnum() and form[0].isalnum()
        glued_after = end < len(text) and text[end].isalnum() and form[-1].isalnum()
        if not glued_before and not glued_after:
            return True
        start = text.find(form, start + 1)
    return False


def names_word(message: str, word: str) -> bool:
    """Whether an exception message names ``word``: as is, or quoted/escaped by ``repr`` or ``json``."""
    forms = {word, repr(word), repr(word)[1:-1], json.dumps(word), json.dumps(word)[1:-1],
             word.encode("unicode_escape").decode("ascii"), word.replace("'", "\\'"), word.replace('"', '\\"')}
    return any(_stands_alone(form, text) for text in _readings(message) for form in forms)


@HIDDEN.check(STEP, "build_vocab and encode on the course's example sentence", weight=1)
def example_sentence(subject: Subject, rng: torch.Generator) -> None:
    vocab = subject.build_vocab(FACT_TEXT)
    expect_equal(vocab, ref.build_vocab(FACT_TEXT), f"build_vocab({FACT_TEXT!r})", reveal=True)
    ids = subject.encode(FACT_TEXT, ref.build_vocab(FACT_TEXT))
    expected = ref.encode(FACT_TEXT, ref.build_vocab(FACT_TEXT))
    expect_close(ids, expected, f"encode({FACT_TEXT!r}, vocab)", reveal=True, dtype=None)


@HIDDEN.check(STEP, "build_vocab: unique whitespace-separated words, sorted (case kept), ids 0..n-1", weight=2)
def vocab_random_text(subject: Subject, rng: torch.Generator) -> None:
    words = _random_words(rng, randint(rng, 12, 30))
    text = _random_text(rng, words, randint(rng, 25, 60))
    expected = ref.build_vocab(text)
    expect_vocab(subject.build_vocab(text), expected, "build_vocab on a hidden text", m.vocab_mistakes(text))


@HIDDEN.check(STEP, "encode: the ids the given vocabulary assigns, in the text's order", weight=2)
def encode_random_text(subject: Subject, rng: torch.Generator) -> None:
    words = _random_words(rng, randint(rng, 15, 30))
    ids = permutation(rng, len(words))  # a vocabulary that is not numbered in sorted order
    vocab = dict(zip(words, ids, strict=True))
    in_text = words[: len(words) - 3]  # some vocabulary words do not occur
    text = _random_text(rng, in_text, randint(rng, 10, 40))
    expected = ref.encode(text, vocab)
    actual = subject.encode(text, vocab)
    expect_tensor(actual, "encode on a hidden text", shape=tuple(expected.shape))
    if actual.is_floating_point() or actual.dtype == torch.bool or not torch.equal(actual.long(), expected):
        mistake = None
        rebuilt = ref.encode(text, ref.build_vocab(text))
        if not actual.is_floating_point() and torch.equal(actual.long(), rebuilt):
            mistake = m.VOCAB_REBUILT
        raise CheckFailed(with_mistake("encode on a hidden text: the ids are not the vocabulary's ids", mistake))


@HIDDEN.check(STEP, "encode raises KeyError naming an unknown word", weight=1)
def encode_unknown_word(subject: Subject, rng: torch.Generator) -> None:
    words = _random_words(rng, 12)
    unknown = next((w for w in words if len(w) >= 3), words[0])  # a longer word: not part of the message's prose
    known = [w for w in words if w != unknown]
    vocab = ref.build_vocab(" ".join(known))
    before = _random_text(rng, known, randint(rng, 1, 6))
    text = f"{before} {unknown} {_random_text(rng, known, randint(rng, 0, 4))}"
    try:
        result = subject.encode(text, vocab)
    except LearnerError as error:
        if not isinstance(error, KeyError):
            raise CheckFailed(
                "encode should raise KeyError for a word that is not in the vocabulary, "
                f"but it raised {error.type_name}"
            ) from None
        if not names_word(error.learner_message, unknown):
            raise CheckFailed(
                "encode raised KeyError for an unknown word, but its message does not name the word"
            ) from None
        return
    raise CheckFailed(
        "encode should raise KeyError for a word that is not in the vocabulary, "
        f"but it returned {type(result).__name__}"
    )


@HIDDEN.check(STEP, "encode returns int64, also for an empty or blank text", weight=1)
def encode_dtype_and_empty(subject: Subject, rng: torch.Generator) -> None:
    words = _random_words(rng, 8)
    vocab = ref.build_vocab(" ".join(words))
    text = _random_text(rng, words, randint(rng, 3, 9))
    expect_tensor(subject.encode(text, vocab), "encode on a hidden text", dtype=torch.int64)
    for blank, label in (("", "''"), (" \n\t ", "a text of whitespace only")):
        result = subject.encode(blank, vocab)
        try:
            expect_tensor(result, f"encode({label}, vocab)", shape=(0,), dtype=torch.int64)
        except CheckFailed as failure:
            mistake = None
            if isinstance(result, torch.Tensor) and result.dtype == torch.float32:
                mistake = m.FLOAT_EMPTY
            raise CheckFailed(with_mistake(str(failure), mistake)) from None

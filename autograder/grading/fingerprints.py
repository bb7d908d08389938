"""Fingerprints of one file of code, for the similarity report (`autograder.grading.similarity`).

Tokenising and winnowing are copydetect's (the method of MOSS): Pygments tokens with every name
folded to ``V``/``F``/``O``, strings to ``S``, comments and whitespace dropped (`filter_code`); the
hashes of all k-grams of that text; winnowing keeps the smallest hash of every window
(`winnow`), so that any match of ``NOISE + WINDOW - 1`` characters is found. The k-gram hash is
ours: a polynomial hash computed with numpy, the same in every process (Python's ``hash`` of a
string changes from one process to the next), so files can be fingerprinted in parallel.

`classify` sorts a file's fingerprints by what covers them, character by character: the
stubs, the solutions, the article, or nothing (the learner's own distinctive code).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

NOISE = 20  # k: fingerprints are k-grams of this many tokenised characters (copydetect's noise threshold)
WINDOW = 4  # winnowing window: any match of NOISE + WINDOW - 1 tokenised characters is found
_CHUNK = 1 << 16
_POWERS = np.array([pow(1_000_003, NOISE - 1 - i, 2**64) for i in range(NOISE)], dtype=np.uint64)


def tokenised(code: str) -> tuple[str, np.ndarray]:
    """copydetect's filtered text of Python ``code`` and its offsets (to map positions back to ``code``)."""
    from copydetect.utils import filter_code

    return filter_code(code, "code.py", language="python")


def kgram_hashes(text: str) -> np.ndarray:
    """The hash of every ``NOISE``-character substring of ``text`` (int64, ``len(text) - NOISE + 1`` of them)."""
    if len(text) < NOISE:
        return np.zeros(0, dtype=np.int64)
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    windows = np.lib.stride_tricks.sliding_window_view(codes, NOISE)
    hashes = np.empty(len(windows), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for start in range(0, len(windows), _CHUNK):  # bounded memory: NOISE x _CHUNK products at a time
            hashes[start:start + _CHUNK] = (windows[start:start + _CHUNK] * _POWERS).sum(axis=1, dtype=np.uint64)
    return hashes.view(np.int64)


def kgram_set(code: str) -> set[int]:
    """Every k-gram hash of ``code`` (for the stubs, the solutions and the article)."""
    return set(kgram_hashes(tokenised(code)[0]).tolist())


@dataclass
class FileFingerprint:
    """What copydetect's ``compare_files`` reads of a ``CodeFingerprint``, built with our hash."""

    filtered_code: str
    offsets: np.ndarray
    hashes: set[int]
    hash_idx: dict[int, list[int]]
    k: int = NOISE
    token_coverage: int = 0
    grams: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def fingerprint(code: str) -> FileFingerprint:
    """Tokenise, hash and winnow ``code`` (copydetect's `filter_code` and `winnow`)."""
    from copydetect.utils import get_token_coverage, winnow

    text, offsets = tokenised(code)
    grams = kgram_hashes(text)
    if len(grams) == 0:
        return FileFingerprint(text, offsets, set(), {}, grams=grams)
    values, positions = winnow(grams, WINDOW, remove_duplicates=False)
    index: dict[int, list[int]] = {}
    for value, position in zip(values.tolist(), positions.tolist(), strict=True):
        index.setdefault(value, []).append(position)
    coverage = int(get_token_coverage(index, NOISE, len(text)))
    return FileFingerprint(text, offsets, set(index), index, token_coverage=coverage, grams=grams)


@dataclass
class Parts:
    """A file's fingerprints: the learner's own (not in the stubs), and which of those the references cover."""

    own: set[int]
    solution: set[int]  # covered by the stubs and the solutions together
    article: set[int]  # covered by the stubs and the article together
    distinctive: set[int]  # own, covered by no reference: what counts between two learners


def _fully_covered(hit: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """For each k-gram start in ``starts``: is every character of it inside some k-gram that ``hit`` marks?"""
    if len(hit) == 0:
        return np.zeros(len(starts), bool)
    inside = np.convolve(hit.astype(np.int32), np.ones(NOISE, np.int32)) > 0  # per character
    total = np.concatenate([[0], np.cumsum(inside)])
    return total[starts + NOISE] - total[starts] == NOISE


def classify(print_: FileFingerprint, stubs: np.ndarray, solution: np.ndarray, article: np.ndarray) -> Parts:
    """Sort a file's fingerprints by what covers every character of them: stubs, solutions, article, nothing.

    Coverage is per character, so a fingerprint straddling a stub's docstring and a line of the
    article counts as covered, while one straddling the docstring and the learner's own line does
    not. A fingerprint found at several places counts as covered when one of them is.
    """
    if not print_.hash_idx:
        return Parts(set(), set(), set(), set())
    values = np.array([v for v, places in print_.hash_idx.items() for _ in places], dtype=np.int64)
    starts = np.array([p for places in print_.hash_idx.values() for p in places], dtype=np.int64)
    in_stub, in_solution, in_article = (np.isin(print_.grams, r) for r in (stubs, solution, article))

    def covered(hit: np.ndarray) -> set[int]:
        return set(values[_fully_covered(hit, starts)].tolist())

    boilerplate = covered(in_stub)
    own = set(print_.hash_idx) - boilerplate
    return Parts(own, own & covered(in_stub | in_solution), own & covered(in_stub | in_article),
                 own - covered(in_stub | in_solution | in_article))

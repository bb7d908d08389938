"""What a graded submission tells about its learner: the mistakes the checks named, and its notes.

The checks name a recognised mistake in their message ("This looks like a common mistake: X."
from the comparisons, "Common mistake: X." from errors whose message gives it away, see
`selfcheck.errors`), and record it as data while they run (`selfcheck.mistakes.naming_mistakes`,
`TestResult.mistakes`). The reports read that data, never the message: a message also holds
learner text (an exception's message, a returned string), and a learner who writes "This looks
like a common mistake: =HYPERLINK(...)" names nothing. So every mistake the feedback page, the
class report and mistakes.csv list is one the grader's own code named, in the learner's words.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from selfcheck import mistakes as catalogue
from selfcheck.errors import HINT_PREFIX

from .engine import SubmissionResult, TestResult

# One mistake that several functions of a step show, each in its own words (causal_mask's tril_mask,
# causal_mask and causal_attention_weights with the diagonal blocked): the class report counts it once.
SAME_MISTAKE = {
    catalogue.TRIL_NO_DIAGONAL: catalogue.DIAGONAL_MASKED,
    catalogue.BOOL_DIAGONAL: catalogue.DIAGONAL_MASKED,
    catalogue.TRIL_INVERTED: catalogue.INVERTED,
    catalogue.BOOL_INVERTED: catalogue.INVERTED,
}


def submission_mistakes(result: SubmissionResult) -> list[tuple[str, str]]:
    """``(step id, mistake)`` pairs this submission's failed checks named, once each, in check order.

    A mistake worded differently by two functions of one step (`SAME_MISTAKE`) is one pair.
    """
    pairs: list[tuple[str, str]] = []
    for test in result.tests:
        if test.passed:
            continue
        for mistake in test.mistakes:
            pair = (test.step, SAME_MISTAKE.get(mistake, mistake))
            if pair not in pairs:
                pairs.append(pair)
    return pairs


def message_without_mistakes(test: TestResult) -> str:
    """The check's message without the notes naming ``test.mistakes``: the page shows those on their own.

    Only the grader's own notes are cut (the last one naming each mistake, in the catalogue's or the
    error hint's format); the rest of the message is kept as it was.
    """
    message = test.output
    for mistake in test.mistakes:
        for note, keep in ((f"\n  {catalogue.MISTAKE_PREFIX}: {mistake}.", ""), (f". {HINT_PREFIX}: {mistake}.", ".")):
            where = message.rfind(note)
            if where >= 0:
                message = message[:where] + keep + message[where + len(note):]
                break
    return message


# -- notes: what went wrong with a submission as a whole ------------------------------------------------

NOT_FOUND = "not found"
EMPTY = "empty"
CRASHED = "crashed"
TIMED_OUT = "timed out"
IMPORT_ERROR = "import error"
FORBIDDEN = "forbidden API"
GRADER_ERROR = "grader error"


@dataclass(frozen=True)
class _Sign:
    label: str
    pattern: re.Pattern[str]


_NOTE_SIGNS = (
    _Sign(GRADER_ERROR, re.compile(r"the grader failed on this submission")),
    _Sign(NOT_FOUND, re.compile(r"no attention/ package was found|does not exist|not found", re.I)),
    _Sign(EMPTY, re.compile(r"\bempty\b|nothing (?:gradable|to grade)", re.I)),
)
_TEST_SIGNS = (
    _Sign(TIMED_OUT, re.compile(r"did not finish within|used up its time budget")),
    _Sign(CRASHED, re.compile(r"the process running your code ended")),
    _Sign(IMPORT_ERROR, re.compile(r"could not be imported")),
    _Sign(FORBIDDEN, re.compile(r"must be implemented from scratch")),
)


def submission_notes(result: SubmissionResult) -> list[str]:
    """Labels (not found, empty, crashed, timed out, ...) for what happened to this submission, in order."""
    labels: list[str] = []
    for sign in _NOTE_SIGNS:
        if any(sign.pattern.search(note) for note in result.notes):
            labels.append(sign.label)
    if NOT_FOUND not in labels and result.tests and all(t.output.startswith("not graded: the submission has no")
                                                           for t in result.tests):
        labels.append(NOT_FOUND)
    for sign in _TEST_SIGNS:
        steps = sorted({t.step for t in result.tests if not t.passed and sign.pattern.search(t.output)})
        if steps:
            labels.append(f"{sign.label} ({', '.join(steps)})")
    return labels


def mistake_counts(results: list[SubmissionResult]) -> list[tuple[str, str, list[str]]]:
    """``(step, mistake, submissions)`` for every named mistake, the most widespread first."""
    who: dict[tuple[str, str], list[str]] = {}
    for result in results:
        for pair in submission_mistakes(result):
            who.setdefault(pair, []).append(result.name)
    ranked = sorted(who.items(), key=lambda item: (-len(item[1]), item[0]))
    return [(step, mistake, names) for (step, mistake), names in ranked]


def failed_checks(results: list[SubmissionResult]) -> list[tuple[tuple[str, str, str], int]]:
    """``((step, number, title), how many submissions failed it)``, most often failed first."""
    counts: Counter[tuple[str, str, str]] = Counter()
    for result in results:
        for test in result.tests:
            if not test.passed:
                counts[(test.step, test.number, test.title)] += 1
    return sorted(counts.items(), key=lambda item: (-item[1], _number_key(item[0][1])))


def _number_key(number: str) -> tuple[int, ...]:
    return tuple(int(part) for part in number.split(".") if part.isdigit())

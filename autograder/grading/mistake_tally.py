"""What a graded submission tells about its learner: the mistakes the checks named, and its notes.

The checks name a recognised mistake in their message ("This looks like a common mistake: X."
from the hidden checks' comparisons, "Common mistake: X." from errors whose message gives it
away, see `selfcheck.errors`). This module reads them back from the results, so the feedback
page, the class report and mistakes.csv agree with what the learner was told, word for word.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from selfcheck.errors import HINT_PREFIX
from selfcheck.mistakes import MISTAKE_PREFIX

from .engine import SubmissionResult

# "<MISTAKE_PREFIX>: X." (the catalogue) / "... <HINT_PREFIX>: X." (an error that gives it away); X runs to the end
# of its line. Several candidates the inputs cannot tell apart are listed under another prefix: none is named.
_SPLIT = "; or "  # older messages joined two coinciding mistakes this way; read them as two
_NAMED = re.compile(rf"(?:{re.escape(MISTAKE_PREFIX)}|{re.escape(HINT_PREFIX)}):\s*(?P<what>[^\n]+)")


def named_mistakes(message: str) -> list[str]:
    """The mistakes a check's message names, in order, without the trailing full stop."""
    found: list[str] = []
    for match in _NAMED.finditer(message):
        text = match.group("what").strip()
        text = text[:-1] if text.endswith(".") else text
        for part in text.split(_SPLIT):
            if part and part not in found:
                found.append(part)
    return found


def submission_mistakes(result: SubmissionResult) -> list[tuple[str, str]]:
    """``(step id, mistake)`` pairs this submission's failed checks named, once each, in check order."""
    pairs: list[tuple[str, str]] = []
    for test in result.tests:
        if test.passed:
            continue
        for mistake in named_mistakes(test.output):
            if (test.step, mistake) not in pairs:
                pairs.append((test.step, mistake))
    return pairs


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

"""The concept questions of the notebooks and their answer keys. Never shipped to learners.

A question is a variable the learner assigns in an answer cell (``keys_for_query_5 = 6``). Its
prompt (and any picture it needs) is authored in the notebook source, before the
``# %% [question] <name>`` directive; this module holds what the grader needs: the step whose
points it shares, its points, the kind of answer, the key, and how an answer is compared.

- The source notebook's answer cell holds `Question.solution_line` between solution markers;
  nbgrader replaces it with `Question.stub_line` in the learner notebook.
- The test cell's visible part calls ``course_notebook.check_answer(name, globals(), kind)``
  (the answer's form only); its hidden part calls `autograder.hidden.notebook.run_question`,
  which compares with `Question.is_right`.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass
from typing import Any

KINDS = {
    "int": "an int",
    "letter": "one letter, such as 'A'",
    "positions": "a list of positions (ints), such as [0, 1]",
}


@dataclass(frozen=True)
class Question:
    name: str  # the variable the learner assigns
    step: str  # the step whose points it shares (course.yml)
    points: float
    kind: str  # a key of KINDS
    answer: Any

    @property
    def solution_line(self) -> str:
        return f"{self.name} = {self.answer!r}"

    @property
    def stub_line(self) -> str:
        return f"{self.name} = ...  # replace ... with your answer: {KINDS[self.kind]}"

    def is_right(self, value: Any) -> bool:
        """True when ``value`` is the right answer in the expected form."""
        if self.kind == "int":
            return not isinstance(value, bool) and _index(value) == self.answer
        if self.kind == "letter":
            return isinstance(value, str) and value.strip().upper() == self.answer
        if self.kind == "positions":
            try:
                positions = [_index(v) for v in value]
            except TypeError:
                return False
            return None not in positions and sorted(positions) == list(self.answer) and len(set(positions)) == len(
                positions
            )
        raise ValueError(f"unknown question kind {self.kind!r}")


def _index(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


QUESTIONS: dict[str, Question] = {
    q.name: q
    for q in (
        # 09_causal_pairs: "the query at position 5 is compared against how many keys?"
        Question("keys_for_query_5", "causal_pairs", 1, "int", 6),
        # 10_causal_mask: "which of these 4x4 score matrices violates causality?" (the plot shows A to D)
        Question("non_causal_matrix", "causal_mask", 1, "letter", "C"),
        # 10_causal_mask: "what does the Mask term in softmax(QK^T / sqrt(d) + Mask) do?" (choices A to D)
        Question("mask_term", "causal_mask", 1, "letter", "B"),
        # 11_causal_attention_and_kv_cache: "which keys and values does the query at position 4 use?"
        Question("positions_for_query_4", "causal_attention", 1, "positions", [0, 1, 2, 3, 4]),
    )
}


def questions_of(step_id: str) -> list[Question]:
    return [q for q in QUESTIONS.values() if q.step == step_id]

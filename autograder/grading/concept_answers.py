"""The concept questions, scored wherever the course is graded: ``grade``, Gradescope and the gradebook.

A question (`autograder.hidden.questions`) is answered by assigning a plain value to its name:

- in a notebook, in its answer cell (grade id ``question_<name>``), as nbgrader's notebooks ask;
- in ``attention/answers.py``, which the release gives package learners: the same questions, as
  comments, each with a ``<name> = ...`` line to fill in (`autograder.build.answers_file`).

`read_answers` reads both in this trusted process, before any learner code runs (the intake
calls it on the submission's private copy): the value is read with ``ast.literal_eval``
(`extract.assigned_value`), never run, so code, a call or an expression counts as no answer and
costs that question only. An answer in ``answers.py`` counts before the notebook's.

`question_tests` turns them into one test per question, in its step, worth the question's points;
the step's code checks share the rest (`code_points`), as the notebooks' "Check step" headers
say. A test's output says right, wrong or not answered, never the right answer.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from ..course import Course, Step
from ..hidden.questions import Question, questions_of
from ..notebook_ids import question_id
from .caps import MAX_FILE_BYTES
from .extract import NO_ANSWER, assigned_value, question_answer

ANSWERS_FILE = "answers.py"  # in the attention package


@dataclass(frozen=True)
class Answer:
    """What a submission answers to one question, and where it said so (``attention/answers.py``, a notebook)."""

    value: object
    where: str


def code_points(step: Step) -> float:
    """The points of ``step`` its code checks share: the step's points without its concept questions'."""
    return step.points - sum(q.points for q in questions_of(step.id))


def read_answers_file(package_dir: Path) -> str | None:
    """The text of ``<package_dir>/answers.py`` when it is a regular file within the caps, else None."""
    path = package_dir / ANSWERS_FILE
    try:
        info = os.lstat(path)
        if not stat.S_ISREG(info.st_mode) or info.st_size > MAX_FILE_BYTES:
            return None
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        with os.fdopen(fd, "rb") as reader:
            return reader.read(MAX_FILE_BYTES + 1).decode("utf-8", errors="replace")
    except OSError:
        return None


def read_answers(folder: Path | None, package_dir: Path, course: Course) -> dict[str, Answer]:
    """Question name -> the submission's answer, for the questions of ``course``'s steps that it answers.

    ``folder``: where the submission's notebooks are (None: no notebooks); ``package_dir``: its
    ``attention`` package (``answers.py`` there counts first). Nothing is run.
    """
    text = read_answers_file(package_dir)
    answers: dict[str, Answer] = {}
    for step in course.steps:
        for question in questions_of(step.id):
            value = assigned_value([text], question.name) if text is not None else NO_ANSWER
            if value is not NO_ANSWER:
                answers[question.name] = Answer(value, f"attention/{ANSWERS_FILE}")
                continue
            value = question_answer(folder, step.notebook, question.name) if folder is not None else NO_ANSWER
            if value is not NO_ANSWER:
                answers[question.name] = Answer(value, f"{step.notebook}.ipynb")
    return answers


@dataclass(frozen=True)
class QuestionResult:
    """One question scored: a test of its step (`engine.TestResult` is built from it)."""

    question: Question
    check: str  # the test's name: ``question_<name>``, as the notebook's answer cell's grade id
    title: str
    points: float
    passed: bool
    output: str


def score_question(question: Question, answer: Answer | None, notebook: str) -> QuestionResult:
    """The question's result for ``answer``; the output never shows the right answer."""
    title = f"concept question `{question.name}`"
    if answer is None:
        output = (f"not answered: set `{question.name} = <your answer>` in attention/{ANSWERS_FILE}, or in the "
                  f"question's answer cell of {notebook}.ipynb (a plain value: it is read, never run)")
        return QuestionResult(question, question_id(question.name), title, 0.0, False, output)
    right = _is_right(question, answer.value)
    output = "passed" if right else f"not the right answer (read from {answer.where})"
    return QuestionResult(question, question_id(question.name), title, question.points if right else 0.0, right,
                          output)


def _is_right(question: Question, value: object) -> bool:
    """`Question.is_right`, for any value a literal can be: an odd one is a wrong answer, never an error."""
    try:
        return bool(question.is_right(value))
    except Exception:  # noqa: BLE001 - e.g. a huge or odd literal the comparison cannot handle
        return False


def question_results(step: Step, answers: dict[str, Answer]) -> list[QuestionResult]:
    """One result per concept question of ``step``, in the course's order."""
    return [score_question(q, answers.get(q.name), step.notebook) for q in questions_of(step.id)]

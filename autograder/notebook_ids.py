"""The step notebooks' names and nbgrader grade ids: the one contract the builder and the extractor share.

The release builds the notebooks with these ids (`autograder.build.notebooks`); the grader reads
a notebook submission's answer cells by them (`autograder.grading.extract`); the nbgrader
preprocessors map them back to steps. Where everything else about the notebooks lives: see
``docs/DESIGN.md``, "Notebooks".
"""

NOTEBOOK_FOLDER = "notebooks"  # solutions/notebooks (nbgrader source), exercises/notebooks (release)
ASSIGNMENT = NOTEBOOK_FOLDER  # the nbgrader assignment id: source_directory/ASSIGNMENT = solutions/notebooks
HELPER = "course_notebook.py"  # the learner-side helper that sits next to the notebooks

# nbgrader grade ids (one scheme for the builder, the extractor and the tests)
SETUP_ID = "setup"


def answer_id(step_id: str) -> str:
    return f"{step_id}_answer"


def earlier_id(step_id: str) -> str:
    return f"{step_id}_earlier"


def test_id(step_id: str, index: int) -> str:
    return f"{step_id}_test_{index}"


def question_id(name: str) -> str:
    return f"question_{name}"


def question_test_id(name: str) -> str:
    return f"question_{name}_test"


def step_of_answer_id(grade_id: str) -> str | None:
    """``"tokens"`` for ``"tokens_answer"``; None for any other grade id."""
    suffix = "_answer"
    if grade_id.endswith(suffix) and not grade_id.startswith("question_"):
        return grade_id[: -len(suffix)]
    return None

"""The step notebooks: built from one source, released and graded with nbgrader.

Where everything lives (see ``docs/DESIGN.md`` and the README, "Grade notebooks with nbgrader"):

- ``solutions/notebooks/src/<notebook>.py``: the authored part of each notebook (prose, worked
  examples, plots, where the answer, test and question cells go), in the percent format of
  jupytext / VS Code (`autograder.notebooks.source`).
- ``solutions/attention/<module>.py``: the solution code. Each answer cell *is* one step's module
  (`autograder.notebooks.build.answer_code`); it is never copied by hand.
- ``selfcheck.public`` and ``autograder/hidden/``: the checks. Test cells call them by name
  (public checks through ``course_notebook.check``, hidden ones through
  `autograder.hidden.notebook.run_hidden`), so no test logic lives in a notebook.
- ``autograder/notebooks/questions.py``: the concept questions' answer keys (never shipped).
- ``solutions/notebooks/*.ipynb``: the nbgrader source notebooks, **generated** from the above
  (`autograder.notebooks.build.render_source_notebooks`).
- ``exercises/notebooks/``: the learner notebooks, **generated** by real ``nbgrader
  generate_assignment`` with the repository's ``nbgrader_config.py``
  (`autograder.notebooks.learner.render_learner_notebooks`), plus ``course_notebook.py``.
- ``autograder/notebooks/extract.py``: a notebook submission's answer cells back into the
  ``attention/`` package layout, so ``python -m autograder grade`` grades notebooks too.

``python -m autograder release`` writes both generated folders; ``release --check`` reports
them out of date, and the project's tests fail, when they differ from what would be generated.
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

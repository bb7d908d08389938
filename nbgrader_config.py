"""nbgrader configuration of the course: run every nbgrader command from the repository root.

Layout (nbgrader's ``{root}/{step}/{student}/{assignment}``, with one assignment, ``notebooks``):

    solutions/notebooks/        source: the instructor's notebooks (generated, with solutions and hidden tests)
    exercises/notebooks/        release: the learner notebooks (``nbgrader generate_assignment notebooks``)
    submitted/<student>/notebooks/    what students hand in (*.ipynb)
    autograded/<student>/notebooks/   written by ``nbgrader autograde notebooks``
    feedback/<student>/notebooks/     written by ``nbgrader generate_feedback notebooks`` (HTML)
    gradebook.db                      nbgrader's gradebook; ``nbgrader export`` writes grades.csv

The commands are in the README ("Grade notebooks with nbgrader"). A copy of this file in another
folder makes that folder the course root (the project's tests do this in a temporary folder).
"""

from pathlib import Path

from autograder.build.notebooks.nbgrader_ext import (
    autograde_sanitize_preprocessors,
    feedback_preprocessors,
    generate_assignment_preprocessors,
)

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

c.CourseDirectory.root = str(Path(__file__).resolve().parent)
c.CourseDirectory.course_id = "attention-course"
c.CourseDirectory.source_directory = "solutions"  # solutions/notebooks is the source of assignment "notebooks"
c.CourseDirectory.release_directory = "exercises"  # exercises/notebooks is its release
# Files copied next to the notebooks (course_notebook.py); src/ holds the notebooks' authored source.
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback", "src"]

# generate_assignment: stubs that name the step and the function, like attention/<module>.py's.
c.GenerateAssignment.preprocessors = generate_assignment_preprocessors()

# autograde: a deleted test cell is put back (and run); an edited locked cell is restored anyway.
c.OverwriteCells.add_missing_cells = True
# ... and a test cell handed in as released raises no "checksum has changed" (its hidden tests are not in it).
c.Autograde.sanitize_preprocessors = autograde_sanitize_preprocessors()
c.Execute.timeout = 120  # seconds per cell; the first cell imports torch

# generate_feedback: the results of hidden tests are shown, their source never.
c.GenerateFeedback.preprocessors = feedback_preprocessors()

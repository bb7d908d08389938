"""The errors the grader's commands report as one line (exit status 2), each with its owner.

- `UsageError`: anything the user can fix on the command line (a bad path, an output folder that
  cannot be written). Raised by every command; printed by `autograder.cli.main`.
- `autograder.course.CourseError`: an invalid ``course.yml`` (defined beside the course model).
- `MarkerError`: a solution module whose ``### BEGIN SOLUTION`` markers cannot be turned into a
  stub (`autograder.markers`, `autograder.build.stubs`).
- `NbgraderError`: ``nbgrader generate_assignment`` failed while building the learner notebooks
  (`autograder.build.notebooks.learner`).
"""

from __future__ import annotations


class UsageError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


class MarkerError(ValueError):
    """A solution module cannot be turned into a stub (misplaced markers, invalid Python).

    ``str()`` is one line naming the file and the line.
    """


class NbgraderError(RuntimeError):
    """nbgrader itself failed while the release built the learner notebooks (one line)."""

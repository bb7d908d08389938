"""Release time: everything that turns ``solutions/`` and ``course.yml`` into what others get.

Never imported while a submission is graded, and left out of the Gradescope autograder (a test
checks both). What it writes:

- ``exercises/``: the step table and the stubs (`generate`, `generators`, `steps_table`, `stubs`),
  the nbgrader source and learner notebooks (`notebooks/`);
- the learner bundle and its zip (`bundle`, `zips`), the Gradescope autograder (`gradescope`),
  the GitHub Classroom template (`classroom`);
- and it checks all of it with one leak scanner (`leaks`, a leaf: it imports no other module here).

The commands are `release_cli` (``python -m autograder release``) and `export_cli`
(``python -m autograder export``).
"""

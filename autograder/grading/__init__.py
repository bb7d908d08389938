"""Grading: find submissions, run the hidden checks in the sandbox, score and report.

- `submissions`: resolve command-line paths to submissions; make private copies.
- `forbidden`: the static scan for forbidden attention shortcuts.
- `engine`: grade one submission step by step (`Grader`).
- `report`: results.json (Gradescope's format), grades.csv, the summary table.
- `cli`: ``python -m autograder grade``.
"""

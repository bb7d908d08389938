"""Grading: find submissions, run the hidden checks in the sandbox, score and report.

- `intake`: command-line paths to submissions; where a submission's work is; the safe private copy.
- `grades_file`: grades.csv merged with the one already in the output folder.
- `forbidden`: the static scan for forbidden attention shortcuts.
- `engine`: grade one submission step by step (`Grader`).
- `report`: results.json (Gradescope's format), grades.csv, the summary table.
- `cli`: ``python -m autograder grade``.
"""

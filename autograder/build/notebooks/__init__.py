"""The step notebooks, built from one source and released with real nbgrader (release time).

- `source`: the authored cells, ``solutions/notebooks/src/<notebook>.py`` (percent format);
- `build`: the nbgrader source notebooks ``solutions/notebooks/*.ipynb``, answer cells made from
  the solution modules, test cells calling the public and hidden checks by name;
- `learner`: the learner notebooks ``exercises/notebooks/``, by ``nbgrader generate_assignment``;
- `nbgrader_ext`: the preprocessors ``nbgrader_config.py`` plugs into nbgrader.

The grade ids both sides share are `autograder.notebook_ids`; grading a notebook submission is
`autograder.grading.extract`; the concept questions' keys are hidden content
(`autograder.hidden.questions`).
"""

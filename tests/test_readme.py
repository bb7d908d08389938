"""The README's commands and step table are the real ones."""

from __future__ import annotations

import re
from pathlib import Path

from autograder.course import load_course
from autograder.course_cli import markdown_table

REPO_ROOT = Path(__file__).resolve().parents[1]
README = (REPO_ROOT / "README.md").read_text()


def test_the_step_table_matches_course_yml() -> None:
    block = re.search(r"<!-- steps:begin.*?-->\n(.*?)\n<!-- steps:end -->", README, re.S)
    assert block, "the README lost its step table markers"
    assert block.group(1) == markdown_table(load_course()), (
        "README step table is out of date: paste `python -m autograder check-course --markdown`"
    )


def test_ci_runs_the_readme_test_command() -> None:
    commands = re.findall(r"```bash\n(pip install [^\n]+)\n```", README)
    assert len(commands) == 2, commands
    main_job, test_command = commands
    assert main_job.endswith("python -m autograder grade")
    ci = (REPO_ROOT / ".ci" / "run").read_text()
    assert test_command in ci.splitlines()

"""The learner's set-up is right the first time.

- The learner README installs CPU-only torch before anything that could pull the CUDA build.
- The main README's "For learners" section gives the same commands as the learner README.
- Nothing learners get points them at ``course.yml``, which they never get.
- After ``pytest -k <step>`` passes, the summary names the next step.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from autograder.build.bundle import assemble, render_readme, submit_generic
from autograder.build.layout import Layout
from autograder.course import load_course

REPO_ROOT = Path(__file__).resolve().parents[1]
EXERCISES = REPO_ROOT / "exercises"
SOLUTIONS = REPO_ROOT / "solutions"
COURSE = load_course()
CPU_INDEX = "--index-url https://download.pytorch.org/whl/cpu"


def _learner_readme() -> str:
    notebooks = sorted(f"notebooks/{p.name}" for p in (EXERCISES / "notebooks").glob("*.ipynb"))
    return render_readme(COURSE, notebooks=notebooks, submit=submit_generic(notebooks))


def _section(markdown: str, heading: str) -> str:
    """The text under ``heading`` (a ``##`` heading) up to the next ``##`` heading."""
    match = re.search(rf"^## {re.escape(heading)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert match, f"no section {heading!r}"
    return match.group(1)


def _commands(markdown: str) -> list[str]:
    """The shell commands in the fenced code blocks of ``markdown``, without comments, in order."""
    commands = []
    for block in re.findall(r"^ *```[a-z]*\n(.*?)^ *```", markdown, re.S | re.M):
        for line in block.splitlines():
            command = line.split("#", 1)[0].strip()
            if command:
                commands.append(re.sub(r"\s+", " ", command))
    return commands


def test_learner_readme_installs_cpu_only_torch_first() -> None:
    commands = [c for c in _commands(_learner_readme()) if c.startswith("pip install")]
    assert commands[0] == f"pip install torch=={COURSE.environment.torch} {CPU_INDEX}", commands
    assert "pip install -r requirements.txt" in commands[1:], commands
    setup = _section(_learner_readme(), "Set up")
    assert setup.index(CPU_INDEX) < setup.index("pip install -r requirements.txt")


def test_main_readme_for_learners_matches_the_learner_readme() -> None:
    main = _section((REPO_ROOT / "README.md").read_text(encoding="utf-8"), "For learners")
    learner = _learner_readme()
    expected = _commands(_section(learner, "Set up")) + _commands(_section(learner, "Check yourself"))
    expected = [c for c in expected if not c.startswith(("pip install jupyterlab", "jupyter "))]
    assert _commands(main) == expected
    limit = f"did not finish within {COURSE.limits.call_seconds:g} s"
    assert limit in main and limit in learner


def test_nothing_learners_get_mentions_course_yml(tmp_path: Path) -> None:
    folder = tmp_path / "attention-course"
    assemble(COURSE, folder, layout=Layout())
    mentions = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and path.suffix in (".py", ".md", ".ini", ".ipynb", ".txt", ""):
            for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
                if "course.yml" in line:
                    mentions.append(f"{path.relative_to(folder)}:{number}: {line.strip()}")
    assert not mentions, "\n".join(mentions)


def test_the_summary_names_the_step_after_one_that_passes(tmp_path: Path) -> None:
    copy = tmp_path / "learner"
    shutil.copytree(EXERCISES, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "notebooks"))
    for source in (SOLUTIONS / "attention").glob("*.py"):
        shutil.copy(source, copy / "attention" / source.name)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env.update(COLUMNS="120", PYTHONDONTWRITEBYTECODE="1", PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")
    for selected, following in (("tokens", "step 2 embedding (attention/embedding.py)"),
                                ("weights", "step 6 context (attention/context.py)")):
        done = subprocess.run([sys.executable, "-m", "pytest", "-k", selected], cwd=copy, env=env, text=True,
                              capture_output=True, timeout=300)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "Every step that ran passes its public checks." in done.stdout
        assert f"Next: {following}; check it with: pytest -k {following.split()[2]}" in done.stdout, done.stdout
    done = subprocess.run([sys.executable, "-m", "pytest", "-k", "kv_cache"], cwd=copy, env=env, text=True,
                          capture_output=True, timeout=300)
    assert done.returncode == 0 and "Next:" not in done.stdout, done.stdout  # the last step: nothing after it

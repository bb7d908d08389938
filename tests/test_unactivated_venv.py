"""Every command works from a virtualenv that is not activated, and a failing nbgrader run shows its real cause.

``/path/to/venv/bin/python -m autograder release``, as cron or an IDE runs it, has a ``PATH``
without the interpreter's ``bin/``: nbgrader then shelled out to ``alembic`` and failed with
"Please see the above traceback" and no traceback. `autograder.cli.interpreter_on_path` puts that
folder on ``PATH``; `learner.nbgrader_cause` picks the exception line out of nbgrader's log.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from autograder.build.notebooks.learner import nbgrader_cause
from autograder.cli import interpreter_on_path

REPO_ROOT = Path(__file__).resolve().parents[1]
BIN = os.path.dirname(sys.executable)
BARE_PATH = os.pathsep.join(p for p in ("/usr/bin", "/bin") if p != BIN)


def test_release_runs_with_a_path_that_lacks_the_interpreters_bin() -> None:
    assert shutil.which("alembic", path=BARE_PATH) is None, "this PATH would find alembic anyway"
    assert shutil.which("alembic", path=sysconfig.get_path("scripts")) or shutil.which("alembic", path=BIN)
    environment = {key: value for key, value in os.environ.items() if key not in ("VIRTUAL_ENV", "PYENV_VERSION")}
    environment.update(PATH=BARE_PATH, PYTHONPATH=os.pathsep.join([str(REPO_ROOT), str(REPO_ROOT / "exercises")]))
    done = subprocess.run([sys.executable, "-m", "autograder", "release", "--check"], cwd=REPO_ROOT,
                          env=environment, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert done.stdout == "exercises/ is up to date and holds no solution code\n"


def test_the_interpreters_bin_goes_first_only_when_missing() -> None:
    environment = {"PATH": "/usr/bin:/bin"}
    interpreter_on_path(environment)
    assert environment["PATH"].split(os.pathsep)[0] in (BIN, sysconfig.get_path("scripts"))
    assert environment["PATH"].endswith("/usr/bin:/bin")
    again = dict(environment)
    interpreter_on_path(again)
    assert again == environment
    empty: dict[str, str] = {}
    interpreter_on_path(empty)
    assert BIN in empty["PATH"].split(os.pathsep)


def test_a_failing_nbgrader_run_names_its_cause() -> None:
    log = ("[GenerateAssignmentApp | ERROR] There was an error processing assignment: /x\n"
           "Traceback (most recent call last):\n  File \"nbgrader/api.py\", line 37, in get_alembic_version\n"
           "FileNotFoundError: [Errno 2] No such file or directory: 'alembic'\n"
           "[GenerateAssignmentApp | ERROR] Please see the the above traceback for details on the specific errors "
           "on the above failures.\n")
    assert nbgrader_cause(log) == "FileNotFoundError: [Errno 2] No such file or directory: 'alembic'"
    assert nbgrader_cause("[App | ERROR] the gradebook is locked\n[App | ERROR] Please see the above traceback") == (
        "[App | ERROR] the gradebook is locked")
    assert nbgrader_cause("") == "no output"

"""Grading as a normal user: the same guarantees as root, or a refusal that says why.

Each test runs ``python -m autograder grade`` as whoever runs pytest: root in the main suite, an
unprivileged user in ``.ci/nonroot`` (which CI runs). Learner code in the submissions probes what
it can reach from inside the sandbox; the probes' own control (their work folder) must succeed,
so a broken probe cannot pass for a safe sandbox.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from autograder.cli import UsageError
from autograder.course import load_course
from autograder.grading import cli as grading_cli
from autograder.sandbox.unprivileged import (
    NO_USER_NAMESPACES_ENV,
    GradingMode,
    grading_mode,
    user_namespaces_available,
    user_namespaces_disabled,
)

IS_ROOT = os.geteuid() == 0
MODE = grading_mode()
HOSTILE = Path(__file__).resolve().parent / "hostile"
FULL = load_course().max_score
AS_A_USER_ONLY = "as root the grader never needs user namespaces (its layer is the sandbox uid)"


def _solutions_copy(target: Path) -> Path:
    shutil.copytree(REPO_ROOT / "solutions" / "attention", target / "attention")
    return target


def _grade(*args: str | Path, env: dict[str, str] | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "autograder", "grade", *map(str, args), "--seed", "11"],
                          capture_output=True, text=True, timeout=timeout, cwd=REPO_ROOT,
                          env={**os.environ, **(env or {})})


def _results(out: Path, name: str) -> dict:
    return json.loads((out / name / "results.json").read_text())


def _failures(results: dict) -> list[str]:
    return [f"{t['name']}: {t['output'][:300]}" for t in results["tests"] if t["status"] != "passed"]


@pytest.fixture
def blackhole() -> Iterator[int]:
    """A local TCP port whose connects hang (a full accept queue drops SYNs): like a firewalled host."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    clients = []
    for _ in range(4):
        client = socket.socket()
        client.setblocking(False)
        client.connect_ex(server.getsockname())
        clients.append(client)
    yield server.getsockname()[1]
    for client in clients:
        client.close()
    server.close()


def _network_submission(root: Path, port: int) -> Path:
    """The honest `network_attempt` case, plus an `embed` that first tries a host that never answers."""
    submission = _solutions_copy(root / "network_attempt")
    for module in ("tokens", "embedding"):
        source = submission / "attention" / f"{module}.py"
        source.rename(source.with_name(f"_solution_{module}.py"))
        text = (HOSTILE / "network_attempt" / "attention" / f"{module}.py").read_text()
        (submission / "attention" / f"{module}.py").write_text(
            text.replace("attention_solution_", "attention._solution_"))
    embedding = submission / "attention" / "embedding.py"
    embedding.write_text(embedding.read_text() + f'''

def _try_a_silent_host() -> None:
    for _ in range(3):  # 15 s in all if each try waits for its timeout: more than a call may take
        try:
            socket.create_connection(("127.0.0.1", {port}), timeout=5).close()
        except OSError:
            pass


_plain_embed = embed


def embed(*args, **kwargs):
    _try_a_silent_host()
    return _plain_embed(*args, **kwargs)
''')
    return submission


def test_the_probe_agrees_with_unshare() -> None:
    if IS_ROOT:
        assert MODE == GradingMode("root", {})
        return
    if user_namespaces_disabled():  # the whole run simulates a system without them
        assert MODE.name == "unconfined" and not user_namespaces_available()
        return
    unshare = subprocess.run(["unshare", "--user", "--map-root-user", "--mount", "--net", "--pid", "--fork", "true"],
                             capture_output=True)
    assert user_namespaces_available() == (unshare.returncode == 0), unshare.stderr
    assert MODE.name == ("user namespaces" if unshare.returncode == 0 else "unconfined")


def test_without_user_namespaces_the_grader_refuses_in_one_line(monkeypatch, tmp_path: Path) -> None:  # noqa: ANN001
    """Simulated in-process (any user), then for real from the command line (a normal user)."""
    unconfined = GradingMode("unconfined", {"mount": "it can read and write every file you can"})
    monkeypatch.setattr("autograder.sandbox.unprivileged.grading_mode", lambda: unconfined)
    with pytest.raises(UsageError) as raised:
        grading_cli.grade_all(load_course(), [], out_dir=tmp_path / "out", jobs=1, seed=1)
    message = str(raised.value)
    assert "\n" not in message and "--allow-unconfined" in message and "your files" in message
    if IS_ROOT:
        return  # as root the probe always says "root": the command-line half needs a normal user
    done = _grade(_solutions_copy(tmp_path / "sub"), "--out", tmp_path / "out", env={NO_USER_NAMESPACES_ENV: "1"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: this system allows no unprivileged user")
    assert not (tmp_path / "out" / "sub").exists()


def test_an_honest_submission_trying_the_network_scores_full_marks_at_once(tmp_path: Path, blackhole: int) -> None:
    """Whatever the mode, a blocked network fails at once: no timeout, no lost points (issue 13)."""
    submission = _network_submission(tmp_path, blackhole)
    trusted = ["--allow-unconfined"] if MODE.name == "unconfined" else []  # it is our own, honest submission
    done = _grade(submission, "--out", tmp_path / "out", *trusted)
    assert done.returncode == 0, done.stderr
    results = _results(tmp_path / "out", "network_attempt")
    assert results["score"] == FULL, _failures(results)
    assert results["execution_time"] < 10, "the network attempts waited for their timeouts"
    assert results["extra_data"]["isolation_mode"] == MODE.name
    assert results["extra_data"]["isolation_missing"] == MODE.missing


# What still holds without user namespaces (no privilege needed): limits, process cleanup, the
# forbidden-API guard. Not kill_parent: unconfined, its kill(-1) would kill the instructor's processes.
# The keyring layer is a seccomp filter, which needs no privilege either.
UNCONFINED_CASES = ("memory_bomb", "output_flood", "leftover_processes", "forbidden_hidden_call", "keyring_theft")


@pytest.mark.skipif(IS_ROOT, reason=AS_A_USER_ONLY)
def test_allow_unconfined_grades_says_what_is_missing_once_and_records_it(tmp_path: Path, blackhole: int) -> None:
    from test_hostile import CASES, MARKERS, POINTS, _build

    submission = _network_submission(tmp_path, blackhole)
    for case in UNCONFINED_CASES:
        _build(HOSTILE / case, tmp_path / case)
    done = _grade(submission, *(tmp_path / case for case in UNCONFINED_CASES), "--out", tmp_path / "out",
                  "--allow-unconfined", env={NO_USER_NAMESPACES_ENV: "1"})
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("isolation (unconfined): missing layers: uid:") == 1, done.stderr
    for name in ("network_attempt", *UNCONFINED_CASES):
        extra = _results(tmp_path / "out", name)["extra_data"]
        assert extra["isolation_mode"] == "unconfined"
        assert {"uid", "mount", "network", "pid", "ipc", "scratch"} <= set(extra["isolation_missing"])
        assert {"python_network_block", "rlimits", "session", "keyring"} <= set(extra["isolation"])
        assert "mount" not in extra["isolation"]
    network = _results(tmp_path / "out", "network_attempt")
    assert network["score"] == FULL and network["execution_time"] < 10, _failures(network)
    for case in UNCONFINED_CASES:
        results = _results(tmp_path / "out", case)
        step, expected, shown = CASES.get(case, (None, None, ""))
        scores = {s: sum(t["score"] for t in results["tests"] if t["tags"] == [s]) for s in POINTS}
        lost = {s for s, points in POINTS.items() if abs(scores[s] - points) > 1e-3}
        assert lost <= {step}, (case, lost, _failures(results))
        if step is not None:  # the attack costs the step's code, never its concept questions (as in test_hostile)
            code = sum(t["score"] for t in results["tests"]
                       if t["tags"] == [step] and not t["extra_data"]["check"].startswith("question_"))
            assert (code == expected) if expected is not None else 0 < code < POINTS[step], (case, code)
            assert any(shown in t["output"] for t in results["tests"] if t["tags"] == [step]), _failures(results)
    leftovers = []
    for entry in filter(str.isdigit, os.listdir("/proc")):
        try:
            if MARKERS[0].encode() in Path(f"/proc/{entry}/cmdline").read_bytes():
                leftovers.append(int(entry))
        except OSError:
            continue
    assert not leftovers, "processes left behind by an unconfined submission"


SNOOP = '''
import os

TARGETS = {targets!r}
FOUND = []
for what, path in TARGETS.items():
    for attempt in ("read", "list", "write"):
        try:
            if attempt == "read":
                with open(path, "rb") as handle:
                    handle.read(100)
            elif attempt == "list":  # seeing the folder (it may lead to Python) is fine; its content is not
                if os.path.basename(path) not in os.listdir(os.path.dirname(path)):
                    continue
            else:
                folder = path if os.path.isdir(path) else os.path.dirname(path)
                with open(os.path.join(folder, "planted-by-learner.txt"), "w") as handle:
                    handle.write("planted")
            FOUND.append(f"{{attempt}} {{what}}")
        except OSError:
            pass
with open("own-file.txt", "w") as handle:  # the control: its own work folder is writable and readable
    handle.write("mine")
with open("own-file.txt") as handle:
    CONTROL = handle.read()

from attention._solution_tokens import *  # noqa: E402,F401,F403
from attention._solution_tokens import build_vocab as _build_vocab  # noqa: E402


def build_vocab(*args, **kwargs):
    if FOUND or CONTROL != "mine":
        raise RuntimeError(f"SNOOPED {{FOUND}} control={{CONTROL!r}}")
    return _build_vocab(*args, **kwargs)
'''


@pytest.mark.skipif(MODE.name == "unconfined", reason="no user namespaces: the mount layer is missing, and the "
                    "grader refuses untrusted code (test_without_user_namespaces_the_grader_refuses_in_one_line)")
def test_learner_code_cannot_reach_the_instructors_files(tmp_path: Path) -> None:
    """From inside a submission: the instructor's home, another submission, the output folder and the
    course's hidden tests can be neither read, listed nor written."""
    secret = Path.home() / f".autograder-instructor-secret-{uuid.uuid4().hex[:8]}"
    secret.write_text("instructor secret")
    out = tmp_path / "out"
    other = _solutions_copy(tmp_path / "other")
    out.mkdir()
    (out / "grades.csv").write_text("previous grades\n")
    targets = {
        "the instructor's home": str(secret),
        "another submission": str(other / "attention" / "tokens.py"),
        "the output folder": str(out / "grades.csv"),
        "the hidden tests": str(REPO_ROOT / "autograder" / "hidden" / "tokens.py"),
        "the course file": str(REPO_ROOT / "course.yml"),
    }
    snoop = _solutions_copy(tmp_path / "snoop")
    (snoop / "attention" / "tokens.py").rename(snoop / "attention" / "_solution_tokens.py")
    (snoop / "attention" / "tokens.py").write_text(SNOOP.format(targets=targets))
    try:
        done = _grade(snoop, other, "--out", out)
        assert done.returncode == 0, done.stderr
        results = _results(out, "snoop")
        assert results["score"] == FULL, _failures(results)
        assert secret.read_text() == "instructor secret"
        planted = [p for p in (Path.home(), other / "attention", out, REPO_ROOT / "autograder" / "hidden", REPO_ROOT)
                   if (p / "planted-by-learner.txt").exists()]
        assert not planted
    finally:
        secret.unlink()


def test_every_cell_of_the_readmes_isolation_table_names_a_test_that_exists() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    lines = readme.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| layer |"))  # the isolation table only
    table = lines[start:lines.index("", start)]
    rows = [line for line in table if line.startswith("| ") and "test_" in line]
    assert len(rows) == 10, ("one row per layer: uid, mount, network, rlimits, cleanup, forbidden-API guard, "
                             "keyring, IPC namespace, writable space, stand-ins")
    defined = set()
    for path in (REPO_ROOT / "tests").glob("test_*.py"):
        defined |= set(re.findall(r"^def (test_\w+)", path.read_text(), re.M))
    for row in rows:
        cells = row.strip("|").split("|")[1:]
        assert len(cells) == 3, row
        for cell in cells:
            names = re.findall(r"`(test_\w+)", cell)
            assert names, f"a cell without a test: {cell}"
            assert set(names) <= defined, set(names) - defined

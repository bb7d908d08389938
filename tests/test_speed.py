"""The cheap paths that keep grading fast do the same job as the slow ones they replaced.

- the uid-kill helper (`sandbox/killer.py`) ends every process of a sandbox uid, and never kills as root;
- the worker finds its children in ``/proc/<pid>/task/*/children``: the same pids as a scan of ``/proc``;
- a confined child has its own process group and no controlling terminal (without a ``setsid`` per child);
- the sandbox counts its phases (`TIMINGS`, printed by ``bench``);
- ``release --out`` under a file fails before any work.
"""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from autograder import REPO_ROOT
from autograder.sandbox.cleanup import children_of
from autograder.sandbox.isolation import _own_process_group
from autograder.sandbox.killer import Killer
from autograder.sandbox.remote import TIMINGS, Budget, RemoteSubject, SessionSpec, StepSession, Zygote
from autograder.sandbox.uids import reserve_uid_block

IS_ROOT = os.geteuid() == 0
SLEEPER = [sys.executable, "-c", "import time; time.sleep(120)"]


def _ended(process: subprocess.Popen, seconds: float = 10.0) -> bool:
    try:
        process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return False
    return True


@pytest.mark.skipif(not IS_ROOT, reason="only root can take a sandbox uid")
def test_the_uid_killer_ends_every_process_of_the_uid_and_nothing_else() -> None:
    uid = reserve_uid_block().uid(31)  # this process's own block: no other grader uses it
    sleep = [shutil.which("sleep") or "/bin/sleep", "120"]  # the uid cannot read this interpreter's folder
    learner = [subprocess.Popen(sleep, user=uid, group=uid, extra_groups=[], start_new_session=True, cwd="/")
               for _ in range(2)]
    bystander = subprocess.Popen(SLEEPER)  # root, like the grader
    killer = Killer()
    try:
        assert killer.kill(uid) is True
        assert all(_ended(p) for p in learner), "a process of the sandbox uid survived"
        assert killer.kill(0) is True  # refused quietly: kill(-1) as root would end the machine's processes
        time.sleep(0.2)
        assert bystander.poll() is None, "the uid kill reached a process of another uid"
    finally:
        bystander.kill()
        bystander.wait()
        for process in learner:
            process.kill()
            process.wait()
        killer._stop()


def _scan_children(parent: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as handle:
                    text = handle.read()
            except OSError:
                continue
            if int(text[text.rindex(")") + 2:].split()[1]) == parent:
                found.add(int(entry))
    return found


def test_children_lists_give_the_same_pids_as_a_scan_of_proc() -> None:
    grandparent = [sys.executable, "-c", "import subprocess, sys, time; "
                   "subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']); time.sleep(120)"]
    started = [subprocess.Popen(SLEEPER), subprocess.Popen(SLEEPER), subprocess.Popen(grandparent)]
    try:
        time.sleep(0.5)
        listed = children_of(os.getpid())
        assert {p.pid for p in started} <= set(listed)
        assert set(listed) == _scan_children(os.getpid())  # the grandchild is not ours, in both
    finally:
        for process in started:
            process.kill()
            process.wait()


def test_a_confined_child_has_its_own_process_group_and_no_controlling_terminal() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        try:
            _own_process_group()
            try:
                os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
                terminal = "yes"
            except OSError as error:
                terminal = "no" if error.errno == errno.ENXIO else f"error {error.errno}"
            os.write(write, f"{os.getpgid(0) == os.getpid()} {terminal}".encode())
        finally:
            os._exit(0)
    os.close(write)
    report = os.read(read, 100).decode()
    os.waitpid(pid, 0)
    assert report == "True no", report


def test_the_sandbox_counts_each_phase() -> None:
    root = Path(tempfile.mkdtemp(prefix="speed-test-"))
    os.chmod(root, 0o711)
    package = root / "attention"
    package.mkdir()
    (package / "probe.py").write_text("def double(x):\n    return 2 * x\n")
    if IS_ROOT:
        uid = reserve_uid_block().uid(30)
        for path in (root, package, package / "probe.py"):
            os.chown(path, uid, uid)
    else:
        uid = None
    before = dict(TIMINGS.counts)
    zygote = Zygote()
    zygote.start()
    try:
        spec = SessionSpec(package_dir=str(package), module="probe", standins={}, step_ids={}, workdir=str(root),
                           output_path=str(root / "probe.out"), memory_bytes=1 << 30, cpu_seconds=60,
                           output_bytes=1 << 20, uid=uid)
        session = StepSession(zygote, spec, 30.0, Budget(120))
        session.start()
        assert RemoteSubject("probe", "attention/probe.py", session).double(21) == 42
        session.close()
    finally:
        zygote.close()
    counted = {phase: TIMINGS.counts[phase] - before[phase] for phase in ("spawn", "start", "calls", "cleanup")}
    assert counted == {"spawn": 1, "start": 1, "calls": 2, "cleanup": 1}  # calls: the api lookup, the call


def test_release_out_under_a_file_fails_before_any_work(tmp_path: Path) -> None:
    blocker = tmp_path / "notes.txt"
    blocker.write_text("keep me\n")
    done = subprocess.run([sys.executable, "-m", "autograder", "release", "--out", str(blocker / "out")],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stdout == "", "the release ran before the bad --out was reported"

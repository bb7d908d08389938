"""The sandbox: learner code runs confined in a child, and nothing it does escapes or lasts.

One learner module full of probes and attacks runs in real sandboxed children; each test calls
one function through a `RemoteSubject`, exactly as a hidden check would.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from autograder import REPO_ROOT
from autograder.grading.engine import default_hidden_paths
from autograder.sandbox.isolation import DEVICES, SYSTEM_PATHS
from autograder.sandbox.keyring import add_key, join_fresh_session_keyring, read_key, search_session_keyring
from autograder.sandbox.remote import Budget, RemoteSubject, SessionSpec, StepSession, Zygote
from autograder.sandbox.scratch import SCRATCH_BYTES, SCRATCH_FILES
from autograder.sandbox.uids import reserve_uid_block
from autograder.sandbox.unprivileged import user_namespaces_available
from autograder.sandbox.zygote import PYTHON_PATHS
from selfcheck.errors import CallFailed, LearnerError

IS_ROOT = os.geteuid() == 0
USER_NAMESPACES = not IS_ROOT and user_namespaces_available()  # a normal user's mount, network and PID layers
CONFINED = IS_ROOT or USER_NAMESPACES
NEEDS_CONFINEMENT = "no user namespaces on this system (mount and PID layers missing: grading needs --allow-unconfined)"
SANDBOX_UID_BASE = reserve_uid_block().first if IS_ROOT else -1  # this test process's own uid block
MARKER = "autograder-leftover-probe"

PROBES = textwrap.dedent(f'''
    import os, signal, socket, subprocess, sys, time
    import torch

    def whoami():
        return os.getuid()

    def read(path):
        with open(path) as handle:
            return handle.read()

    def list_dir(path):
        return sorted(os.listdir(path))

    def grader_modules():
        return sorted(name for name in sys.modules if name.startswith("autograder"))

    def connect(host="127.0.0.1", port=22):
        socket.create_connection((host, port), timeout=5)

    def lookup(name):
        return socket.getaddrinfo(name, 80)

    def download(url):
        import urllib.request
        return urllib.request.urlopen(url, timeout=5).read(100)

    def capabilities():
        import ctypes
        header = (ctypes.c_uint32 * 2)(0x20080522, 0)
        data = (ctypes.c_uint32 * 6)()
        assert ctypes.CDLL(None).capget(header, data) == 0
        return data[0] | data[3] << 32  # the effective set

    def remount_writable_and_plant(folder):
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        remounted = libc.mount(None, folder.encode(), None, 0x20 | 0x1000, None) == 0  # MS_REMOUNT | MS_BIND
        with open(os.path.join(folder, "planted.py"), "w") as handle:
            handle.write("planted")
        return remounted

    def pids():
        return [os.getpid(), os.getppid()]

    def signal_pid(pid):
        os.kill(pid, signal.SIGKILL)

    def allocate(gigabytes):
        return torch.empty(int(gigabytes * 2**30), dtype=torch.uint8).sum()

    def shout(megabytes):
        chunk = "x" * 1024 * 1024
        for _ in range(megabytes):
            print(chunk)
        return "done"

    def spin():
        while True:
            pass

    def kill_parent():
        os.kill(os.getppid(), signal.SIGKILL)
        return "still here"

    def kill_everyone():
        os.kill(-1, signal.SIGKILL)

    def leave_children():
        sleeper = [sys.executable, "-c", "import time; time.sleep(300)", "{MARKER}"]
        subprocess.Popen(sleeper, start_new_session=True)
        if os.fork() == 0:
            os.setsid()
            if os.fork() == 0:
                os.execv(sys.executable, sleeper)
            os._exit(0)
        return "spawned"

    def write_into(path):
        with open(path, "w") as handle:
            handle.write("forged")
''')


@pytest.fixture(scope="module")
def zygote() -> Iterator[Zygote]:
    worker = Zygote()
    worker.start()
    yield worker
    worker.close()


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="sandbox-test-"))
    os.chmod(root, 0o711)
    package = root / "sub" / "attention"
    package.mkdir(parents=True)
    (package / "probes.py").write_text(PROBES)
    if IS_ROOT:
        for path in (root / "sub", package, package / "probes.py"):
            os.chown(path, SANDBOX_UID_BASE, SANDBOX_UID_BASE)
    yield root
    shutil.rmtree(root, ignore_errors=True)


def _session(zygote: Zygote, workspace: Path, call_seconds: float = 5.0, module: str = "probes") -> StepSession:
    spec = SessionSpec(
        package_dir=str(workspace / "sub" / "attention"), module=module, standins={}, step_ids={},
        workdir=str(workspace / "sub"), output_path=str(workspace / "output.txt"),
        memory_bytes=512 * 2**20, cpu_seconds=60, output_bytes=64 * 1024,
        uid=SANDBOX_UID_BASE if IS_ROOT else None, hidden_paths=default_hidden_paths(),
    )
    session = StepSession(zygote, spec, call_seconds, Budget(120))
    session.start()
    assert session.import_failure is None, session.import_failure
    return session


@pytest.fixture
def probes(zygote: Zygote, workspace: Path) -> Iterator[RemoteSubject]:
    session = _session(zygote, workspace)
    yield RemoteSubject("probes", "attention/probes.py", session)
    session.close()


@pytest.mark.skipif(not IS_ROOT, reason="layer uid: a separate uid needs root; as a normal user a PID namespace "
                    "stands in (test_as_a_normal_user_learner_code_is_pid_2_of_its_own_pid_namespace)")
def test_learner_code_runs_as_an_unprivileged_uid(probes: RemoteSubject) -> None:
    assert probes.whoami() == SANDBOX_UID_BASE
    assert {"uid", "rlimits", "session"} <= set(probes.session.isolation)


@pytest.mark.skipif(not CONFINED, reason=NEEDS_CONFINEMENT)
def test_solutions_hidden_checks_and_grader_files_are_unreadable(probes: RemoteSubject) -> None:
    for path in [REPO_ROOT / "solutions" / "attention" / "tokens.py", REPO_ROOT / "autograder" / "course.py",
                 REPO_ROOT / "autograder" / "hidden" / "__init__.py"]:
        with pytest.raises(LearnerError) as raised:
            content = probes.read(str(path))
            pytest.fail(f"read {path}: {content[:40]!r}")
        assert raised.value.type_name in {"FileNotFoundError", "PermissionError"}
    assert (REPO_ROOT / "course.yml").read_text()
    with pytest.raises(LearnerError):
        probes.read(str(REPO_ROOT / "course.yml"))
    with pytest.raises(LearnerError):
        assert probes.list_dir(str(REPO_ROOT / "autograder" / "hidden")) == []


@pytest.mark.skipif(not CONFINED, reason=NEEDS_CONFINEMENT)
def test_scratch_folders_show_nothing_but_the_childs_own_work(probes: RemoteSubject, workspace: Path) -> None:
    stray = Path(tempfile.mkdtemp(prefix="copy-of-hidden-tests-")) / "hidden_checks.py"
    stray.write_text("SECRET = 1\n")
    try:
        with pytest.raises(LearnerError):
            probes.read(str(stray))
        tmp = Path(tempfile.gettempdir())
        python_there = {Path(p).relative_to(tmp).parts[0] for p in PYTHON_PATHS if Path(p).is_relative_to(tmp)}
        assert sorted(probes.list_dir(str(tmp))) == sorted({workspace.name, *python_there})
    finally:
        shutil.rmtree(stray.parent)


def test_the_childs_root_holds_only_system_folders_python_and_its_work(probes: RemoteSubject) -> None:
    """An allowlist: other copies of the repository, wherever they lie, are simply not there."""
    if "mount" not in probes.session.isolation:
        pytest.skip("this machine allows no mount namespace")
    top = {Path(p).parts[1] for p in (*PYTHON_PATHS, tempfile.gettempdir()) if len(Path(p).parts) > 1}
    assert set(probes.list_dir("/")) <= {*(Path(p).name for p in SYSTEM_PATHS), "dev", "proc", *top}
    shm = ["shm"] if "scratch" in probes.session.isolation else []  # the child's own, in its capped scratch space
    assert sorted(probes.list_dir("/dev")) == sorted([*(Path(d).name for d in DEVICES), *shm])
    assert probes.list_dir("/proc") == ["cpuinfo"]
    if not any(Path(p).is_relative_to(REPO_ROOT) for p in PYTHON_PATHS):  # not a virtualenv inside the repository
        with pytest.raises(LearnerError):
            probes.list_dir(str(REPO_ROOT))
    # beside the repository (its folder, say /work): only what leads to the Python installation
    beside = {Path(p).relative_to(REPO_ROOT.parent).parts[0] for p in PYTHON_PATHS
              if Path(p).is_relative_to(REPO_ROOT.parent)}
    if beside:
        assert sorted(probes.list_dir(str(REPO_ROOT.parent))) == sorted(beside)
    else:
        with pytest.raises(LearnerError):
            probes.list_dir(str(REPO_ROOT.parent))
    with pytest.raises(LearnerError):
        probes.write_into(str(Path(PYTHON_PATHS[0]) / "planted.py"))


def test_hidden_checks_are_not_in_the_childs_memory(probes: RemoteSubject) -> None:
    loaded = probes.grader_modules()
    assert not any(name.startswith(("autograder.hidden", "autograder.grading")) for name in loaded)
    assert not [name for name in loaded if name.startswith("autograder.reference.steps.")]  # no stand-ins here


STEAL = textwrap.dedent('''
    import gc, importlib, sys

    def steal():
        """Every way to reach the grader's reference attention_scores from step `scores`."""
        found = []
        for name in ("autograder.reference.steps.scores", "autograder.hidden"):
            try:
                importlib.import_module(name)
                found.append("import " + name)
            except Exception:
                pass
        try:
            import autograder.reference as reference
            found.append(repr(reference.attention_scores))
        except Exception:
            pass
        found += [name for name in sys.modules if name.endswith((".scores", ".weights", ".hidden"))
                  and name.startswith("autograder")]
        stand_in = sys.modules["attention.projections"].project_qkv
        found += [key for key in stand_in.__globals__ if key in ("attention_scores", "_sdpa")]
        getattr(sys.modules["attention.projections"], "a_helper", None)  # runs the learner's file, if any
        state = sys.modules["autograder.sandbox.child"]._state  # the package builder
        found += [m for m in state.package.standins if m not in ("tokens", "embedding", "projections")]
        found += [name for name in sys.modules if name.startswith("autograder.reference")]  # no reference at all
        try:
            objects = gc.get_objects()
        except RuntimeError:  # refused in the child (the forbidden-API ban's audit hook): nothing to find there
            objects = []
        found += [repr(obj) for obj in objects
                  if callable(obj) and getattr(obj, "__name__", "") == "attention_scores"
                  and "autograder" in getattr(obj, "__module__", "")]
        return found
''')


def test_learner_code_cannot_reach_its_own_steps_reference(zygote: Zygote, workspace: Path) -> None:
    (workspace / "sub" / "attention" / "scores.py").write_text(STEAL)
    if IS_ROOT:
        os.chown(workspace / "sub" / "attention" / "scores.py", SANDBOX_UID_BASE, SANDBOX_UID_BASE)
    earlier = {"tokens": ("build_vocab", "encode"), "embedding": ("embed",),
               "projections": ("init_projections", "project_qkv")}
    spec = SessionSpec(
        package_dir=str(workspace / "sub" / "attention"), module="scores", standins=earlier,
        step_ids={m: m for m in earlier}, workdir=str(workspace / "sub"), output_path=str(workspace / "o.txt"),
        memory_bytes=512 * 2**20, cpu_seconds=60, output_bytes=64 * 1024,
        uid=SANDBOX_UID_BASE if IS_ROOT else None, hidden_paths=default_hidden_paths(),
    )
    session = StepSession(zygote, spec, 10.0, Budget(60))
    session.start()
    try:
        assert RemoteSubject("scores", "attention/scores.py", session).steal() == []
    finally:
        session.close()


def test_there_is_no_network_and_trying_fails_at_once(probes: RemoteSubject) -> None:
    """Every mode blocks the network without waiting for a timeout (an honest retry costs nothing)."""
    assert "network" in probes.session.isolation or "python_network_block" in probes.session.isolation
    for attempt in (lambda: probes.connect(), lambda: probes.connect("93.184.215.14", 80),
                    lambda: probes.lookup("example.com"), lambda: probes.download("http://example.com/")):
        started = time.monotonic()
        with pytest.raises(LearnerError) as raised:
            attempt()
        assert time.monotonic() - started < 2.0, "the blocked network made learner code wait for a timeout"
        assert raised.value.type_name in {"OSError", "ConnectionRefusedError", "gaierror", "URLError"}, raised.value


def test_learner_code_has_no_capabilities(probes: RemoteSubject) -> None:
    """As root the uid drop clears them; in a user namespace they are dropped explicitly."""
    assert probes.capabilities() == 0


@pytest.mark.skipif(not CONFINED, reason=NEEDS_CONFINEMENT)
def test_learner_code_cannot_remount_the_python_installation_writable(probes: RemoteSubject) -> None:
    """In a user namespace the child had every capability: without dropping them it could remount
    its read-only binds (your virtualenv) writable and change them."""
    with pytest.raises(LearnerError) as raised:
        probes.remount_writable_and_plant(sys.prefix)
    assert raised.value.type_name in {"OSError", "PermissionError", "FileNotFoundError"}
    assert not (Path(sys.prefix) / "planted.py").exists()


@pytest.mark.skipif(
    IS_ROOT, reason="as root the layer is the sandbox uid (see test_learner_code_runs_as_an_unprivileged_uid)")
@pytest.mark.skipif(not IS_ROOT and not USER_NAMESPACES, reason=NEEDS_CONFINEMENT)
def test_as_a_normal_user_learner_code_is_pid_2_of_its_own_pid_namespace(probes: RemoteSubject) -> None:
    assert probes.pids() == [2, 1]
    assert {"pid", "mount", "network", "rlimits", "session"} <= set(probes.session.isolation)


@pytest.mark.skipif(not CONFINED, reason=NEEDS_CONFINEMENT)
def test_learner_code_cannot_signal_the_graders_processes(probes: RemoteSubject) -> None:
    """kill(-1) and kill(pid) reach none of the grader's own (or the instructor's) processes."""
    sentinel = subprocess.Popen(["sleep", "60"])
    try:
        try:
            probes.signal_pid(sentinel.pid)
        except LearnerError:
            pass  # PermissionError as root; ProcessLookupError in a PID namespace
        try:
            probes.kill_everyone()
        except (LearnerError, CallFailed):
            pass
        time.sleep(0.2)
        assert sentinel.poll() is None, "learner code killed a process of the grader's"
    finally:
        sentinel.kill()
        sentinel.wait()


def test_a_memory_bomb_fails_the_call_not_the_grader(probes: RemoteSubject) -> None:
    with pytest.raises(LearnerError) as raised:
        probes.allocate(64)
    assert raised.value.type_name in {"RuntimeError", "MemoryError"}
    assert probes.whoami() >= 0  # the child is still serving


def test_printed_output_is_capped(probes: RemoteSubject) -> None:
    with pytest.raises(LearnerError) as raised:
        probes.shout(100)
    assert raised.value.type_name == "OSError" and "too large" in raised.value.learner_message.lower()


def test_an_infinite_loop_is_stopped_at_the_call_limit(zygote: Zygote, workspace: Path) -> None:
    session = _session(zygote, workspace, call_seconds=1.0)
    started = time.monotonic()
    with pytest.raises(CallFailed, match=r"spin did not finish within 1 s"):
        RemoteSubject("probes", "x", session).spin()
    assert time.monotonic() - started < 5
    assert session.dead


@pytest.mark.skipif(not CONFINED, reason=NEEDS_CONFINEMENT + "; kill(-1) would kill this test run")
def test_killing_the_parent_does_not_stop_the_grader(zygote: Zygote, workspace: Path) -> None:
    session = _session(zygote, workspace)
    subject = RemoteSubject("probes", "x", session)
    try:
        subject.kill_parent()
    except (LearnerError, CallFailed):
        pass  # as root: PermissionError; as a plain user the worker dies and is restarted
    session.close()
    assert RemoteSubject("probes", "x", _session(zygote, workspace)).whoami() >= 0
    session = _session(zygote, workspace)
    try:
        RemoteSubject("probes", "x", session).kill_everyone()  # kill(-1): every process it may signal
    except (LearnerError, CallFailed):
        pass
    session.close()
    assert RemoteSubject("probes", "x", _session(zygote, workspace)).whoami() >= 0


def _leftovers() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as handle:
                    if MARKER.encode() in handle.read():
                        found.append(int(entry))
            except OSError:
                continue
    return found


def test_processes_left_behind_are_killed_with_the_step(zygote: Zygote, workspace: Path) -> None:
    session = _session(zygote, workspace)
    assert RemoteSubject("probes", "x", session).leave_children() == "spawned"
    time.sleep(0.3)
    assert _leftovers(), "the probe should have started its processes"
    session.close()
    deadline = time.monotonic() + 5
    while _leftovers() and time.monotonic() < deadline:
        time.sleep(0.1)
    stray = _leftovers()
    for pid in stray:
        os.kill(pid, signal.SIGKILL)
    assert not stray


@pytest.mark.skipif(not CONFINED, reason=NEEDS_CONFINEMENT)
def test_learner_code_cannot_write_grader_files(probes: RemoteSubject, tmp_path: Path) -> None:
    target = tmp_path / "results.json"
    with pytest.raises(LearnerError) as raised:
        probes.write_into(str(target))
    assert raised.value.type_name in {"PermissionError", "FileNotFoundError", "OSError"}
    assert not target.exists()


def test_tensors_cross_intact(probes: RemoteSubject) -> None:
    value = probes.allocate(0)  # sums an empty uint8 tensor in the child
    assert isinstance(value, torch.Tensor) and int(value) == 0


# -- nothing shared, nothing left behind: keys, SysV IPC, the writable space ---------------------

# Before the worker starts (the fixture): this test process gets a session keyring of its own, which
# the worker and its children inherit; a key added to it later is one they could reach.
join_fresh_session_keyring()
SECRET_KEY = "autograder-test-instructor-secret"
PLANTED_KEY = "autograder-test-planted-by-learner"
NEEDS_NAMESPACES = ("no user namespaces on this system (layers ipc and scratch missing: grading needs "
                    "--allow-unconfined)")

SHARING = textwrap.dedent('''
    import ctypes, errno, mmap, os

    LIBC = ctypes.CDLL(None, use_errno=True)
    LIBC.shmat.restype = ctypes.c_void_p
    MACHINE = os.uname().machine
    ADD_KEY, KEYCTL = {"x86_64": (248, 250)}.get(MACHINE, (217, 219))
    KEYRINGS = (-1, -2, -3, -4, -5)  # thread, process, session, user, user-session

    def steal_key(description, serial):
        """Every way to a key of the grader's: search each keyring this process has, read the serial."""
        found = []
        for keyring in KEYRINGS:
            number = LIBC.syscall(KEYCTL, ctypes.c_long(10), ctypes.c_long(keyring), b"user", description.encode(),
                                  ctypes.c_long(0))
            if number >= 0:
                found.append(number)
        for number in {*found, serial}:
            buffer = ctypes.create_string_buffer(4096)
            size = LIBC.syscall(KEYCTL, ctypes.c_long(11), ctypes.c_long(number), buffer, ctypes.c_long(4096))
            if size >= 0:
                found.append(buffer.raw[:size].decode(errors="replace"))
        return found

    def plant_key(description):
        """Add a key to each keyring a later child (or the grader) might read; the serials made."""
        made = []
        for keyring in KEYRINGS[1:]:
            number = LIBC.syscall(ADD_KEY, b"user", description.encode(), b"planted", ctypes.c_size_t(7),
                                  ctypes.c_long(keyring))
            if number >= 0:
                made.append(number)
        return made

    def attach_segment(shmid):
        """Read and overwrite the start of SysV shared-memory segment ``shmid``."""
        address = LIBC.shmat(shmid, None, 0)
        if address in (None, ctypes.c_void_p(-1).value):
            raise OSError(ctypes.get_errno(), "shmat: " + os.strerror(ctypes.get_errno()))
        seen = ctypes.string_at(address, 32)
        ctypes.memmove(address, b"overwritten by learner code!", 28)
        LIBC.shmdt(ctypes.c_void_p(address))
        return seen.decode(errors="replace")

    def leave_segments(key, count, mebibytes):
        """Make ``count`` segments of ``mebibytes`` each, touch every page, never remove them."""
        made = []
        for index in range(count):
            shmid = LIBC.shmget(key + index, mebibytes << 20, 0o1666)  # IPC_CREAT | 0666
            if shmid < 0:
                raise OSError(ctypes.get_errno(), "shmget: " + os.strerror(ctypes.get_errno()))
            address = LIBC.shmat(shmid, None, 0)
            ctypes.memset(address, 1, mebibytes << 20)
            LIBC.shmdt(ctypes.c_void_p(address))
            made.append(shmid)
        LIBC.semget(key, 4, 0o1666)
        LIBC.msgget(key, 0o1666)
        return made

    def fill(folder, file_bytes, most):
        """Write up to ``most`` files of ``file_bytes`` into ``folder``: [bytes written, files, error]."""
        written = files = 0
        chunk = b"x" * file_bytes
        try:
            for index in range(most):
                with open(os.path.join(folder, f"fill-{index}"), "wb") as handle:
                    handle.write(chunk)
                files += 1
                written += file_bytes
        except OSError as error:
            return [written, files, errno.errorcode.get(error.errno, str(error.errno))]
        return [written, files, ""]

    def where_am_i():
        return [os.getcwd(), os.environ["HOME"], os.environ["TMPDIR"], sorted(os.listdir("."))]
''')


def _shmem_bytes() -> int:
    """Shared memory in use on the whole machine (tmpfs and SysV segments, every namespace)."""
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("Shmem:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no Shmem in /proc/meminfo")


def _wait_for_shmem_below(limit: int, seconds: float = 10.0) -> int:
    """The kernel frees a dead namespace's segments and tmpfs asynchronously: give it a moment."""
    deadline = time.monotonic() + seconds
    while (now := _shmem_bytes()) > limit and time.monotonic() < deadline:
        time.sleep(0.1)
    return now


@pytest.fixture
def sharing(zygote: Zygote, workspace: Path) -> Iterator[RemoteSubject]:
    (workspace / "sub" / "attention" / "sharing.py").write_text(SHARING)
    if IS_ROOT:
        os.chown(workspace / "sub" / "attention" / "sharing.py", SANDBOX_UID_BASE, SANDBOX_UID_BASE)
    session = _session(zygote, workspace, module="sharing")
    yield RemoteSubject("sharing", "attention/sharing.py", session)
    session.close()


def test_learner_code_can_neither_read_the_graders_keys_nor_plant_its_own(zygote: Zygote, workspace: Path,
                                                                         sharing: RemoteSubject) -> None:
    """The grader's session keyring (Kerberos tickets, CIFS passwords) is out of reach, in every mode:
    a fresh session keyring, and every key system call refused by a seccomp filter."""
    serial = add_key(SECRET_KEY, b"kerberos ticket of the instructor")
    assert read_key(serial) == b"kerberos ticket of the instructor"  # the test's own key is readable
    assert sharing.steal_key(SECRET_KEY, serial) == []
    assert sharing.plant_key(PLANTED_KEY) == []
    assert "keyring" in sharing.session.isolation
    sharing.session.close()
    assert search_session_keyring(PLANTED_KEY) is None
    if IS_ROOT:  # root sees every key of every uid in /proc/keys only if it may view them; it may view its own
        assert PLANTED_KEY not in Path("/proc/keys").read_text()
    later = RemoteSubject("sharing", "x", _session(zygote, workspace, module="sharing"))  # same sandbox uid
    try:
        assert later.steal_key(PLANTED_KEY, 0) == []
    finally:
        later.session.close()


@pytest.mark.skipif(not CONFINED, reason=NEEDS_NAMESPACES)
def test_learner_code_cannot_attach_the_graders_sysv_shared_memory(sharing: RemoteSubject) -> None:
    """Its own IPC namespace: even a segment every uid may attach (0666) is not there for it."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.shmat.restype = ctypes.c_void_p
    shmid = libc.shmget(0, 4096, 0o1666)  # IPC_PRIVATE, IPC_CREAT | 0666
    assert shmid >= 0, os.strerror(ctypes.get_errno())
    try:
        address = libc.shmat(shmid, None, 0)
        ctypes.memmove(address, b"instructor's shared memory", 26)
        with pytest.raises(LearnerError) as raised:
            sharing.attach_segment(shmid)
        assert raised.value.type_name == "OSError"
        assert "ipc" in sharing.session.isolation
        assert ctypes.string_at(address, 26) == b"instructor's shared memory"
        libc.shmdt(ctypes.c_void_p(address))
    finally:
        libc.shmctl(shmid, 0, None)  # IPC_RMID


@pytest.mark.skipif(not CONFINED, reason=NEEDS_NAMESPACES)
def test_segments_and_files_learner_code_leaves_die_with_its_child(sharing: RemoteSubject, workspace: Path) -> None:
    """SysV segments it never removes and files it writes are freed with its namespaces (the memory
    they held comes back), never shown to the grader, never written to disk."""
    key = 0x41475400 + os.getpid() % 0x100 * 4
    before = _shmem_bytes()
    assert len(sharing.leave_segments(key, 3, 48)) == 3
    assert sharing.fill(".", 32 * 1024, 1000)[2] == ""
    assert _shmem_bytes() > before + 150 * 2**20, "the segments and files should use shared memory now"
    listed = Path("/proc/sysvipc/shm").read_text()
    assert f"{key:10d}" not in listed and f"{key + 1:10d}" not in listed  # not in the grader's namespace
    sharing.session.close()
    assert _wait_for_shmem_below(before + 64 * 2**20) <= before + 64 * 2**20, "segments or files outlived the child"
    assert sorted(os.listdir(workspace / "sub")) == ["attention"]
    assert not list((workspace / "sub" / "attention").glob("fill-*"))


@pytest.mark.skipif(not CONFINED, reason=NEEDS_NAMESPACES)
def test_the_writable_space_is_capped_in_bytes_and_files_and_is_one_space(zygote: Zygote, workspace: Path,
                                                                         sharing: RemoteSubject) -> None:
    """Home, scratch folder, working folder and /dev/shm are one tmpfs: a few MiB and files, in all."""
    cwd, home, tmpdir, entries = sharing.where_am_i()
    assert cwd == home == tmpdir == str(workspace / "sub") and entries == ["attention"]
    assert "scratch" in sharing.session.isolation
    # its own files are bound read-only: the copy on disk stays as it was
    assert sharing.fill("attention", 10, 1) == [0, 0, "EROFS"]
    written, files, error = sharing.fill(".", 0, SCRATCH_FILES + 100)
    assert error == "ENOSPC" and files <= SCRATCH_FILES
    sharing.session.close()
    again = RemoteSubject("sharing", "x", _session(zygote, workspace, module="sharing"))
    try:
        written, files, error = again.fill(".", 64 * 1024, SCRATCH_FILES + 100)  # 64 KiB: this test's file-size cap
        assert error == "ENOSPC" and SCRATCH_BYTES - 2**20 <= written <= SCRATCH_BYTES, (written, files)
        assert again.fill("/dev/shm", 64 * 1024, 10)[:2] == [0, 0]  # the same cap: nothing left for it
        assert again.where_am_i()[3][:2] == ["attention", "fill-0"]  # a fresh space: the first child's files are gone
    finally:
        again.session.close()
    assert sorted(os.listdir(workspace / "sub")) == ["attention"]

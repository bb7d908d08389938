"""Grading as a normal user: what this machine allows, and the layers that stand in for a separate uid.

- `grading_mode`: probed once in the grader: ``root``, ``user namespaces`` or ``unconfined``
  (no unprivileged user namespaces), with what learner code could do because of each missing layer;
  the grader refuses ``unconfined`` unless the instructor passes ``--allow-unconfined``;
- `enter_pid_namespace`: learner code becomes pid 2 of its own PID namespace, so ``kill(-1)``,
  signals and ``ptrace`` reach none of the instructor's processes;
- `drop_capabilities`: the capabilities a new user namespace grants are dropped before learner
  code runs (it could remount its read-only binds otherwise);
- `block_network_in_python`: without a network namespace, Python's sockets fail at once.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import signal
from dataclasses import dataclass

from .keyring import KEY_FILTER
from .libc import LIBC, prctl, unshare

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
CLONE_NEWIPC = 0x08000000
PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
CAP_LAST_CAP = 63
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# Set (to anything but "" or "0") to make this machine look as if it allowed no unprivileged user
# namespaces: the probe says so and children do not try them. For tests, and for trying the
# refusal and ``--allow-unconfined`` on a machine that has them.
NO_USER_NAMESPACES_ENV = "AUTOGRADER_NO_USER_NAMESPACES"





def map_user(uid: int, gid: int) -> bool:
    try:
        with open("/proc/self/setgroups", "w") as handle:
            handle.write("deny")
        with open("/proc/self/uid_map", "w") as handle:
            handle.write(f"{uid} {uid} 1")
        with open("/proc/self/gid_map", "w") as handle:
            handle.write(f"{gid} {gid} 1")
    except OSError:
        return False
    return True


def user_namespaces_disabled() -> bool:
    """True when ``AUTOGRADER_NO_USER_NAMESPACES`` asks to behave as if there were no user namespaces."""
    return os.environ.get(NO_USER_NAMESPACES_ENV, "") not in ("", "0")


def user_namespaces_available() -> bool:
    """Whether this (unprivileged) process may make the namespaces a child needs: tried in a fork.

    The same call a child makes (``unshare`` of a user, mount, network and PID namespace, then
    mapping its uid; the child adds an IPC namespace where the kernel has them), so the answer
    holds whatever the reason (``kernel.unprivileged_userns_clone``, ``user.max_user_namespaces``,
    AppArmor or seccomp rules of a container).
    """
    if user_namespaces_disabled():
        return False
    uid, gid = os.getuid(), os.getgid()
    pid = os.fork()
    if pid == 0:
        try:
            ok = unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID) and map_user(uid, gid)
        except BaseException:  # noqa: BLE001
            ok = False
        os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0


@dataclass(frozen=True)
class GradingMode:
    """What isolation this grader can give learner code, known before anything runs."""

    name: str  # "root", "user namespaces" or "unconfined"
    missing: dict[str, str]  # layer -> what learner code can do because it is missing

    def announcement(self) -> str | None:
        """One line for the start of a run, or None when nothing is missing."""
        if not self.missing:
            return None
        what = "; ".join(f"{layer}: {why}" for layer, why in self.missing.items())
        return f"isolation ({self.name}): missing layers: {what}"


UNCONFINED_RISK = "learner code would run as you, free to read, change or delete your files and to kill your processes"


def grading_mode() -> GradingMode:
    """Probe this machine once, in the grader: which layers children will have, which not."""
    keys = {} if KEY_FILTER is not None else {
        "keyring": f"no seccomp filter for this machine ({os.uname().machine}): learner code can read and add "
                   "keys of your keyrings (Kerberos tickets, CIFS passwords)"}
    if os.geteuid() == 0:
        return GradingMode("root", keys)
    if user_namespaces_available():
        return GradingMode("user namespaces", {
            "uid": "learner code runs under your own uid, inside its own user, PID, mount, network and IPC namespaces "
                   "(it sees none of your files and cannot signal your processes); its processes count "
                   "against your process limit", **keys})
    return GradingMode("unconfined", {
        "uid": "learner code runs as you",
        "mount": "it can read and write every file you can",
        "network": "only Python's sockets are blocked (code calling the C library directly can connect)",
        "pid": "it can signal (kill) every process of yours",
        "ipc": "it can attach to your SysV shared memory, semaphores and message queues, and leave its own behind",
        "scratch": "it writes to your disk and /dev/shm: each file is capped, not their number",
        **keys,
    })


def enter_pid_namespace() -> bool:
    """After ``unshare(CLONE_NEWPID)``: continue as pid 2 of the new namespace, under a minimal init.

    Three processes: this one (stays outside, ends the way the learner's process ends, so the
    zygote sees the same status), the namespace's init (pid 1: reaps, cannot be signalled from
    inside), and the learner's process (pid 2, a new session), which returns. When the outer
    process is killed, the init dies (parent-death signal) and the kernel kills the whole namespace.
    Returns False (still this process, no PID namespace) when the first fork fails.
    """
    report_read, report_write = os.pipe()
    try:
        init = os.fork()
    except OSError:
        os.close(report_read)
        os.close(report_write)
        return False
    if init > 0:
        _keep_only_fd(report_read)
        _, status = os.waitpid(init, 0)
        try:
            reported = os.read(report_read, 16)
        except OSError:
            reported = b""
        _end_like(int(reported) if reported.strip().isdigit() else status)
    # (if the outer process died before this line, the zygote's sweep of its orphans kills this one)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.close(report_read)
    try:
        learner = os.fork()
    except OSError:
        os.close(report_write)
        return True  # run as the init itself; still alone in the namespace
    if learner > 0:
        _keep_only_fd(report_write)
        while True:
            try:
                pid, status = os.waitpid(-1, 0)
            except ChildProcessError:
                os._exit(1)
            if pid == learner:
                os.write(report_write, str(status).encode())
                os._exit(0)  # the kernel kills whatever else is left in the namespace
    os.close(report_write)
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setsid()
    return True


def _keep_only_fd(fd: int) -> None:
    os.closerange(0, fd)
    os.closerange(fd + 1, 1 << 16)


def _end_like(status: int) -> None:
    """Exit with the same wait status as another process ended with (never returns)."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        signal.signal(number, signal.SIG_DFL)
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> bool:
    """Drop every capability of this process (those a new user namespace grants), for good."""
    for capability in range(CAP_LAST_CAP + 1):
        prctl(PR_CAPBSET_DROP, capability)
    header = _CapHeader(LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    return LIBC.capset(ctypes.byref(header), data) == 0


def block_network_in_python() -> None:
    """Make Python's sockets fail at once: every connect, name lookup and send to an address.

    Only where no network namespace could be made. Unix sockets (local pipes) keep working.
    """
    import socket

    def refuse(*_: object, **__: object) -> None:
        raise OSError(errno.ENETUNREACH, "Network is unreachable (the grader allows no network access)")

    def guarded(method):  # noqa: ANN001, ANN202
        def call(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            if self.family in (socket.AF_INET, socket.AF_INET6):
                refuse()
            return method(self, *args, **kwargs)
        return call

    for name in ("connect", "connect_ex", "sendto", "sendmsg", "bind"):
        setattr(socket.socket, name, guarded(getattr(socket.socket, name)))
    socket.getaddrinfo = refuse
    socket.gethostbyname = refuse
    socket.gethostbyname_ex = refuse
    socket.gethostbyaddr = refuse
    socket.create_connection = refuse



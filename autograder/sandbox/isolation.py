"""Confine the current (freshly forked) process before it runs learner code.

Layers, each applied when this machine allows it and reported by name:

- ``session``: a process group of its own, so the whole group can be killed, in a session
  without a controlling terminal;
- ``rlimits``: address space, CPU seconds, file size (caps printed output), open files,
  processes, no core dumps;
- ``mount``: a private mount namespace whose root is a new, read-only tmpfs holding only what
  learner code needs: the system folders (``/usr``, ``/lib*``, ``/bin``, ``/sbin``, ``/etc``,
  read-only), a few devices (``/dev/null``, ``/dev/urandom``, ...), a copy of
  ``/proc/cpuinfo``, the Python installation (read-only) and the child's own working folder.
  Nothing else of the machine exists there: no repository (wherever its copies lie), no other
  submission, no ``/tmp``, ``/home``, nor the rest of ``/proc``.
  An allowlist, not a denylist. Where the root cannot be replaced, the fallback covers the
  grader's files, the output folder, other submissions and the scratch and home folders
  (``/tmp``, ``/home``, ``/root``, ...) with empty read-only tmpfs mounts instead;
- ``network``: an empty network namespace (no network at all);
- ``ipc``: its own IPC namespace: no SysV shared memory, semaphore or message queue of anyone
  else's is visible, and the kernel destroys those the child makes when its last process ends;
- ``scratch``: its only writable space, a tmpfs over its working folder (and ``/dev/shm``) capped
  in bytes and files, gone with it (`autograder.sandbox.scratch`); its own files bound back read-only;
- ``keyring``: a fresh session keyring, and a seccomp filter that refuses every key system call
  (`autograder.sandbox.keyring`): no key of the grader's can be read, none can be planted;
- ``uid``: when the grader runs as root, an unprivileged uid/gid with no supplementary groups;
- ``pid`` (a normal user, instead of ``uid``): an unprivileged user namespace supplies the mount
  and network layers, and a new PID namespace in which learner code is pid 2 under a small init:
  its ``kill(-1)``, signals and ``ptrace`` reach only its own processes, never the instructor's,
  and every capability the user namespace gave is dropped before learner code runs;
- ``python_network_block`` (a normal user without user namespaces, only with
  ``--allow-unconfined``): no kernel network layer, so Python's sockets refuse every connection
  and name lookup at once (an honest submission that tries the network fails fast, as in the
  other modes); learner code can get around it, which is why that mode needs the flag;
- ``no_new_privs``: setuid binaries cannot raise privileges.

`unprivileged.grading_mode` says, in the grader before anything runs, which of these this machine allows.

The sandbox uids are `autograder.sandbox.uids`; the cleanup after a child is done, `autograder.sandbox.cleanup`.
"""

from __future__ import annotations

import errno
import os
import resource
import signal
import stat
from dataclasses import dataclass, field

from .cleanup import user_processes
from .keyring import deny_key_syscalls, join_fresh_session_keyring
from .libc import LIBC, prctl, unshare
from .scratch import SCRATCH_BYTES, SCRATCH_FILES, SHM, mount_scratch
from .unprivileged import (
    CLONE_NEWIPC,
    CLONE_NEWPID,
    block_network_in_python,
    drop_capabilities,
    enter_pid_namespace,
    map_user,
    user_namespaces_disabled,
)

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_NOEXEC = 0x8
MS_REMOUNT = 0x20
MS_RELATIME = 0x200000
MS_BIND = 0x1000
MS_REC = 0x4000
MS_PRIVATE = 0x40000
PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36
PR_SET_NO_NEW_PRIVS = 38
MNT_DETACH = 2
SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "arm64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

# What every child sees of the machine besides its Python installation and working folder.
SYSTEM_PATHS = ("/usr", "/lib", "/lib64", "/lib32", "/libx32", "/bin", "/sbin", "/etc")
DEVICES = ("/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom")

# Folders where copies of grader files, other users' work or other submissions may lie.
SCRATCH_ROOTS = ("/tmp", "/var/tmp", "/dev/shm", "/home", "/root", "/srv", "/mnt", "/media", "/run")



@dataclass(frozen=True)
class Confinement:
    """What to apply to one child."""

    memory_bytes: int
    cpu_seconds: int
    output_bytes: int
    uid: int | None = None  # drop to this uid/gid (only when running as root)
    hidden_paths: tuple[str, ...] = ()
    needed_paths: tuple[str, ...] = ()  # must stay readable after the uid drop (python, site-packages, workdir)
    max_processes: int = 64
    max_open_files: int = 256
    scratch_bytes: int = SCRATCH_BYTES  # the writable space: bytes and files, in all
    scratch_files: int = SCRATCH_FILES
    layers: list[str] = field(default_factory=list)



def set_child_subreaper() -> bool:
    """Orphaned descendants of this process are re-parented to it (so they can be found)."""
    return prctl(PR_SET_CHILD_SUBREAPER, 1)


def make_undumpable() -> bool:
    """Other processes of the same uid cannot ptrace this one or read its memory."""
    return prctl(PR_SET_DUMPABLE, 0)


def confine(settings: Confinement) -> list[str]:
    """Apply every available layer to this process; return the names of those applied."""
    layers: list[str] = []
    is_root = os.geteuid() == 0
    # Read from /proc now: the new root has no /proc.
    mapped = _address_space_size()
    # RLIMIT_NPROC counts every process of this uid: the grader's too, unless the uid is a sandbox uid
    processes = settings.max_processes + (0 if is_root else len(user_processes(os.getuid())))
    _own_process_group()
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    layers.append("session")
    if is_root:
        reachable = all(_first_blocked(path)[0] is None for path in settings.needed_paths)
        sandbox_uid = settings.uid if settings.uid is not None else 65534
        if _unshare_namespaces(CLONE_NEWNS | CLONE_NEWNET, layers):
            if _make_private():
                scratch = _scratch(settings, sandbox_uid, layers)
                if _enter_minimal_root(settings, (SHM,) if scratch else ()):
                    layers.append("mount")
                    reachable = True  # every folder of the new root is 0755 up to the bound paths
                elif _hide(_hidden(settings, scratch), settings.needed_paths):
                    layers.append("mount")
                    reachable = _expose(settings.needed_paths)
        if reachable:  # otherwise an unprivileged uid could not even import the standard library
            _drop_privileges(sandbox_uid)
            layers.append("uid")
    else:
        uid, gid = os.getuid(), os.getgid()
        if (not user_namespaces_disabled()
                and _unshare_namespaces(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID, layers)
                and map_user(uid, gid)):
            if _make_private():
                scratch = _scratch(settings, None, layers)
                if (_enter_minimal_root(settings, (SHM,) if scratch else ())
                        or _hide(_hidden(settings, scratch), settings.needed_paths)):
                    layers.append("mount")
            if enter_pid_namespace():  # from here on this is pid 2 of a new PID namespace
                layers.append("pid")
            drop_capabilities()  # those the user namespace granted: no remounting the read-only binds
        else:
            layers[:] = [layer for layer in layers if layer not in ("network", "ipc")]  # the unshare failed
            block_network_in_python()
            layers.append("python_network_block")
    join_fresh_session_keyring()  # (no keyring at all where the kernel has no keys: the filter still holds)
    if prctl(PR_SET_NO_NEW_PRIVS, 1):
        layers.append("no_new_privs")
        if deny_key_syscalls():  # only after no_new_privs (the kernel requires it of an unprivileged process)
            layers.append("keyring")
    _set_limits(settings, mapped, processes)
    layers.append("rlimits")
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writing past the output cap fails with EFBIG
    return layers


def _unshare_namespaces(flags: int, layers: list[str]) -> bool:
    """``unshare(flags)`` with a new IPC namespace too where the kernel has them; notes ``network`` and ``ipc``."""
    if unshare(flags | CLONE_NEWIPC):
        layers += ["network", "ipc"]
        return True
    if unshare(flags):  # a kernel without IPC namespaces: the other layers still hold
        layers.append("network")
        return True
    return False


def _scratch(settings: Confinement, owner: int | None, layers: list[str]) -> bool:
    """The capped tmpfs over the working folder (the last needed path); notes ``scratch``."""
    if not settings.needed_paths or not mount_scratch(settings.needed_paths[-1], owner, settings.scratch_bytes,
                                                      settings.scratch_files):
        return False
    layers.append("scratch")
    return True


def _hidden(settings: Confinement, scratch: bool) -> tuple[str, ...]:
    """What the fallback covers: ``/dev/shm`` not when the scratch space took its place."""
    roots = tuple(root for root in SCRATCH_ROOTS if not (scratch and root == SHM))
    return (*roots, *settings.hidden_paths)


def _own_process_group() -> None:
    """A process group of its own (what `kill_tree` kills) in a session without a controlling terminal.

    ``setsid`` gives both but costs about 5 ms of CPU (the kernel makes a scheduler autogroup per
    session); the warm worker leaves its terminal once (`zygote.main`), so a child of it only
    needs a new group. A process that still has a controlling terminal gets a new session.
    """
    try:
        os.close(os.open("/dev/tty", os.O_RDONLY | os.O_NOCTTY))
    except OSError as error:
        if error.errno == errno.ENXIO:  # no controlling terminal
            os.setpgid(0, 0)
            return
    os.setsid()



def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> bool:
    return LIBC.mount(
        source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
        data.encode() if data else None,
    ) == 0


def _make_private() -> bool:
    """Mounts made from now on stay in this process's mount namespace."""
    return _mount("none", "/", None, MS_REC | MS_PRIVATE, None)


def _outermost(paths: list[str]) -> list[str]:
    """``paths`` without those inside another of them (binding the outer one shows them)."""
    unique = sorted(set(paths), key=lambda p: (p.count(os.sep), p))
    kept: list[str] = []
    for path in unique:
        if not any(_within(path, outer) for outer in kept):
            kept.append(path)
    return kept


def _locked_flags(path: str) -> int:
    """The mount flags of ``path`` that a remount must keep (a user namespace may not clear them)."""
    try:
        flags = os.statvfs(path).f_flag
    except OSError:
        return 0
    kept = flags & (os.ST_NOSUID | os.ST_NODEV | os.ST_NOEXEC | os.ST_NOATIME | os.ST_NODIRATIME)
    return kept | (MS_RELATIME if flags & os.ST_RELATIME else 0)


def _cover(path: str) -> bool:
    """Hide ``path`` under an empty read-only tmpfs (a folder) or ``/dev/null`` (a file)."""
    if os.path.isdir(path):
        return _mount("tmpfs", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=4k,mode=000")
    return _mount("/dev/null", path, None, MS_BIND, None)


def _enter_minimal_root(settings: Confinement, folders: tuple[str, ...] = (), staging: str = "/tmp") -> bool:
    """Make a new root holding only the system folders, devices, Python and the working folder.

    Built on a tmpfs mounted over ``staging`` (in this private mount namespace only), every
    needed path bound from a descriptor opened before the cover went on; then ``pivot_root``
    and a lazy unmount of the old root, which leaves no way back to the machine's files.
    Paths are bound read-only except the working folder (the last needed path). Returns False,
    leaving the namespace as it was, when this machine does not allow it. ``folders``: more paths
    bound writable (``/dev/shm`` when the scratch space provides it).
    """
    number = SYS_PIVOT_ROOT.get(os.uname().machine)
    if number is None or not os.path.isdir(staging) or not settings.needed_paths:
        return False
    workdir = os.path.abspath(settings.needed_paths[-1])
    wanted: list[str] = []
    links: dict[str, str] = {}
    for path in (*SYSTEM_PATHS, *settings.needed_paths):
        path = os.path.abspath(path)
        if os.path.islink(path):  # /lib -> usr/lib on merged-/usr systems: the link, and its target
            links[path] = os.readlink(path)
            path = os.path.realpath(path)
        if os.path.exists(path):
            wanted.append(path)
    binds = _outermost(wanted)
    try:
        with open("/proc/cpuinfo") as handle:
            cpuinfo = handle.read(1 << 20)
    except OSError:
        cpuinfo = ""
    held: dict[str, int] = {}
    mounted = False
    try:
        for path in (*binds, *DEVICES, *folders):
            if os.path.exists(path):
                held[path] = os.open(path, os.O_PATH)
        if not _mount("tmpfs", staging, "tmpfs", MS_NOSUID, "mode=0755,size=1m"):
            return False
        mounted = True
        for path, fd in held.items():
            target = staging + path
            os.makedirs(os.path.dirname(target), mode=0o755, exist_ok=True)
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.makedirs(target, mode=0o755, exist_ok=True)
            else:
                open(target, "w").close()  # noqa: SIM115 - a mount point
            if not _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC, None):
                raise OSError("bind")
            if path != workdir and not path.startswith("/dev/"):
                _mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(target), None)
        for path in settings.hidden_paths:  # a grader file inside a bound folder (a non-editable install)
            if any(_within(os.path.abspath(path), outer) for outer in binds) and os.path.lexists(staging + path):
                if not _cover(staging + os.path.abspath(path)):
                    raise OSError("cover")
        if cpuinfo:  # a copy: libraries that look up the CPU lazily (cpuinfo in torch) read it
            os.makedirs(staging + "/proc", mode=0o755, exist_ok=True)
            with open(staging + "/proc/cpuinfo", "w") as handle:
                handle.write(cpuinfo)
        for link, destination in links.items():
            if not os.path.lexists(staging + link):
                os.makedirs(os.path.dirname(staging + link), mode=0o755, exist_ok=True)
                os.symlink(destination, staging + link)
        os.chdir(staging)
        if LIBC.syscall(number, b".", b".") != 0:
            raise OSError("pivot_root")
        LIBC.umount2(b".", MNT_DETACH)  # the old root, stacked on the same point
        os.chdir("/")
        _mount("tmpfs", "/", "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID, "mode=0755")
        return True
    except OSError:
        if mounted:
            os.chdir("/")
            LIBC.umount2(staging.encode(), MNT_DETACH)
        return False
    finally:
        for fd in held.values():
            os.close(fd)


def _first_blocked(path: str) -> tuple[str | None, str | None]:
    """The first ancestor of ``path`` that other users cannot enter, and the entry below it."""
    current = "/"
    for part in os.path.abspath(path).split(os.sep)[1:]:
        if not part:
            continue
        try:
            if not os.stat(current).st_mode & 0o001:
                return current, part
        except OSError:
            return None, None
        current = os.path.join(current, part)
    return None, None


def _expose(paths: tuple[str, ...]) -> bool:
    """Make every path reachable by any uid, in this mount namespace only.

    An ancestor that others cannot enter (``/root`` is 0700 when Python lives in ``~/.pyenv``) is
    covered by a tmpfs holding only the needed entries, each a bind mount of the original.
    Everything else in that ancestor disappears from the child's view.
    """
    for _ in range(16):  # one blocked level per round
        blocked: dict[str, set[str]] = {}
        for path in paths:
            ancestor, entry = _first_blocked(path)
            if ancestor is not None and entry is not None:
                blocked.setdefault(ancestor, set()).add(entry)
        if not blocked:
            return True
        for ancestor, entries in blocked.items():
            if not _reexpose(ancestor, sorted(entries)):
                return False
    return False


def _reexpose(ancestor: str, entries: list[str]) -> bool:
    """Cover ``ancestor`` with a read-only tmpfs that holds only ``entries``, bound to the originals.

    The originals are held open (``O_PATH``) before the cover goes on, and bound back through
    ``/proc/self/fd``, so no staging folder is needed.
    """
    held: dict[str, int] = {}
    try:
        for entry in entries:
            held[entry] = os.open(os.path.join(ancestor, entry), os.O_PATH)
        if not _mount("tmpfs", ancestor, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0755,size=64k"):
            return False
        for entry, fd in held.items():
            target = os.path.join(ancestor, entry)
            if stat.S_ISDIR(os.fstat(fd).st_mode):
                os.mkdir(target)
            else:
                open(target, "w").close()  # noqa: SIM115 - a mount point
            if not _mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC, None):
                return False
        return _mount("tmpfs", ancestor, "tmpfs", MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0755")
    except OSError:
        return False
    finally:
        for fd in held.values():
            os.close(fd)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _hide(paths: tuple[str, ...], needed: tuple[str, ...]) -> bool:
    """Cover each path with an empty read-only tmpfs (a file: /dev/null), keeping needed paths inside.

    Shallow paths first: a deeper one already covered no longer exists and is skipped. A folder
    holding needed paths becomes a tmpfs with just those entries mounted back (see `_reexpose`).
    """
    needed = tuple(os.path.abspath(n) for n in needed)
    hidden_all = True
    for path in sorted({os.path.abspath(p) for p in paths}, key=lambda p: p.count(os.sep)):
        if not os.path.lexists(path) or any(_within(path, n) for n in needed):
            continue  # gone (under a covered folder), or itself needed
        inside = sorted({os.path.relpath(n, path).split(os.sep)[0] for n in needed if _within(n, path)})
        ok = _reexpose(path, inside) if inside else _cover(path)
        hidden_all = hidden_all and ok
    return hidden_all


def _drop_privileges(uid: int) -> None:
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:  # pragma: no cover - would be a kernel bug
        raise RuntimeError("could not drop root privileges")


def _set_limits(settings: Confinement, mapped: int, processes: int) -> None:
    """``mapped``: this process's address space size now; learner code may add ``memory_bytes``."""
    resource.setrlimit(resource.RLIMIT_AS, (mapped + settings.memory_bytes, mapped + settings.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (settings.cpu_seconds, settings.cpu_seconds + 2))
    resource.setrlimit(resource.RLIMIT_FSIZE, (settings.output_bytes, settings.output_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    limit = settings.max_open_files if hard == resource.RLIM_INFINITY else min(settings.max_open_files, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, limit))
    resource.setrlimit(resource.RLIMIT_NPROC, (processes, processes))


def _address_space_size() -> int:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[0])
    return pages * os.sysconf("SC_PAGE_SIZE")

"""Process-tree cleanup after a step's child is done (runs in the zygote, which is a child subreaper)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable


def _stat_fields(pid: int) -> list[str] | None:
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except OSError:
        return None
    return text[text.rindex(")") + 2:].split()  # fields after "(comm)": state, ppid, pgrp, session...


def user_processes(uid: int) -> list[int]:
    """Pids of the processes whose real uid is ``uid``."""
    pids = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    pids.append(int(entry))
            except OSError:
                continue
    return pids


def children_of(parent: int) -> list[int]:
    """Pids whose parent is ``parent`` (its threads' ``children`` lists; a scan of /proc where those are missing)."""
    try:
        tasks = os.listdir(f"/proc/{parent}/task")
        listed: set[int] = set()
        for task in tasks:
            with open(f"/proc/{parent}/task/{task}/children") as handle:
                listed.update(int(pid) for pid in handle.read().split())
        return sorted(listed)
    except (OSError, ValueError):
        pass  # no CONFIG_PROC_CHILDREN, or a thread ended while we read: scan every process
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None and int(fields[1]) == parent:
                found.append(int(entry))
    return found


def kill_uid(uid: int) -> None:
    """Kill every process of ``uid`` (the grader must be root): a helper takes that uid and kills all."""
    pid = os.fork()
    if pid == 0:
        try:
            os.setgroups([])
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for _ in range(3):
                os.kill(-1, signal.SIGKILL)
        except OSError:
            pass
        os._exit(0)
    os.waitpid(pid, 0)


def kill_tree(leader: int, *, uid: int | None, keep: set[int],
              uid_killer: Callable[[int], bool] | None = None) -> None:
    """Kill ``leader``'s process group, every process of ``uid``, and this process's orphans not in ``keep``.

    ``uid_killer(uid)`` (a helper cheaper than `kill_uid`'s fork) kills every process of ``uid``;
    when it returns False, `kill_uid` does.
    """
    try:
        os.killpg(leader, signal.SIGKILL)
    except OSError:
        pass
    if uid is not None and os.geteuid() == 0 and (uid_killer is None or not uid_killer(uid)):
        kill_uid(uid)
    else:  # no sandbox uid: its children become our orphans only once it has exited; wait for that
        _wait_until_ended(leader)
    for _ in range(5):  # orphans re-parented to us (we are a subreaper); repeat: they may fork
        strays = [pid for pid in children_of(os.getpid()) if pid not in keep]
        if not strays:
            break
        for pid in strays:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        reap()


def _wait_until_ended(pid: int, seconds: float = 1.0) -> None:
    """Wait (without reaping it) until ``pid`` is a zombie or gone."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        fields = _stat_fields(pid)
        if fields is None or fields[0] in ("Z", "X"):
            return
        time.sleep(0.001)


def reap() -> list[tuple[int, int]]:
    """Collect every exited child without blocking; returns (pid, status) pairs."""
    reaped = []
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            break
        if pid == 0:
            break
        reaped.append((pid, status))
    return reaped

"""The child's only writable space: one small tmpfs, capped in bytes and in files, that dies with it.

Without it learner code writes to the disk that holds the grader's work folder: each file is
capped (``RLIMIT_FSIZE``), but not their number, so one step wrote 1,000 MiB in 3 s. Inside the
child's mount namespace (so invisible to every other process) `mount_scratch`:

1. holds every entry of the working folder (the private copy: ``attention/``) open with ``O_PATH``;
2. mounts a tmpfs on the working folder, ``size=`` and ``nr_inodes=`` capped, owned by the child's
   uid, ``nosuid,nodev``;
3. makes two folders in it, ``work`` and ``shm``: ``shm`` is bound on ``/dev/shm`` (POSIX shared
   memory and semaphores then live in the same cap, private to the child), ``work`` on the working
   folder itself, over the tmpfs's root (so neither folder shows);
4. binds the held entries back, read-only: learner code reads its own files but cannot change
   the copy on disk.

``HOME`` and ``TMPDIR`` point at the working folder. Everything written there is in memory, never
on disk, counted against the cap, and freed by the kernel when the child's mount namespace ends
(its last process exits): nothing is left behind to delete.
"""

from __future__ import annotations

import os
import stat

from .libc import LIBC

MS_RDONLY = 0x1
MS_NOSUID = 0x2
MS_NODEV = 0x4
MS_REMOUNT = 0x20
MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 2

SCRATCH_BYTES = 64 * 2**20  # what one child may write, in all (its files and its POSIX shared memory)
SCRATCH_FILES = 1024  # how many files and folders it may make
SHM = "/dev/shm"


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None = None) -> bool:
    return LIBC.mount(source.encode(), target.encode(), fstype.encode() if fstype else None, flags,
                      data.encode() if data else None) == 0


def _make_mount_point(path: str, like_fd: int) -> None:
    if stat.S_ISDIR(os.fstat(like_fd).st_mode):
        os.mkdir(path, 0o700)
    else:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _locked_flags(path: str) -> int:
    """Flags a read-only remount of a bind of ``path`` must keep (a user namespace may not clear them)."""
    try:
        flags = os.statvfs(path).f_flag
    except OSError:
        return 0
    kept = 0
    for st_flag, ms_flag in ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, 0x8),
                             (os.ST_NOATIME, 0x400), (os.ST_NODIRATIME, 0x800), (os.ST_RELATIME, 0x200000)):
        if flags & st_flag:
            kept |= ms_flag
    return kept


def mount_scratch(workdir: str, owner: int | None, size_bytes: int = SCRATCH_BYTES,
                  max_files: int = SCRATCH_FILES) -> bool:
    """Replace ``workdir`` (in this mount namespace) by a capped tmpfs holding read-only binds of its entries.

    ``owner``: the uid (and gid) that will own the tmpfs (root mode: the sandbox uid; None: this
    process's). ``/dev/shm`` becomes part of the same tmpfs when it exists as a folder. Runs
    before the new root is built (it binds through ``/proc/self/fd``). False, with every mount
    it made undone, when a step failed.
    """
    workdir = os.path.abspath(workdir)
    held: dict[str, int] = {}
    mounted: list[str] = []
    try:
        for entry in os.listdir(workdir):
            try:
                fd = os.open(os.path.join(workdir, entry), os.O_PATH | os.O_NOFOLLOW)
            except OSError:
                continue
            mode = os.fstat(fd).st_mode
            if stat.S_ISDIR(mode) or stat.S_ISREG(mode):
                held[entry] = fd
            else:  # a link or a device: the intake makes none; not shown
                os.close(fd)
        options = f"size={size_bytes},nr_inodes={max_files + len(held) + 3},mode=0700"
        if owner is not None:
            options += f",uid={owner},gid={owner}"
        if not _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, options):
            return False
        mounted.append(workdir)
        work, shm = os.path.join(workdir, "work"), os.path.join(workdir, "shm")
        for folder in (work, shm):
            os.mkdir(folder, 0o700)
            if owner is not None:
                os.chown(folder, owner, owner)
        if os.path.isdir(SHM) and not os.path.islink(SHM):
            if not _mount(shm, SHM, None, MS_BIND):
                raise OSError("bind /dev/shm")
            mounted.append(SHM)
        if not _mount(work, workdir, None, MS_BIND):
            raise OSError("bind work")
        mounted.append(workdir)
        for entry, fd in held.items():
            target = os.path.join(workdir, entry)
            _make_mount_point(target, fd)
            if owner is not None:
                os.chown(target, owner, owner)
            if not (_mount(f"/proc/self/fd/{fd}", target, None, MS_BIND | MS_REC)
                    and _mount("none", target, None, MS_BIND | MS_REMOUNT | MS_RDONLY | _locked_flags(target))):
                raise OSError(f"bind {entry}")
        return True
    except OSError:
        for target in reversed(mounted):  # the namespace as it was: the copy on disk, writable
            LIBC.umount2(target.encode(), MNT_DETACH)
        return False
    finally:
        for fd in held.values():
            os.close(fd)

"""The client of the warm worker (`zygote`): starts it, asks it to fork children, restarts it.

Imports nothing heavy (no torch), so that the grader can start the worker first and import torch
itself while the worker does the same.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

STARTUP_SECONDS = 120.0


class SandboxError(RuntimeError):
    """The sandbox itself failed (not the learner's code): the grader cannot run."""


class Zygote:
    """Client of the warm worker process; thread-safe; restarts the worker if it died."""

    def __init__(self, command: list[str] | None = None) -> None:
        """``command`` (tests only) replaces ``python -m autograder.sandbox.zygote``; the fd is appended."""
        self._command = command or [sys.executable, "-m", "autograder.sandbox.zygote"]
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._control: socket.socket | None = None
        self.restarts = 0

    def start(self) -> None:
        """Start the worker (it imports torch in parallel with the caller)."""
        with self._lock:
            self._start_locked()

    def _start_locked(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])))
        self._process = subprocess.Popen(
            [*self._command, str(theirs.fileno())],
            pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, env=env,
        )
        theirs.close()
        self._control = ours
        self._ready = False

    def _ensure_ready_locked(self) -> None:
        if self._process is None or self._process.poll() is not None or self._control is None:
            if self._process is not None:
                self.restarts += 1
            self._start_locked()
        if not self._ready:
            self._control.settimeout(STARTUP_SECONDS)
            try:
                data = self._control.recv(4096)
            except OSError as error:
                raise SandboxError(f"the sandbox worker did not start: {error}") from None
            if not data:
                raise SandboxError("the sandbox worker did not start (see the error above)")
            self._ready = True

    def _request(self, message: dict, fds: list[int] | None = None, timeout: float = 60.0) -> dict | None:
        """One request and its reply; ``None`` when the worker died (it restarts on the next request)."""
        with self._lock:
            self._ensure_ready_locked()
            assert self._control is not None
            try:
                self._control.settimeout(timeout)
                socket.send_fds(self._control, [json.dumps(message).encode()], fds or [])
                data = self._control.recv(1 << 20)
                if data:
                    return json.loads(data)
            except OSError:
                pass
            self._kill_locked()
            return None

    def spawn(self, request: dict, conn: socket.socket) -> int:
        """Fork a confined child that will serve on ``conn``; returns its pid."""
        for _ in range(2):  # a worker killed by an earlier submission is restarted once
            reply = self._request(dict(request, op="spawn"), [conn.fileno()])
            if reply is not None:
                break
        if reply is None or "pid" not in reply:
            raise SandboxError(f"could not start a sandboxed process: {(reply or {}).get('error', 'no worker')}")
        return int(reply["pid"])

    def release(self, pid: int, ended: bool = False) -> str:
        """Kill a child's whole process tree; returns how the child ended."""
        reply = self._request({"op": "release", "pid": pid, "ended": ended})
        return "the sandbox worker had stopped" if reply is None else str(reply.get("status", "ended"))

    def _kill_locked(self) -> None:
        if self._control is not None:
            self._control.close()
            self._control = None
        if self._process is not None and self._process.poll() is None:
            self._process.kill()
            self._process.wait()

    def stop(self) -> None:
        """Kill the worker now, whatever it is doing (`close` lets it finish and clean up first)."""
        with self._lock:
            self._kill_locked()

    def close(self) -> None:
        with self._lock:
            if self._control is not None:
                self._control.close()  # the worker kills its children and exits
                self._control = None
            if self._process is not None:
                try:
                    self._process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self._process.kill()
                    self._process.wait()

"""Honest, not hostile: a correct solution that tries the network at import and carries on when it fails.

It must score full marks in every mode (root, a normal user with or without user namespaces):
the grader's network block has to fail at once, not after the 5 s timeout.
"""
import socket
import urllib.request

NETWORK_TRIES = []
for _attempt in (lambda: socket.create_connection(("example.com", 80), timeout=5).close(),
                 lambda: urllib.request.urlopen("http://example.com/", timeout=5).close(),
                 lambda: socket.create_connection(("93.184.215.14", 80), timeout=5).close()):
    try:
        _attempt()
        NETWORK_TRIES.append("connected")
    except OSError as error:  # no network: carry on
        NETWORK_TRIES.append(type(error).__name__)

from attention_solution_tokens import *  # noqa: E402,F401,F403 - replaced by the fixture with the solution

"""Honest, not hostile: a correct `embed` that tries to download something on every call first."""
import socket
import urllib.request

from attention_solution_embedding import embed as _embed


def _try_network() -> None:
    for attempt in (lambda: socket.create_connection(("example.com", 443), timeout=5).close(),
                    lambda: urllib.request.urlopen("https://example.com/", timeout=5).close()):
        try:
            attempt()
        except OSError:  # no network (or no such host): fine, compute locally
            pass


def embed(*args, **kwargs):
    _try_network()
    return _embed(*args, **kwargs)

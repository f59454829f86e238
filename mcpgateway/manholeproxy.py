# -*- test-case-name: tests.integration.host.test_manhole_real -*-
"""The manhole's ssh C{ProxyCommand}: C{python -m mcpgateway.manholeproxy SOCKET}.

Copies bytes between stdin/stdout and the gateway's manhole UNIX socket
(no C{socat} or C{nc -U} needed). Standard library only; the manhole
itself is L{mcpgateway.ops.manhole}.
"""

from __future__ import annotations

import os
import socket
import sys
import threading


def relay(path: str, stdin: int = 0, stdout: int = 1) -> int:
    """Copy bytes between C{stdin}/C{stdout} and the UNIX socket C{path}
    until the server closes it: an C{ssh -o ProxyCommand} that needs no
    C{socat} or C{nc -U}. Blocking; never call it in the gateway."""
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        connection.connect(path)
    except OSError as e:
        sys.stderr.write(f"mcpgateway manhole: cannot connect to {path}: {e.strerror}\n")
        return 1

    def toSocket() -> None:
        try:
            while data := os.read(stdin, 65536):
                connection.sendall(data)
            connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    threading.Thread(target=toSocket, daemon=True).start()
    try:
        while data := connection.recv(65536):
            _writeAll(stdout, data)
    except OSError:
        return 1
    finally:
        connection.close()
    return 0


def _writeAll(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write(
            "usage: python -m mcpgateway.manholeproxy SOCKET"
            "  (an ssh ProxyCommand for the gateway's manhole)\n"
        )
        raise SystemExit(2)
    raise SystemExit(relay(os.path.expanduser(sys.argv[1])))

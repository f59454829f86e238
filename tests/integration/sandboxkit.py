"""What the sandbox's integration tests share: calling a tool through the
Python SDK, the hostile fixture's config entry, a fake home with secrets,
a throwaway account, and the launcher run on its own (a request, a
command, what it printed)."""

from __future__ import annotations

import contextlib
import http.server
import inspect
import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client

from tests.integration.gateway import REPO, RunningGateway

HOSTILE = REPO / "tests" / "fixtures" / "hostile_server.py"
SECRET = "-----BEGIN OPENSSH PRIVATE KEY----- not-a-real-key"
ATTEMPTS = """
import json, os, sys
out = {}
def attempt(name, action):
    try:
        out[name] = ["ok", action()]
    except OSError as e:
        out[name] = ["refused", e.errno]
"""
"""The start of a Python program a confined child runs: C{attempt(name,
action)} notes in C{out[name]} what C{action} gave, or the errno that
refused it."""


def evilServer(prelude: str, call: str) -> str:
    """The stdio server (Node) of a malicious npm package, tool C{probe}:
    C{prelude} runs first, C{call} sets C{result} for a C{tools/call}."""
    return (
        "#!/usr/bin/env node\n"
        + prelude
        + """require('readline').createInterface({ input: process.stdin }).on('line', (line) => {
  const m = JSON.parse(line);
  if (m.id === undefined) return;
  let result = {};
  if (m.method === 'initialize') {
    result = { protocolVersion: m.params.protocolVersion, capabilities: { tools: {} },
               serverInfo: { name: 'evil', version: '1' } };
  } else if (m.method === 'tools/list') {
    result = { tools: [{ name: 'probe', inputSchema: { type: 'object' } }] };
  } else if (m.method === 'tools/call') {
"""
        + call
        + """  }
  process.stdout.write(JSON.stringify({ jsonrpc: '2.0', id: m.id, result }) + '\\n');
});
"""
    )


def fakeHome(home: Path) -> Path:
    """C{home} with what a confined server must never read or change: an
    SSH key, cloud credentials, a shell history, a C{.bashrc}."""
    (home / ".ssh").mkdir(mode=0o700, exist_ok=True)
    (home / ".ssh" / "id_rsa").write_text(SECRET)
    (home / ".aws").mkdir(exist_ok=True)
    (home / ".aws" / "credentials").write_text("aws_secret_access_key = not-real")
    (home / ".bash_history").write_text("secret command\n")
    (home / ".bashrc").write_text("# the user's own\n")
    return home


CALL_TIMEOUT = 120.0
"""Seconds one SDK session may take: longer than any confined start (an npx
install through the proxy included), short enough that a hang fails its test."""


def toolCall(url: str, name: str, arguments: dict[str, Any] | None = None) -> Any:
    """One SDK session on C{url}: call C{name}, return its first text
    content (JSON-decoded when it is JSON) and whether it is an error."""

    async def main() -> Any:
        with anyio.fail_after(CALL_TIMEOUT):
            return await call()

    async def call() -> Any:
        async with Client(url, mode="legacy") as client:
            result = await client.call_tool(name, arguments or {})
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            try:
                return json.loads(text)
            except ValueError:
                return {"text": text, "isError": result.is_error}

    return anyio.run(main)


def toolNames(url: str) -> list[str]:
    async def main() -> list[str]:
        with anyio.fail_after(CALL_TIMEOUT):
            async with Client(url, mode="legacy") as client:
                return sorted(tool.name for tool in (await client.list_tools()).tools)

    return anyio.run(main)


def hostileEntry(workspace: Path, **sandbox: Any) -> dict[str, Any]:
    """The hostile fixture, run by this Python in C{workspace}."""
    entry: dict[str, Any] = {
        "command": sys.executable,
        "args": [str(HOSTILE)],
        "cwd": str(workspace),
    }
    if sandbox:
        entry["sandbox"] = sandbox
    return entry


class Listener:
    """A TCP service on loopback that a confined server must not reach."""

    def __init__(self) -> None:
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.socket.listen(8)
        self.port = int(self.socket.getsockname()[1])

    def close(self) -> None:
        self.socket.close()


def childPids(pid: int) -> list[int]:
    """Every process under C{pid} (from C{/proc}), C{pid} excluded."""
    parents: dict[int, int] = {}
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat", "rb") as f:
                    parents[int(name)] = int(f.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        for child, itsParent in parents.items():
            if itsParent == parent:
                found.append(child)
                frontier.append(child)
    return found


def commandOf(pid: int) -> list[str]:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return [part.decode() for part in f.read().split(b"\0") if part]
    except OSError:
        return []


def bwrapOrSkip() -> None:
    """Skip, saying why, where bubblewrap cannot confine (CI installs it)."""
    from mcpgateway.sandbox.probe import bwrapWorks

    found = bwrapWorks()
    if not found["works"]:
        pytest.skip(f"bubblewrap cannot confine here: {found['error']}")


@contextlib.contextmanager
def helloServer(body: bytes) -> Iterator[int]:
    """A local HTTP server on loopback answering every GET with C{body}: its port."""

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def npmPack(source: Path, into: Path) -> Path:
    """The npm package in folder C{source}, packed by npm into C{into}: its tarball."""
    npm = shutil.which("npm")
    assert npm is not None
    packed = subprocess.run(
        [npm, "pack", "--silent", "--pack-destination", str(into), str(source)],
        capture_output=True,
        text=True,
        cwd=into,
        timeout=120,
    )
    assert packed.returncode == 0, packed.stderr
    return into / packed.stdout.strip().splitlines()[-1]


# The launcher run on its own (no gateway): a request, a command, its output.


class Account:
    """A throwaway system account (C{useradd}) and a home of its own, for
    what an ordinary user's launcher does; removed by L{remove}."""

    def __init__(self) -> None:
        self.name = "mcpgwsbx" + secrets.token_hex(4)
        command = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        # useradd exits 10 when another useradd holds /etc/passwd's lock (another test,
        # or CI's other session): it is tried again, as its message says to.
        deadline = time.monotonic() + 30
        while (made := subprocess.run([*command, self.name], capture_output=True)).returncode == 10:
            if time.monotonic() > deadline:
                break
            time.sleep(0.2)
        made.check_returncode()
        entry = pwd.getpwnam(self.name)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid
        self.home = Path(tempfile.mkdtemp(prefix="mcpgw-sandbox-"))
        os.chown(self.home, self.uid, self.gid)
        os.chmod(self.home, 0o700)

    def own(self, *paths: Path) -> None:
        """Make the account the owner of C{paths} and all beneath them."""
        for path in paths:
            for root, dirs, files in os.walk(path):
                for name in [root, *(os.path.join(root, n) for n in dirs + files)]:
                    os.lchown(name, self.uid, self.gid)

    def prefix(self) -> list[str]:
        """What runs a command as the account."""
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]

    def runs(self, argv: list[str], env: dict[str, str]) -> bool:
        """Whether the account can run C{argv} (its Python may live in root's home)."""
        done = subprocess.run(
            [*self.prefix(), *argv], env=env, capture_output=True, timeout=60, cwd=self.home
        )
        return done.returncode == 0

    def gateway(self, python: str, path: str, config: Path) -> RunningGateway:
        """A gateway the account runs in its home (through its launcher, on
        C{python} with C{path} as C{PYTHONPATH}), serving C{config} with
        every child confined (C{--sandbox auto}) and root's connections let
        in (the test, run as root, is its client); the caller stops it."""
        self.own(self.home)
        command = [*self.prefix(), python, "-m", "mcpgateway.launch", "-n", "--pidfile="]
        return RunningGateway(
            ["--config", str(config), "--sandbox", "auto", "--owner-accepts-root"],
            self.home,
            command=[*command, "--logfile=-", "mcpgateway"],
            env={"PYTHONPATH": path},
            timeout=60,
        )

    def remove(self) -> None:
        subprocess.run(["pkill", "-KILL", "-u", self.name], capture_output=True)
        subprocess.run(["userdel", self.name], capture_output=True)
        shutil.rmtree(self.home, ignore_errors=True)


def accountOrSkip() -> Account:
    """A throwaway account; skip, saying why, where one cannot be made (CI
    runs as root, with useradd and setpriv)."""
    if os.geteuid() != 0:
        pytest.skip("making a throwaway account (useradd) needs root; CI runs as root")
    if shutil.which("useradd") is None or shutil.which("setpriv") is None:
        pytest.skip("useradd and setpriv (util-linux) are needed")
    return Account()


def gatewayPythonFor(account: Account) -> tuple[str, str]:
    """A Python the account can run with this checkout and its packages on
    C{PYTHONPATH}: the system's of this version (this one may live in
    root's home), else this one."""
    packages = sysconfig.get_paths()["purelib"]
    path = os.pathsep.join([str(REPO), packages])
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    check = ["-c", "import twisted, mcpgateway.tap"]
    for candidate in (f"/usr/bin/{version}", sys.executable):
        if os.path.exists(candidate) and account.runs(
            [candidate, *check], {**os.environ, "PYTHONPATH": path}
        ):
            return candidate, path
    pytest.skip(f"no Python the account can run with this checkout ({version})")


LAUNCHER_PYTHON = (3, 11)
"""The oldest Python the launcher runs on."""


def launcherPython(account: Account | None) -> str:
    """A Python that runs the launcher (standard library only) as
    C{account} (C{None}: as this process's user): this one, else the
    system's (this one may live in root's home)."""
    if account is None:
        return sys.executable
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    check = ["-I", "-S", "-c", f"import sys; assert sys.version_info >= {LAUNCHER_PYTHON}"]
    for candidate in (sys.executable, f"/usr/bin/{version}", "/usr/bin/python3"):
        # Run by a process of the account's, as the launcher is by its parent
        # (setpriv's own exec of it is not the same test: it was seen to pass
        # for a Python in root's home that the account's processes cannot run).
        shell = ["/bin/sh", "-c", 'exec "$0" "$@"', candidate, *check]
        if os.path.exists(candidate) and account.runs(shell, {}):
            return candidate
    pytest.skip(f"no Python {LAUNCHER_PYTHON} or later the account can run")


def launcherRequest(
    mechanism: str,
    base: Path,
    python: str,
    network: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """A launcher's request for server C{attacks} run by C{python} in
    C{base}: its home C{base/home}, state C{base/state}, working directory
    C{base/ws} (visible to it, read-only), with this machine's bubblewrap
    or Landlock ABI (skipping, saying why, where C{mechanism} cannot
    confine)."""
    request: dict[str, Any] = {
        "server": "attacks",
        "mechanism": mechanism,
        "command": python,
        "cwd": str(base / "ws"),
        "gatewayCwd": str(base / "ws"),
        "home": str(base / "home"),
        "stateDir": str(base / "state"),
        "network": network or {"mode": "none"},
        "profile": {},
        "interpreter": python,
        "interpreterPaths": [],
    }
    if mechanism in MECHANISMS:
        confineBy(request, mechanism)
    request.update(fields)
    return request


def confineBy(request: dict[str, Any], mechanism: str) -> None:
    """Name in C{request} this machine's bubblewrap (C{bwrap}) or its
    Landlock ABI (C{landlock}); skip, saying why, where it cannot confine."""
    from mcpgateway.sandbox.probe import bwrapWorks, landlockAbi

    if mechanism == "bwrap":
        found = bwrapWorks()
        if not found["works"]:
            pytest.skip(f"bubblewrap cannot confine here: {found['error']}")
        request["bwrap"] = found["path"]
    else:
        version, why = landlockAbi()
        if version < 1:
            pytest.skip(f"Landlock is not available here: {why}")
        request["landlock"] = version


def launch(
    request: dict[str, Any], argv: list[str], cwd: Path, home: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """The launcher (L{launcherCommand}) confining C{argv} for C{request},
    run from C{cwd} with C{HOME} C{home} and C{env} added to this
    process's environment: what it wrote, and its status."""
    from mcpgateway.sandbox.request import launcherCommand

    return subprocess.run(
        [*launcherCommand(), json.dumps(request), "--", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "HOME": str(home), **env},
        timeout=60,
    )


def launcherBase(account: Account | None) -> Path:
    """A directory for a launcher's home, state and working directory
    (L{launcherRequest}), C{account}'s own when there is one."""
    base = Path(tempfile.mkdtemp(prefix="mcpgw-launch-"))
    for name in ("home", "state", "ws"):
        (base / name).mkdir()
    if account is not None:
        account.own(base)
    return base


GATEWAY_STUB = (
    "import os, subprocess, sys\n"
    "os.environ['GATEWAY_PID'] = str(os.getpid())\n"
    "sys.exit(subprocess.run(sys.argv[1:]).returncode)\n"
)
"""What stands for the gateway: the launcher's parent (its pid in the
child's C{GATEWAY_PID}), running it with the environment it was given."""


def runLauncher(
    request: dict[str, Any],
    argv: list[str],
    env: dict[str, str],
    account: Account | None = None,
    python: str = sys.executable,
) -> subprocess.CompletedProcess[str]:
    """The real launcher confining C{argv} for C{request}, run as
    C{account} (or this process's user) by a stand-in for the gateway
    (L{GATEWAY_STUB}) with C{python}: what it wrote, and its status."""
    from mcpgateway.sandbox.request import LAUNCHER

    prefix = account.prefix() if account is not None else []
    launcher = [python, "-I", "-S", LAUNCHER, json.dumps(request), "--", *argv]
    return subprocess.run(
        [*prefix, python, "-I", "-S", "-c", GATEWAY_STUB, *launcher],
        capture_output=True,
        text=True,
        cwd=request["cwd"],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": request["home"], **env},
        timeout=60,
    )


def unixListener(path: Path, owner: Account | None) -> socket.socket:
    """A pathname UNIX socket listening at C{path} (an agent's, a bus's),
    its directory and itself C{owner}'s (or this process's user's) only,
    as an agent makes them: nothing but the sandbox stands between a
    child of that user and it."""
    path.parent.mkdir(mode=0o700, exist_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(str(path))
    listener.listen(8)
    os.chmod(path, 0o600)
    if owner is not None:
        os.chown(path.parent, owner.uid, owner.gid)
        os.chown(path, owner.uid, owner.gid)
    return listener


RTM_NEWADDR, RTM_DELADDR = 20, 21
NLM_F_REQUEST, NLM_F_ACK, NLM_F_EXCL, NLM_F_CREATE = 0x1, 0x4, 0x200, 0x400


def addressRequest(kind: int, address: str, flags: int) -> bytes:
    """A netlink message asking to add (C{RTM_NEWADDR}) or remove
    (C{RTM_DELADDR}) IPv4 C{address}/32 on the loopback: what C{ip addr add
    ... dev lo} sends."""
    import socket
    import struct

    packed = socket.inet_aton(address)
    loopback = 1  # the first interface of every network namespace (if_nametoindex needs a socket)
    body = struct.pack("=BBBBI", socket.AF_INET, 32, 0, 0, loopback)
    for attribute in (2, 1):  # IFA_LOCAL, IFA_ADDRESS
        body += struct.pack("=HH", 8, attribute) + packed
    return struct.pack("=IHHII", 16 + len(body), kind, flags, 1, 0) + body


def addressAsk(kind: int, address: str, flags: int) -> str:
    """Send L{addressRequest} to the kernel: C{"done"}, or its refusal raised."""
    import os
    import socket
    import struct

    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0) as s:
        s.sendto(addressRequest(kind, address, flags), (0, 0))
        answer = s.recv(4096)
    error = -struct.unpack("=i", answer[16:20])[0]
    if error:
        raise OSError(error, os.strerror(error))
    return "done"


def netlinkSource() -> str:
    """L{addressRequest} and L{addressAsk} as source, for a child's program."""
    return "\n\n".join(inspect.getsource(f) for f in (addressRequest, addressAsk))


def removeLoopbackAddress(address: str) -> None:
    """Remove C{address} from the host's loopback, if it is there."""
    with contextlib.suppress(OSError):
        addressAsk(RTM_DELADDR, address, NLM_F_REQUEST | NLM_F_ACK)


# Servers run by the launcher on its own, with each mechanism
# (tests/integration/sandbox/test_sandbox_servers.py).

MECHANISMS = ("bwrap", "landlock")
"""The two mechanisms a Linux child may be confined by."""


def confinedRun(
    mechanism: str,
    home: Path,
    argv: list[str],
    *,
    cwd: Path | None = None,
    gatewayCwd: Path | None = None,
    env: dict[str, str] | None = None,
    **fields: Any,
) -> subprocess.CompletedProcess[str]:
    """Run C{argv} through the launcher, confined by C{mechanism} (this
    machine's bubblewrap, or its Landlock ABI; skipping, saying why, where
    it cannot confine), as a server of a gateway whose home is C{home}
    and state directory C{home/.mcpgateway} would be; the launcher runs in
    C{gatewayCwd} (the gateway's working directory; C{home} by default).
    C{env} is the entry's (its names are the request's C{entryEnv});
    C{fields} go into the request as they are (C{profile},
    C{gatewayFiles}...)."""
    request: dict[str, Any] = {
        "server": "srv",
        "mechanism": mechanism,
        "command": argv[0],
        "cwd": None if cwd is None else str(cwd),
        "gatewayCwd": str(gatewayCwd or home),
        "home": str(home),
        "stateDir": str(home / ".mcpgateway"),
        "network": {"mode": "none"},
        "profile": {},
        "entryEnv": sorted(env or {}),
        "interpreter": sys.executable,
        "interpreterPaths": [],
    }
    confineBy(request, mechanism)
    request.update(fields)
    return launch(request, argv, gatewayCwd or home, home, env or {})

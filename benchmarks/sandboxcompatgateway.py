"""The gateway side of C{sandbox_compat.py}: a gateway of the tree under test run
as root or as a throwaway account, its config rewritten as entries are added, and
why an entry failed, read from its log and its C{/health} line.

The gateway runs as C{python -P -OO -c BOOT TREE SITE -n --pidfile= --logfile=-
mcpgateway ...}: the tree (and, for the account, which cannot enter pyenv's Python in
C{/root}, this venv's site-packages on C{/usr/bin/python3.X}) put on its own path, not on
C{PYTHONPATH}, which every child would inherit (a Python server would then import this
venv's packages before its own).
"""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import sysconfig
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

USER_PYTHON = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
"""The account's Python: the system's of this version (pyenv's lives in /root)."""


class Account:
    """A throwaway system account (as tests/integration/sandbox/test_sandbox_unprivileged.py's)."""

    def __init__(self) -> None:
        import pwd

        self.name = "mcpcompat" + secrets.token_hex(4)
        useradd = ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin"]
        subprocess.run([*useradd, self.name], check=True, capture_output=True)
        entry = pwd.getpwnam(self.name)
        self.uid, self.gid = entry.pw_uid, entry.pw_gid

    def prefix(self) -> list[str]:
        return ["setpriv", f"--reuid={self.uid}", f"--regid={self.gid}", "--clear-groups"]

    def own(self, path: Path, uid: int | None = None) -> None:
        """Make the account (or C{uid}) the owner of C{path} and all beneath it."""
        uid, gid = (self.uid, self.gid) if uid is None else (uid, uid)
        for top, dirs, files in os.walk(path):
            for name in [top, *(os.path.join(top, n) for n in dirs + files)]:
                os.lchown(name, uid, gid)

    def remove(self) -> None:
        """Kill what it still runs (each process by its pid), then delete it."""
        for _ in range(3):
            for pid in [int(p) for p in os.listdir("/proc") if p.isdigit()]:
                with contextlib.suppress(OSError):
                    if os.stat(f"/proc/{pid}").st_uid == self.uid:
                        os.kill(pid, signal.SIGKILL)
            time.sleep(0.3)
        subprocess.run(["userdel", self.name], capture_output=True)


@contextlib.contextmanager
def loopbackPage(page: bytes) -> Iterator[int]:
    """An HTTP server on loopback: C{page} for every path but C{/robots.txt} (404)."""

    class Page(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            found = self.path != "/robots.txt"
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(page) if found else 0))
            self.end_headers()
            self.wfile.write(page if found else b"")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


BOOT = (
    "import runpy, site, sys\n"
    "tree, extra = sys.argv[1:3]\n"
    "del sys.argv[1:3]\n"
    "before = list(sys.path)\n"
    "if extra: site.addsitedir(extra)\n"
    "sys.path[:] = [tree, *(p for p in sys.path if p not in before), *before]\n"
    "runpy.run_module('mcpgateway.launch', run_name='__main__', alter_sys=True)\n"
)
"""The gateway of C{tree} without C{PYTHONPATH}, which every child would inherit
(a Python server would import this venv's packages before its own)."""
LISTENING = re.compile(r"listening on \S*:(\d+)\s*$", re.M)
SANDBOX_LINE = re.compile(r"sandbox: (?:confined children|bubblewrap cannot|--sandbox).*")
CONFIRMS = {"bubblewrap": "confined children run in bubblewrap", "landlock": "Landlock"}


class Gateway:
    """One gateway of the tree under test, its log in C{<run>/gateway.log}."""

    def __init__(
        self, tree: Path, mechanism: str, who: str, run: Path, home: Path, tools: Path
    ) -> None:
        """C{who}: root (this process's user) or user (a throwaway account);
        C{home}: its home; C{tools}: the folder of C{uv} and C{uvx}."""
        self.run, self.config, self.log = run, run / "servers.json", run / "gateway.log"
        self.entries: dict[str, Any] = {}
        self.account = Account() if who == "user" else None
        self.mechanism, self.who, self.port, self.sandbox = mechanism, who, 0, ""
        self.home, self.tree, self.tools = home, tree, tools
        self.process: subprocess.Popen[bytes] | None = None
        if self.account is not None:
            self.account.own(self.home)

    def environment(self) -> dict[str, str]:
        gone = ("MCPGATEWAY_", "VIRTUAL_ENV", "PYTHONPATH")
        env = {k: v for k, v in os.environ.items() if not k.startswith(gone)}
        path = f"{os.environ.get('PATH', os.defpath)}:{self.tools}"
        if self.account is not None:
            path = f"{self.tools}:/usr/local/bin:/usr/bin:/bin"
        state = self.run / "state"
        return env | {"HOME": str(self.home), "MCPGATEWAY_HOME": str(state), "PATH": path}

    def start(self, mechanism: str) -> str:
        """Start it with C{--sandbox mechanism}: C{""} once it listens, else why not."""
        extra = sysconfig.get_paths()["purelib"] if self.account else ""
        python = USER_PYTHON if self.account else sys.executable
        argv = [python, "-P", "-OO", "-c", BOOT, str(self.tree), extra, "-n", "--pidfile="]
        argv += ["--logfile=-", "mcpgateway", "--port", "tcp:0:interface=127.0.0.1"]
        argv += ["--config", str(self.config), "--request-timeout", "300", "--start-timeout", "120"]
        argv += ["--child-idle-timeout", "8", "--sandbox", mechanism]
        (self.run / "state").mkdir(mode=0o700, exist_ok=True)
        if self.account is not None:
            self.account.own(self.run)
            argv = self.account.prefix() + argv
            if (self.tree / "mcpgateway" / "startup" / "dooroptions.py").exists():
                argv.append("--owner-accepts-root")  # the probes run as root: its client
        with self.log.open("ab") as out:
            env, err = self.environment(), subprocess.STDOUT
            self.process = subprocess.Popen(argv, cwd=self.run, env=env, stdout=out, stderr=err)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.process.poll() is None:
            found = LISTENING.search(self.text())
            if found:
                self.port = int(found.group(1))
                return ""
            time.sleep(0.2)
        self.stop()
        lines = [line for line in self.text().splitlines() if line.strip()]
        usage = [line for line in lines if "--sandbox" in line]
        return (usage or lines or ["the gateway did not start"])[-1]

    def confined(self) -> tuple[str, str]:
        """Start it under its mechanism: C{(option, "")} once it runs so, else why
        not. A tree whose C{--sandbox} lacks the word runs bubblewrap as C{auto}
        (its probe's line must say bubblewrap); Landlock cannot be forced there."""
        option = self.mechanism
        why = self.start(option)
        if why and "--sandbox" in why and option == "bubblewrap":
            option = "auto"
            why = self.start(option)
        if why and "--sandbox" in why and option == "landlock":
            why = f"--sandbox landlock does not exist in this tree ({why.split(': ')[-1]})"
        deadline = time.monotonic() + 30
        while not why and option != "off" and not self.sandbox:
            said = SANDBOX_LINE.search(self.text())
            self.sandbox = said.group() if said else ""
            if self.sandbox and CONFIRMS[self.mechanism] not in self.sandbox:
                why = f"the gateway did not confine with {self.mechanism}: {self.sandbox}"
            elif time.monotonic() > deadline:
                why = "no sandbox line in the gateway's log within 30 s"
            time.sleep(0.2)
        if why:
            self.stop()
        return option, why

    def text(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def write(self, entries: Mapping[str, Any]) -> None:
        """Serve C{entries} as well (the config rewritten; the gateway reloads it)."""
        self.entries |= entries
        temporary = self.config.with_suffix(".tmp")
        temporary.write_text(json.dumps({"mcpServers": self.entries}, indent=1))
        if self.account is not None:
            os.chown(temporary, self.account.uid, self.account.gid)
        temporary.replace(self.config)

    def health(self, name: str | None = None) -> dict[str, Any]:
        """C{/health}, or C{name}'s line of it (empty when it cannot be read)."""
        url = f"http://127.0.0.1:{self.port}/health"
        with contextlib.suppress(OSError, ValueError), urllib.request.urlopen(url, timeout=10) as r:
            body: dict[str, Any] = json.loads(r.read())
            return body if name is None else (body.get("servers") or {}).get(name) or {}
        return {}

    def serving(self, names: Sequence[str], timeout: float) -> None:
        """Wait until it serves C{names} and has resolved (or failed to) their packages."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            lines = [self.health(name) for name in names]
            states = [(line.get("resolution") or {}).get("state") for line in lines]
            if all(lines) and "pending" not in states:
                return
            time.sleep(0.5)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.account is not None:
            self.account.remove()
            self.account.own(self.home, 0)
            self.account = None


def errorText(error: BaseException) -> str:
    """Every message inside a (possibly nested) exception group."""
    inner = getattr(error, "exceptions", None)
    if inner:
        return " | ".join(errorText(e) for e in inner)
    return str(error) or type(error).__name__


SAYS = re.compile(r"(?<![\w/.-])sandbox(?![\w/.-])|bubblewrap|Landlock|launcher")
NOT_CAUSES = ("may reach", "started child pid", "confined children run", "initialized (")
GENERIC = re.compile(r"^(Connection closed|TimeoutError|CancelledError|ExceptionGroup)")


def explain(name: str, log: str, health: Mapping[str, Any], failed: str) -> tuple[str, Any]:
    """The one line that says best why entry C{name} failed (the gateway's
    sandbox line, a refusal it saw, the tool's error, the child's last error
    on stderr, how it exited), and everything seen."""
    mark = re.compile(rf"server '?{re.escape(name)}'?[: ]|\[{re.escape(name)}\] ")
    mine = [line.split("] ", 1)[-1] for line in log.splitlines() if mark.search(line)]
    stderr = [line[len(name) + 3 :] for line in mine if line.startswith(f"[{name}] ")]
    said = [t for t in mine if SAYS.search(re.sub(r"/\S+", "", t)) and t[0] != "["]
    said = [line for line in said if not any(n in line for n in NOT_CAUSES)]
    errors = [line for line in stderr if re.search(r"rror|denied|EACCES|EROFS|ENOENT|fail", line)]
    seen = ("lastExit", "error", "resolution", "sandboxRefusals", "warning")
    line = {key: health[key] for key in seen if key in health}
    tried = [*said, *(line.get("sandboxRefusals") or [])]
    tried += [] if GENERIC.match(failed) else [failed]
    tried += [*errors[-1:], str(line.get("lastExit") or ""), failed]
    found = {"error": failed, "gateway": said[-10:], "stderr": stderr[-15:], "health": line}
    return str(next(text for text in tried if text)), found

"""The audit log's payloads and a server's secrets: the values a child was
given (its references resolved as it started) are taken out of the
arguments and results the audit trail keeps (L{childSecrets}, from each
running child's L{mcpgateway.core.upstream.Upstream.redactor})."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from mcpgateway.config.servers import parseEntry
from mcpgateway.core.fanout import SharedFanout
from mcpgateway.core.upstream import Upstream
from mcpgateway.ops.audit import AuditLog, childSecrets
from mcpgateway.secrets.resolve import SecretResolver
from tests.fakes import FakeProcessReactor, fakeSpawner
from tests.secrets.support import inline
from tests.support.ops.audit import lines, record

SECRET = "ghp_auditRedaction0123456789xyz"


class Pool:
    """A pool as L{childSecrets} reads it: its children."""

    def __init__(self, *upstreams: Any) -> None:
        self._upstreams = list(upstreams)

    def upstreams(self) -> list[Any]:
        return self._upstreams


def started(tmp_path: Path) -> tuple[Upstream, FakeProcessReactor]:
    """The upstream of server C{srv} (C{GITHUB_TOKEN=${env:TOKEN}}), its
    child spawned with the value."""
    reactor = FakeProcessReactor()
    resolver = SecretResolver(reactor, tmp_path / "state", {"TOKEN": SECRET}, inline)
    spec = parseEntry(
        "srv",
        {"command": "/bin/true", "env": {"GITHUB_TOKEN": "${env:TOKEN}"}},
        {"PATH": "/bin"},
        "local",
    )
    upstream = Upstream(spec, fakeSpawner(reactor, secrets=resolver), SharedFanout())
    upstream.ensure()
    [process] = reactor.processes
    assert process.env is not None and process.env["GITHUB_TOKEN"] == SECRET
    return upstream, reactor


def test_a_running_childs_secrets_are_its_servers(tmp_path: Path) -> None:
    upstream, reactor = started(tmp_path)
    redactorOf = childSecrets({"srv": Pool(upstream)})
    redact = redactorOf("srv")
    assert redact is not None and redact(f"token {SECRET}") == "token ${env:TOKEN}"
    assert redactorOf("other") is None
    reactor.processes[0].exit(1)  # the child is gone: so are its values
    assert upstream.redactor is None and redactorOf("srv") is None


def test_the_secrets_of_every_child_of_a_server(tmp_path: Path) -> None:
    first, _ = started(tmp_path)

    class Other:
        redactor = staticmethod(lambda text: text.replace("sk-other", "${keyring:o}"))

    redact = childSecrets({"srv": Pool(first, Other(), Pool())})("srv")
    assert redact is not None
    assert redact(f"{SECRET} sk-other") == "${env:TOKEN} ${keyring:o}"


def test_an_audit_log_of_a_gateway_keeps_no_value(tmp_path: Path) -> None:
    upstream, reactor = started(tmp_path)
    path = tmp_path / "audit.jsonl"
    log = AuditLog(path, reactor, payloads=True, redact=childSecrets({"srv": Pool(upstream)}))
    log.startService()
    log.record(
        record(
            payload={
                "arguments": {"message": f"echo {SECRET}"},
                "result": {"content": [{"type": "text", "text": f"echo {SECRET}"}]},
            }
        )
    )
    reactor.processes[0].exit(1)  # before the write
    log.stopService()
    assert SECRET not in path.read_text()
    [entry] = lines(path)
    assert entry["payload"]["arguments"] == {"message": "echo ${env:TOKEN}"}
    assert json.dumps(entry["payload"]["result"]).count("${env:TOKEN}") == 1


def spawned(tmp_path: Path, env: dict[str, str], credentialEnv: tuple[str, ...] = ()) -> Upstream:
    """The upstream of server C{srv} whose child was given C{env} as
    literal values (C{credentialEnv}: those a client's headers gave)."""
    reactor = FakeProcessReactor()
    resolver = SecretResolver(reactor, tmp_path / "state", {}, inline)
    spec = parseEntry("srv", {"command": "/bin/true", "env": env}, {"PATH": "/bin"}, "local")
    spec = replace(spec, credentialEnv=credentialEnv)
    upstream = Upstream(spec, fakeSpawner(reactor, secrets=resolver), SharedFanout())
    upstream.ensure()
    return upstream


def test_a_users_credential_headers_are_redacted(tmp_path: Path) -> None:
    credential = "per-user-credential-9f8e7d"
    upstream = spawned(tmp_path, {"GITHUB_TOKEN": credential}, ("GITHUB_TOKEN",))
    redact = childSecrets({"srv": Pool(upstream)})("srv")
    assert redact is not None
    assert redact(f"token={credential}") == "token=[X-Mcp-Env-GITHUB_TOKEN]"


def test_a_literal_secret_of_the_entry_is_redacted(tmp_path: Path) -> None:
    upstream = spawned(
        tmp_path,
        {
            "DB_PASSWORD": "hunter2-literal",
            "UPSTREAM": SECRET,  # no telling name, a token's look
            "LOG_LEVEL": "debug-verbose",
        },
    )
    redact = childSecrets({"srv": Pool(upstream)})("srv")
    assert redact is not None
    assert redact(f"hunter2-literal {SECRET} debug-verbose") == (
        "[env DB_PASSWORD] [env UPSTREAM] debug-verbose"
    )

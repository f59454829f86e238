"""What must fail before daemonizing fails in one line, and lets go of the lock."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from mcpgateway.ops.statedir import InstanceLock
from mcpgateway.startup.preflight import PreflightError, checkTeam, preflight
from tests.support.startup.options import parseIn


def test_a_second_gateway_on_the_same_state_dir_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    first = preflight(parseIn(tmp_path), "127.0.0.1")
    try:
        with pytest.raises(PreflightError, match="another gateway is running"):
            preflight(parseIn(tmp_path), "127.0.0.1")
    finally:
        first.lock.release()
    assert (tmp_path / "st").stat().st_mode & 0o777 == 0o700


def test_a_broken_config_is_one_line_and_releases_the_lock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    broken = tmp_path / "servers.json"
    broken.write_text('{"mcpServers": {')
    with pytest.raises(PreflightError) as refused:
        preflight(parseIn(tmp_path, "--config", str(broken)), "127.0.0.1")
    assert "\n" not in str(refused.value) and str(broken) in str(refused.value)
    lock = InstanceLock(tmp_path / "st")
    lock.acquire()  # not left held
    lock.release()


def test_rewrite_of_claude_code_alone_without_its_config_serves_the_demo_and_awaits_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """C{--clients none} leaves out the other clients, not Claude Code: with
    no C{~/.claude.json} yet, the demo is served and that file alone is
    awaited, as without C{--clients none}."""
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / ".cursor").mkdir()
    (tmp_path / ".cursor" / "mcp.json").write_text('{"mcpServers": {"fs": {"command": "fs"}}}')
    found = preflight(parseIn(tmp_path, "--rewrite-config", "--clients", "none"), "127.0.0.1")
    try:
        assert list(found.loaded.servers) == ["demo"] and found.configPath is None
        assert found.source.awaitedPaths() == [tmp_path / ".claude.json"]  # type: ignore[attr-defined]
        assert found.source.watchedPaths() == []  # type: ignore[attr-defined]
        found.source.listening(9100)
        claude = tmp_path / ".claude.json"
        claude.write_text(json.dumps({"mcpServers": {"notes": {"command": "notes-server"}}}))
        loaded = found.source.load()
        assert list(loaded.servers) == ["notes"]  # Claude Code's, the demo no longer
        assert "127.0.0.1:9100/notes/mcp" in claude.read_text()
        assert "127.0.0.1" not in (tmp_path / ".cursor" / "mcp.json").read_text()
        found.source.stopping()
        assert json.loads(claude.read_text())["mcpServers"]["notes"]["command"] == "notes-server"
    finally:
        found.lock.release()


def test_rewrite_on_a_bare_machine_serves_the_demo_and_awaits_every_client_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No client has a file yet: the demo is served, and the files a client
    would write (the Claude config first) are awaited, to be adopted."""
    monkeypatch.setenv("HOME", str(tmp_path))
    found = preflight(parseIn(tmp_path, "--rewrite-config"), "127.0.0.1")
    assert "demo" in found.loaded.servers
    awaited = found.source.awaitedPaths()  # type: ignore[attr-defined]
    assert awaited[0] == tmp_path / ".claude.json"
    assert tmp_path / ".cursor" / "mcp.json" in awaited


def test_what_it_found(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    config = tmp_path / "servers.json"
    config.write_text(json.dumps({"mcpServers": {"a": {"command": "true"}}}))
    found = preflight(
        parseIn(tmp_path, "--config", str(config), "--log-file", str(tmp_path / "g.log")),
        "127.0.0.1",
    )
    try:
        assert found.configPath == config and list(found.loaded.servers) == ["a"]
        assert found.orphans == [] and found.logFile is not None
        assert not (tmp_path / "g.log").exists()  # opened only in startService
    finally:
        found.lock.release()


# -- a team gateway's files and extras ----------------------------------


def refusal(tmp_path: Path, *extra: str) -> str:
    with pytest.raises(PreflightError) as refused:
        preflight(parseIn(tmp_path, *extra), "127.0.0.1")
    message = str(refused.value)
    assert "\n" not in message
    return message


def test_a_missing_tokens_file_says_how_to_make_one(tmp_path: Path) -> None:
    missing = tmp_path / "tokens.json"
    assert refusal(tmp_path, "--auth-tokens", str(missing)) == (
        f"--auth-tokens {missing}: No such file or directory (`mcpgateway token new NAME"
        f" --file {missing}` makes one)"
    )


def test_an_invalid_tokens_file_names_the_entry_never_a_hash(tmp_path: Path) -> None:
    tokens = tmp_path / "tokens.json"
    secretish = "ab" * 32
    tokens.write_text(
        json.dumps(
            {
                "version": 1,
                "tokens": [
                    {"sha256": secretish, "principal": "alice"},
                    {"sha256": secretish.replace("a", "c"), "principal": "has space"},
                ],
            }
        )
    )
    message = refusal(tmp_path, "--auth-tokens", str(tokens))
    assert "1" in message and "principal" in message, message
    assert secretish not in message


def test_tls_files_are_checked_in_one_line(tmp_path: Path) -> None:
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    port = f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1"
    assert refusal(tmp_path, "--port", port) == (
        f"--port: the TLS private key file {key}: No such file or directory"
    )
    key.write_text("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----\n")
    cert.write_text("not a certificate")
    assert refusal(tmp_path, "--port", port) == (
        f"--port: the TLS certificate file {cert}: not PEM (no '-----BEGIN CERTIFICATE-----' in it)"
    )


def _keyAndCert(folder: Path, name: str, password: bytes | None = None) -> tuple[Path, Path]:
    """A fresh EC key (encrypted with C{password}, traditional format when
    C{name} ends in C{-trad}) and a self-signed certificate for it."""
    from cryptography.hazmat.primitives import serialization

    from tests.support.tls.certificates import certificatePem, issue, named, newKey

    key = newKey()
    cert = issue(named("test"), key, key)
    encryption: serialization.KeySerializationEncryption = (
        serialization.NoEncryption()
        if password is None
        else serialization.BestAvailableEncryption(password)
    )
    form = (
        serialization.PrivateFormat.TraditionalOpenSSL
        if name.endswith("-trad")
        else serialization.PrivateFormat.PKCS8
    )
    keyPath, certPath = folder / f"{name}-key.pem", folder / f"{name}-cert.pem"
    keyPath.write_bytes(key.private_bytes(serialization.Encoding.PEM, form, encryption))
    certPath.write_bytes(certificatePem(cert))
    return keyPath, certPath


def test_a_key_that_does_not_match_the_certificate_is_one_line(tmp_path: Path) -> None:
    # Twisted would raise VerifyError with a traceback once the service starts.
    _, cert = _keyAndCert(tmp_path, "a")
    other, _ = _keyAndCert(tmp_path, "b")
    port = f"ssl:0:privateKey={other}:certKey={cert}:interface=127.0.0.1"
    message = refusal(tmp_path, "--port", port)
    assert message.startswith(
        f"--port: the TLS private key file {other} does not match the certificate {cert}"
    ), message


@pytest.mark.parametrize("name", ["pkcs8", "legacy-trad"])
def test_an_encrypted_key_is_one_line_and_asks_for_no_passphrase(tmp_path: Path, name: str) -> None:
    # OpenSSL would ask on the terminal (a daemon has none), then fail with
    # 'problems getting password' and a traceback.
    key, cert = _keyAndCert(tmp_path, name, password=b"secret")
    port = f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1"
    message = refusal(tmp_path, "--port", port)
    assert message.startswith(f"--port: the TLS private key file {key} is encrypted"), message
    assert f"openssl pkey -in {key}" in message


def test_a_key_pem_block_openssl_cannot_read_is_one_line(tmp_path: Path) -> None:
    _, cert = _keyAndCert(tmp_path, "a")
    key = tmp_path / "broken.pem"
    key.write_text("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    port = f"ssl:0:privateKey={key}:certKey={cert}:interface=127.0.0.1"
    message = refusal(tmp_path, "--port", port)
    assert message.startswith(
        f"--port: the TLS private key file {key}: not a private key OpenSSL can read"
    ), message


def test_a_matching_key_and_certificate_pass(tmp_path: Path) -> None:
    key, cert = _keyAndCert(tmp_path, "a")
    checkTeam(parseIn(tmp_path, "--port", f"ssl:0:privateKey={key}:certKey={cert}"))
    # One file holding both, as Twisted allows (certKey defaults to privateKey).
    both = tmp_path / "both.pem"
    both.write_bytes(cert.read_bytes() + key.read_bytes())
    checkTeam(parseIn(tmp_path, "--port", f"ssl:0:privateKey={both}"))


def test_tls_without_pyopenssl_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "OpenSSL", None)
    port = "ssl:0:privateKey=k.pem:interface=127.0.0.1"
    assert refusal(tmp_path, "--port", port) == (
        f"--port {port}: TLS needs pyOpenSSL: pip install 'mcpgateway[tls]'"
    )


def test_oauth_without_its_packages_names_the_extra(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "treq", None)
    issuer = ("--oauth-issuer", "http://127.0.0.1:1", "--resource-uri", "http://127.0.0.1:9100")
    assert refusal(tmp_path, *issuer) == (
        "--oauth-issuer http://127.0.0.1:1 needs PyJWT, treq and cryptography:"
        " pip install 'mcpgateway[team]'"
    )
    monkeypatch.delitem(sys.modules, "treq")
    monkeypatch.setitem(sys.modules, "service_identity", None)
    https = ("--oauth-issuer", "https://id.example.com", "--resource-uri", "https://m.example")
    assert "needs pyOpenSSL and service_identity" in refusal(tmp_path, *https)
    monkeypatch.delitem(sys.modules, "service_identity")
    missing = tmp_path / "ca.pem"
    assert refusal(tmp_path, *https, "--oauth-ca-file", str(missing)) == (
        f"--oauth-ca-file {missing}: No such file or directory"
    )


def test_the_audit_logs_folder_must_exist(tmp_path: Path) -> None:
    audit = tmp_path / "nowhere" / "audit.jsonl"
    assert refusal(tmp_path, "--audit-log", str(audit)) == (
        f"--audit-log {audit}: the folder {audit.parent} does not exist"
    )


def test_an_audit_key_in_the_logs_own_folder_is_refused(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    key = tmp_path / "audit.key"
    message = refusal(tmp_path, "--audit-log", str(audit), "--audit-key-file", str(key))
    assert message.startswith(
        f"--audit-log {audit}: the audit key {key} is in the audit log's own folder {tmp_path}"
    )
    assert "--audit-key-file FILE in another folder" in message
    # the default key, the state directory's, is refused the same way
    state = tmp_path / "st"
    state.mkdir()
    inState = state / "audit.jsonl"
    assert f"the audit key {state / 'audit.key'} is in" in refusal(
        tmp_path, "--audit-log", str(inState)
    )


def test_a_state_dir_other_users_can_enter_is_warned_of_and_left_as_it_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from twisted.logger import formatEvent

    from tests.fakes import capturedGatewayLogs

    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "st").mkdir(mode=0o755)
    (tmp_path / "st").chmod(0o755)
    with capturedGatewayLogs() as seen:
        first = preflight(parseIn(tmp_path), "127.0.0.1")
        first.lock.release()
    text = [formatEvent(e) for e in seen if "chmod 700" in formatEvent(e)]
    assert text == [
        f"state directory {tmp_path / 'st'} is mode 0755: other users can enter it;"
        " it holds sessions, logs and the workspace key:"
        f" run chmod 700 {tmp_path / 'st'}"
    ]
    assert (tmp_path / "st").stat().st_mode & 0o777 == 0o755


def test_a_private_state_dir_is_not_warned_of(tmp_path: Path) -> None:
    from mcpgateway.startup.preflight import warnOpenStateDir

    (tmp_path / "st").mkdir(mode=0o700)
    assert not warnOpenStateDir(tmp_path / "st")
    assert not warnOpenStateDir(tmp_path / "missing")


def test_a_gateway_holding_the_lock_before_its_state_is_written_is_said_to_be_starting(
    tmp_path: Path,
) -> None:
    """ "(pid ?, port ?)" told a second start nothing."""
    from mcpgateway.ops.statedir import AlreadyRunning

    (tmp_path / "st").mkdir()
    first = InstanceLock(tmp_path / "st")
    first.acquire()
    try:
        with pytest.raises(AlreadyRunning) as refused:
            InstanceLock(tmp_path / "st").acquire()
    finally:
        first.release()
    assert "(still starting: it has not written its state yet)" in str(refused.value)
    assert "?" not in str(refused.value)

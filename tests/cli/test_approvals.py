"""C{mcpgateway approvals list|show|allow|deny}: the management API calls,
the table, one call with its exact arguments and the diff, the decisions,
C{--json}, the API's refusals, no gateway, and what a client sent printed
with its unprintable characters escaped."""

from __future__ import annotations

import json
import time
from typing import Any

from mcpgateway.cli.approvals import renderCall, renderDiff, renderList
from tests.cli.support import Cli, FakeGateway, api, lastCall

NOW = 1_800_000_000.0
PENDING: dict[str, Any] = {
    "id": "Xq3v9kTz0aBcDeFgHiJkLm",
    "state": "pending",
    "principal": "",
    "client": {"principal": "", "kind": "pid", "id": "4242"},
    "server": "github",
    "tool": "create_issue",
    "labels": ["untrusted", "private", "egress"],
    "reason": "the client has read untrusted content and holds private data, and the tool"
    " 'create_issue' can send data out (egress)",
    "policyVersion": "v1",
    "created": NOW - 60,
    "expiry": NOW + 840,
    "digest": "sha256:" + "ab" * 32,
    "decidedAt": None,
    "decidedBy": None,
    "denyReason": "",
    "usedAt": None,
}
DENIED: dict[str, Any] = {
    **PENDING,
    "id": "other-call-id",
    "state": "denied",
    "client": {"principal": "alice", "kind": "client", "id": "claude-code"},
    "tool": "push_files",
    "decidedAt": NOW - 125,
    "decidedBy": "owner",
    "denyReason": "not that repo",
}
SHOWN: dict[str, Any] = {
    **PENDING,
    "arguments": {"repo": "me/site", "title": "hello \x1b[2J", "labels": ["bug"]},
    "lastApproved": {"repo": "me/site", "title": "hi", "draft": True},
    "diff": [
        {"key": "draft", "change": "removed", "old": True},
        {"key": "labels", "change": "added", "new": ["bug"]},
        {"key": "title", "change": "changed", "old": "hi", "new": "hello \x1b[2J"},
    ],
}


def test_the_list_is_a_table_of_the_waiting_then_the_decided() -> None:
    assert renderList({"pending": [PENDING], "decided": [DENIED]}, NOW) == [
        "ID                      STATE    SERVER  TOOL          CLIENT                     WHEN",
        "Xq3v9kTz0aBcDeFgHiJkLm  pending  github  create_issue  pid 4242                   "
        "expires in 14m 00s",
        "other-call-id           denied   github  push_files    alice: client claude-code  "
        "2m 05s ago",
        "1 call waiting: `mcpgateway approvals show ID` shows one",
    ]
    assert renderList({"pending": [], "decided": []}, NOW) == ["no call is held for a person's yes"]


def test_one_call_shows_labels_reason_exact_arguments_and_the_diff() -> None:
    lines = renderCall(SHOWN, NOW)
    assert lines[:8] == [
        "call Xq3v9kTz0aBcDeFgHiJkLm: pending, expires in 14m 00s",
        "  server: github",
        "  tool: create_issue",
        "  client: pid 4242",
        "  labels: untrusted, private, egress",
        f"  reason: {PENDING['reason']}",
        "  policy version: v1",
        f"  digest: {PENDING['digest']}",
    ]
    at = lines.index("  arguments:")
    assert lines[at + 1 : at + 9] == [
        "    {",
        '      "labels": [',
        '        "bug"',
        "      ],",
        '      "repo": "me/site",',
        '      "title": "hello \\u001b[2J"',
        "    }",
        "  since the last call of this tool by this client allowed:",
    ]
    assert lines[at + 9 :] == [
        "    - draft: true",
        '    + labels: ["bug"]',
        '    ~ title: "hi" -> "hello \\u001b[2J"',
    ]
    assert not any("\x1b" in line for line in lines)


def test_the_diff_says_when_nothing_was_allowed_before_or_nothing_changed() -> None:
    assert renderDiff(None) == ["  no call of this tool by this client was allowed before"]
    assert renderDiff([]) == [
        "  the same arguments as the last call of this tool by this client allowed"
    ]
    [line] = renderDiff([{"key": "body", "change": "added", "new": "x" * 500}])[1:]
    assert len(line) < 230 and line.endswith("\u2026")


def test_a_decided_call_says_who_decided_and_why() -> None:
    lines = renderCall({**DENIED, "arguments": {}, "diff": None}, NOW)
    assert lines[0] == "call other-call-id: denied, 2m 05s ago"
    assert "  client: alice: client claude-code" in lines
    assert "  decided by: owner" in lines and "  denied because: not that repo" in lines


def test_list_and_show_ask_the_api(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/approvals", 200, {"pending": [PENDING], "decided": []})
    code, out, err = cli("approvals", "list")
    assert (code, err) == (0, "")
    assert out.splitlines()[1].startswith("Xq3v9kTz0aBcDeFgHiJkLm  pending  github  create_issue")
    code, out, _ = cli("approvals", "list", "--json")
    assert json.loads(out) == {"pending": [PENDING], "decided": []}
    api(running, "GET", "/approvals/Xq3v9kTz0aBcDeFgHiJkLm", 200, SHOWN)
    code, out, _ = cli("approvals", "show", "Xq3v9kTz0aBcDeFgHiJkLm")
    assert code == 0 and '      "repo": "me/site",' in out.splitlines()
    code, out, _ = cli("approvals", "show", "Xq3v9kTz0aBcDeFgHiJkLm", "--json")
    assert json.loads(out) == SHOWN
    assert lastCall(running)[:2] == ("GET", "/api/v1/approvals/Xq3v9kTz0aBcDeFgHiJkLm")


def test_allow_and_deny_post_the_decision(running: FakeGateway, cli: Cli) -> None:
    callId = PENDING["id"]
    allowed = {**SHOWN, "state": "allowed", "decidedBy": "owner", "expiry": 1_800_000_840.0}
    api(running, "POST", f"/approvals/{callId}/allow", 200, allowed)
    code, out, err = cli("approvals", "allow", callId)
    assert (code, err) == (0, "")
    assert out == (
        f"allowed call {callId} of github/create_issue: good for that exact call once, until"
        f" 2027-01-15 08:14:00Z ({PENDING['digest']})\n"
    )
    assert lastCall(running)[:2] == ("POST", f"/api/v1/approvals/{callId}/allow")
    assert lastCall(running)[3] is None
    denied = {**SHOWN, "state": "denied", "denyReason": "no"}
    api(running, "POST", f"/approvals/{callId}/deny", 200, denied)
    code, out, _ = cli("approvals", "deny", callId, "--reason", "not to that repo")
    assert (code, out) == (0, f"denied call {callId} of github/create_issue\n")
    assert lastCall(running)[3] == {"reason": "not to that repo"}
    code, out, _ = cli("approvals", "deny", callId, "--json")
    assert code == 0 and json.loads(out) == {"ok": True, **denied}
    assert lastCall(running)[3] is None


def test_the_apis_refusal_is_one_line(running: FakeGateway, cli: Cli) -> None:
    error = {"error": "the held call 'abc' was denied by owner already"}
    api(running, "POST", "/approvals/abc/allow", 409, error)
    code, out, err = cli("approvals", "allow", "abc")
    assert (code, out) == (1, "")
    assert err == "mcpgateway: the held call 'abc' was denied by owner already\n"
    api(running, "GET", "/approvals/nope", 404, {"error": "no held call 'nope'"})
    code, out, _ = cli("approvals", "show", "nope", "--json")
    assert code == 1 and json.loads(out) == {"ok": False, "error": "no held call 'nope'"}


def test_an_id_is_quoted_into_the_path(running: FakeGateway, cli: Cli) -> None:
    api(running, "GET", "/approvals/a%2Fb%3Fc", 200, SHOWN)
    assert cli("approvals", "show", "a/b?c")[0] == 0
    assert lastCall(running)[1] == "/api/v1/approvals/a%2Fb%3Fc"


def test_without_a_gateway_it_says_so(cli: Cli) -> None:
    code, out, err = cli("approvals", "list")
    assert (code, out) == (1, "")
    assert err == "mcpgateway: the gateway is not running; `mcpgateway start` starts it\n"


def test_the_times_are_relative_to_now() -> None:
    now = time.time()
    [_, row, _] = renderList({"pending": [{**PENDING, "expiry": now + 30}], "decided": []}, now)
    assert row.endswith("expires in 30s")

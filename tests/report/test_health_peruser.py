"""A C{"perUser": true} server showed as a plain
C{● global} with two children in C{/health}, the API and C{mcpgateway
status}; nothing said why there were two. Its line now says
C{"perUser": true}, and C{status} shows C{global/user} with the legend's
entry for it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from mcpgateway.cli.output import LEGEND
from mcpgateway.cli.status import PER_USER_LEGEND, renderStatus, shareLabel
from mcpgateway.core.spec import ServerSpec
from mcpgateway.ops.gatewayprobe import GatewayProbe
from mcpgateway.report.health import healthLine, serverLine
from tests.cli.support import HEALTH
from tests.support.web.health import SERVER, SPEC


def withSpec(spec: ServerSpec) -> dict[str, object]:
    return serverLine(replace(SERVER, spec=spec))


def test_a_per_user_servers_line_says_so_after_its_share() -> None:
    line = withSpec(replace(SPEC, perUser=True))
    assert list(line)[:3] == ["mode", "share", "perUser"]
    assert (line["share"], line["perUser"]) == ("global", True)
    assert healthLine(replace(SERVER, spec=replace(SPEC, perUser=True)))["perUser"] is True


def test_a_credential_server_is_per_user_and_a_shared_or_session_one_is_not() -> None:
    assert withSpec(replace(SPEC, mode="credential"))["perUser"] is True
    assert "perUser" not in withSpec(SPEC)  # the other lines stay as they were
    assert "perUser" not in withSpec(replace(SPEC, mode="session", perUser=True))


def test_status_shows_a_per_user_server_as_such_with_its_legend(tmp_path: Path) -> None:
    found = GatewayProbe(tmp_path, {"pid": 7, "port": 9100})
    plain = HEALTH["servers"]["context7"]
    health = {
        "servers": {
            "mem": {**plain, "share": "global", "perUser": True, "children": 2},
            "ws": {**plain, "share": "workspace", "perUser": True},
            "gh": {**plain, "share": "credential", "perUser": True},
            "fs": {**plain, "share": "global"},
        }
    }
    lines = renderStatus(found, health, [])
    rows = {line.split()[1]: line for line in lines if line[2:3] and line[2:3] in "●◐◔◆"}
    assert rows["mem"].startswith("  ● mem  global/user     running")
    assert rows["ws"].startswith("  ◐ ws   workspace/user  running")
    assert rows["gh"].startswith("  ◔ gh   credential      running")  # per user by its share
    assert rows["fs"].startswith("  ● fs   global          running")
    assert lines[-1] == (
        "  share: ● global · ◐ workspace · ◔ credential · ◆ session"
        f" · {PER_USER_LEGEND} (who shares a child: docs/guide/scopes.md)"
    )
    assert PER_USER_LEGEND == "/user a child per user"
    without = renderStatus(found, {"servers": {"fs": health["servers"]["fs"]}}, [])
    assert without[-1] == f"  {LEGEND}"


def test_the_share_label_of_an_older_gateway_is_its_share() -> None:
    assert shareLabel({"mode": "stateless"}) == "global"
    assert shareLabel({"share": "global", "perUser": False}) == "global"

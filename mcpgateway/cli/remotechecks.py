# -*- test-case-name: tests.cli.test_remotechecks -*-
"""C{mcpgateway doctor}'s look at the remote servers: which hold the
gateway's OAuth tokens, and which ask for a login they have not had.

It reads the servers from C{/health} (left by the health check) and the
grants from the state directory's token store, with the same key the
gateway uses; never a token's value."""

from __future__ import annotations

import time

from mcpgateway.cli.checks import Check, DoctorContext, lastFailure
from mcpgateway.cli.health import healthServers
from mcpgateway.remote.oauth.tokens import TokenStore, TokenStoreError

LOGIN_ASKED = "mcpgateway login"
"""What the gateway's error for a server that needs a login says."""


def checkRemoteLogins(ctx: DoctorContext) -> Check:
    if ctx.health is None:
        return Check("info", "Remote servers' logins not checked (no server list from /health)")
    remote = {
        name: server
        for name, server in healthServers(ctx.health).items()
        if isinstance(server.get("remote"), dict)
    }
    if not remote:
        return Check("info", "No remote servers")
    try:
        grants = {grant.server: grant for grant in TokenStore(ctx.stateDir).all()}
    except TokenStoreError as e:
        return Check("fail", f"Remote servers' tokens: {e}", "mcpgateway login SERVER, again")
    now = time.time()
    details, wanting = [], []
    for name in sorted(remote):
        grant = grants.get(name)
        failure = lastFailure(remote[name]) or str(remote[name].get("lastExit") or "")
        if grant is not None:
            left = ""
            if grant.expiresAt is not None:
                minutes = (grant.expiresAt - now) / 60
                left = f", access token {'expired' if minutes <= 0 else f'good {minutes:.0f} min'}"
                left += " (refreshed by the gateway)" if grant.refreshToken else ""
            details.append(f"{name}: logged in ({grant.issuer or grant.tokenEndpoint}){left}")
        elif LOGIN_ASKED in failure:
            wanting.append(name)
            details.append(f"{name}: asks for a login it has not had")
        else:
            details.append(f"{name}: no login (it has not asked for one)")
    if wanting:
        return Check(
            "fail",
            f"Remote servers: {', '.join(wanting)} need a login",
            " ; ".join(f"mcpgateway login {name}" for name in wanting),
            tuple(details),
        )
    return Check("pass", f"Remote servers: {len(remote)}", None, tuple(details))

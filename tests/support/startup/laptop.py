"""The gateway's own modules a laptop's gateway leaves unloaded, each with
what loads it: the team's start-up, the allow-list proxy, the restart and
the adoption of children, the MCP 2026-07-28 era (its first request, or a
child that speaks only 2026), and the programs of the launcher and the
warden (processes of their own). Both checks of a default gateway read them: the
service tree built in a fresh interpreter
(C{tests/startup/test_idle_imports.py}) and the running gateway
(C{tests/integration/host/test_idle_footprint.py})."""

from __future__ import annotations

UNLOADED_ON_A_LAPTOP = {
    "mcpgateway.startup.team": "a team's door or audit log, a cluster (startup/teamwiring.py)",
    "mcpgateway.startup.cluster": "--cluster-key-file (startup/teamwiring.py)",
    "mcpgateway.startup.policywiring": "--policy (startup/teamwiring.py)",
    "mcpgateway.startup.selfservice": "--self-service (startup/teamwiring.py)",
    "mcpgateway.ops.auditexport": "--audit-syslog (startup/teamoptions.py, startup/team.py)",
    "mcpgateway.ops.auditkey": "a team's --audit-log (startup/team.py)",
    "mcpgateway.ops.wardenrun": "nothing: the warden's program, a process of its own",
    "mcpgateway.startup.netproxy": "a child with an allow list (startup/sandboxing.py)",
    "mcpgateway.sandbox.netproxy": "a child with an allow list (startup/netproxy.py)",
    "mcpgateway.sandbox.launch": "nothing: the launcher's program, a process of its own",
    "mcpgateway.sandbox.probe": "nothing: the launcher's probe (sandbox/mechanisms.py)",
    "mcpgateway.sandbox.bwrap": "nothing: the launcher's bubblewrap command line",
    "mcpgateway.sandbox.layout": "nothing: the launcher's sandbox layout",
    "mcpgateway.sandbox.seccomp": "nothing: the launcher's system-call filter",
    "mcpgateway.ops.handover": "a restart: SIGUSR2 (startup/handoverwiring.py), its successor",
    "mcpgateway.ops.childhandover": "a restart's or a crash's children (startup/childwiring.py)",
    "mcpgateway.web.endpoints.era2026": "a 2026-07-28 request (web/endpoints/mcp.py)",
    "mcpgateway.web.endpoints.era2026response": "a 2026-07-28 request (web/endpoints/era2026.py)",
    "mcpgateway.protocol.era2026form": "a 2026-07-28 request or child (web/endpoints/era2026.py)",
    "mcpgateway.core.pools.era2026side": "a pool's first 2026 request (core/pools/serverpool.py)",
    "mcpgateway.core.era2026.mrtr": "a pool's first 2026 request (core/pools/serverpool.py)",
    "mcpgateway.core.era2026.childtask": "a pool's first 2026 request (core/era2026/mrtr.py)",
    "mcpgateway.core.era2026.listen": "a pool's first 2026 request (core/pools/era2026side.py)",
    "mcpgateway.core.era2026.types": "a 2026-07-28 request (web/endpoints/era2026.py)",
    "mcpgateway.core.era2026.child": "a child that speaks only 2026 (core/era2026/lazysupport.py)",
    "mcpgateway.core.era2026.reversebridge": (
        "a child that speaks only 2026 (core/era2026/child.py)"
    ),
    "mcpgateway.core.era2026.translate": "a child's initialize error (core/era2026/lazysupport.py)",
    "mcpgateway.core.tasks.listening": "a listen that names tasks (core/gateway/gateway.py)",
}
"""Module -> what loads it."""

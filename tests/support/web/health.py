"""What tests/report/test_health.py shares with the other tests: CHILD, SERVER,
SPEC."""

from __future__ import annotations

from mcpgateway.core.spec import ServerSpec, Sharing
from mcpgateway.core.status import (
    ChildStatus,
    Circuit,
    Lifecycle,
    RequestSnapshot,
    Resolution,
    ServerState,
    ServerStatus,
)

SPEC = ServerSpec(name="mem", command="npx", env=(("KEY", "secret-value"),), executable=None)
CHILD = ChildStatus(
    pid=4242,
    lifecycle=Lifecycle.RUNNING,
    startedAt=1.0,
    spawns=3,
    inFlight=2,
    bytesIn=1,
    bytesOut=2,
    lastExit="exited with code 1",
    owner=None,
)
SERVER = ServerStatus(
    name="mem",
    sharing=Sharing.SHARED,
    state=ServerState.ERROR,
    circuit=Circuit.HALF_OPEN,
    children=(CHILD,),
    sessions=4,
    requests=RequestSnapshot(
        requests={("tools/call", "ok"): 7},
        count=7,
        sum=0.5,
        bucketCounts=(7,) + (0,) * 15,
        lateReplies=1,
        ambiguousServerRequests=1,
        bytesIn=0,
        bytesOut=0,
    ),
    failures=2,
    created=0.0,
    now=30.0,
    disabled=False,
    resolution=Resolution("failed", "npx pkg: exited with code 1"),
    error="command 'npx' not found on PATH",
    launch=None,
    spec=SPEC,
)

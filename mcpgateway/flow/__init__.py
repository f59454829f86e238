# -*- test-case-name: tests.flow -*-
"""Where a client's data came from, and what it may send out: the defence
against the lethal trifecta (untrusted content read while private data is
held, then a tool that sends data out).

The modules by job: L{labels} (the three labels, and an entry's
C{"labels"} parsed), L{defaults} (a tool's labels from its annotations,
the shipped table of well-known servers, and which of them a tool gets),
L{ledger} (the labels each client has gathered from the results it
received, across all of its sessions), L{rule} (the decision for one
call: allow, or hold for a person's yes; and the gateway's C{"flow"}
setting that turns the default rule off) and L{held} (the calls held for
a person's yes, and that yes: good for that exact call, once, in time).
Nothing here knows HTTP, a session or a child: the caller hands in the
client's key, the tool's labels and the clock. See docs/guide/flow.md.
"""

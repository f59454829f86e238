# -*- test-case-name: tests.sandbox -*-
"""Every stdio child confined: what a server may see, write and reach.

The modules by job: L{profile} (a server entry's C{"sandbox"}, parsed),
L{narrowing} (what of a profile is wider than the default: a project's own
entry may only narrow), L{defaults} (what a child may see when its entry
says nothing more: the system read-only, its own program and files, its
launcher's caches, never the deny list), L{request} (what the gateway
hands a child's launcher), L{layout} (the rules as real paths on this
machine, built from L{places} (path facts, symlink-safe resolution,
version managers), L{commandline} (the paths a command line names),
L{writes} (where the child may write, settled first) and L{masks} (what
it never sees)), L{bwrap} (bubblewrap's argv), L{landlock} (the kernel's
Landlock rules, the fallback), L{seccomp} (the system-call filter, and the
sockets each mechanism leaves open), L{privileges} (every capability
dropped before Landlock), L{seatbelt} (macOS C{sandbox-exec}'s profile),
L{launch} (the program a confined child starts as), L{probe} (which
mechanism works here, and what each does not confine), L{failures} (a
denial in a child's stderr or error result, told as the profile key that
allows it), L{confine} (which servers are confined, and their command
line), L{detect} (the probe, run by the gateway after it daemonized) and
L{childtmp} (a Landlock child's temporary directory, removed once it
ended). See docs/guide/sandbox.md.

Everything the launcher imports is the standard library's: it runs before
every confined child, and its start is part of the child's.
"""

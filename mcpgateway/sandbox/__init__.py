# -*- test-case-name: tests.sandbox -*-
"""Every stdio child confined: what a server may see, write and reach.

The modules by job: L{profile} (a server entry's C{"sandbox"}, parsed),
L{defaults} (what a child may see when its entry says nothing more: the
system read-only, its own program and files, its launcher's caches, never
the deny list), L{request} (what the gateway hands a child's launcher),
L{layout} (the rules as real paths on this machine), L{bwrap}
(bubblewrap's argv), L{landlock} (the kernel's Landlock rules, the
fallback), L{seatbelt} (macOS C{sandbox-exec}'s profile), L{launch} (the
program a confined child starts as), L{probe} (which mechanism works
here), L{failures} (a denial in a child's stderr, told as the profile key
that allows it), L{confine} (which servers are confined, and their
command line) and L{detect} (the probe, run by the gateway after it
daemonized). See docs/guide/sandbox.md.

Everything the launcher imports is the standard library's: it runs before
every confined child, and its start is part of the child's.
"""

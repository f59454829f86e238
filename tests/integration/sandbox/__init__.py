"""Confined children on real gateways: bubblewrap, Landlock, seccomp and the
network allow-list, the escapes they keep in, learn mode, and confinement
across restarts."""

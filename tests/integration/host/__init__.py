"""The gateway on the real machine: its reactor, C{/proc}, netlink, signals,
systemd, OpenTelemetry, the manhole, its idle footprint and its packaging."""

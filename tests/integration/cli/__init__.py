"""The C{mcpgateway} command as a user runs it against real gateways: start
(detached or not), status, stop, the API, registries, secrets, and the
refusals that name their cause."""

"""The gateway floor of the core: the L{Gateway<mcpgateway.core.gateway.gateway.Gateway>}
and the collaborators it holds (its servers, their changes, the aggregate
side, room under the session limits, opening and visiting sessions, their
continuity, the stop, the read model, the catalogs), which put the floors
below together."""

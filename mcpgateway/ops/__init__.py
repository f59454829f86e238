"""Operating the gateway: the state directory, reaper, monitor, management, manhole."""

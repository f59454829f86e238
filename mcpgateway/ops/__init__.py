# -*- test-case-name: tests.ops -*-
"""Operating the gateway: the state directory, reaper, monitor, management, manhole."""

# -*- test-case-name: tests.web -*-
"""What a person or a monitor reads: the status page and its live feed,
C{/health} and C{/metrics}, the server cards, the sign-in pages."""

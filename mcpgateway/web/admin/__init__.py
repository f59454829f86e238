# -*- test-case-name: tests.web -*-
"""The management API (C{/api/v1}) and the Klein routes that end sessions."""

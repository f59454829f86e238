# -*- test-case-name: tests.core -*-
"""The core: one child, many clients. Knows neither HTTP nor config files."""

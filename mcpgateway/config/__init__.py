# -*- test-case-name: tests.config -*-
"""Where servers come from: config files, classification, npx/uvx resolution."""

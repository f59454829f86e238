"""The syntax of secret references, under the name of the package that
resolves them: L{mcpgateway.config.references} is where it lives (the config
loader checks references and imports nothing of this package); the packages
ranked below this one import it from there."""

from mcpgateway.config.references import (
    ENV_NAME,
    KINDS,
    SECRET_NAME,
    BadReference,
    Redactor,
    Reference,
    parseReferences,
    referencesOf,
    substitute,
)

__all__ = [
    "ENV_NAME",
    "KINDS",
    "SECRET_NAME",
    "BadReference",
    "Redactor",
    "Reference",
    "parseReferences",
    "referencesOf",
    "substitute",
]

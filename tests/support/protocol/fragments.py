"""The pieces of JSON text the hostile-text properties of the JSON-RPC
codec build their inputs from: the punctuation every such text is cut
from."""

from __future__ import annotations

PUNCTUATION = ["[", "]", "{", "}", ",", ":", '"']
"""JSON's structural characters and the string quote."""

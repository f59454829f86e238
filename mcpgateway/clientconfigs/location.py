# -*- test-case-name: tests.clientconfigs.test_formats -*-
"""Where a client's config file keeps its MCP server entries: the keys from
the document's root to their container, and whether that container is a
map or a list. Every document format reads and writes entries by it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Location:
    """Where a file keeps its entries.

    @ivar path: the keys from the document's root to the entries' container.
    @ivar listKey: C{None}: the container maps names to entries; else it is a
        list of entries, each naming itself under this key (Continue's C{name}).
    """

    path: tuple[str, ...]
    listKey: str | None = None

    def toJson(self) -> dict[str, Any]:
        return {"path": list(self.path), "listKey": self.listKey}

    @classmethod
    def fromJson(cls, data: Any) -> Location:
        if not (
            isinstance(data, dict)
            and isinstance(data.get("path"), list)
            and all(isinstance(k, str) for k in data["path"])
            and (data.get("listKey") is None or isinstance(data.get("listKey"), str))
        ):
            raise ValueError("not a location")
        return cls(tuple(data["path"]), data.get("listKey"))

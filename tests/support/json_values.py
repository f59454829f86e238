"""jsonScalars and jsonValues: Hypothesis strategies for the JSON a client,
a child or a file may hold, for the tests that feed outside input to a
parser."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy


def jsonScalars(
    text: int = 8,
    integers: SearchStrategy[int] | None = None,
    floats: SearchStrategy[float] | None = None,
) -> SearchStrategy[Any]:
    """Null, booleans, C{integers} (any by default), C{floats} (finite by
    default) and strings of at most C{text} characters."""
    return (
        st.none()
        | st.booleans()
        | (st.integers() if integers is None else integers)
        | (st.floats(allow_nan=False, allow_infinity=False) if floats is None else floats)
        | st.text(max_size=text)
    )


def jsonValues(
    scalars: SearchStrategy[Any] | None = None,
    *,
    keys: int = 8,
    items: int = 3,
    entries: int | None = 3,
    leaves: int = 8,
) -> SearchStrategy[Any]:
    """Every JSON type, nested a little: C{scalars} (L{jsonScalars} by
    default), lists of at most C{items} values and objects of at most
    C{entries} members (C{None}: any number) named by at most C{keys}
    characters, C{leaves} scalars at the most."""
    return st.recursive(
        jsonScalars() if scalars is None else scalars,
        lambda inner: (
            st.lists(inner, max_size=items)
            | st.dictionaries(st.text(max_size=keys), inner, max_size=entries)
        ),
        max_leaves=leaves,
    )

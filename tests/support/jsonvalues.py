"""Hypothesis strategies of JSON values and of the JSON files a store reads:
what the tests of parsers and of the files the gateway keeps feed them."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import strategies as st

JsonValues = st.SearchStrategy[Any]


def jsonValues(
    *, text: int, keys: int, items: int, leaves: int, nan: bool = False, infinity: bool = True
) -> JsonValues:
    """Nested JSON-able values: C{null}, booleans, numbers and strings of at
    most C{text} characters, in lists and objects (keys of at most C{keys}
    characters) of at most C{items} members, C{leaves} scalars in all."""
    return st.recursive(
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=nan, allow_infinity=infinity)
        | st.text(max_size=text),
        lambda children: (
            st.lists(children, max_size=items)
            | st.dictionaries(st.text(max_size=keys), children, max_size=items)
        ),
        max_leaves=leaves,
    )


def storeFiles(names: str, optional: tuple[str, ...]) -> st.SearchStrategy[dict[str, bytes]]:
    """Up to six files named by the regular expression C{names}: bytes,
    JSON, or a record's shape (C{version}, C{server}, and maybe the members
    C{optional}) holding any JSON."""
    values = jsonValues(text=20, keys=10, items=4, leaves=20)
    return st.dictionaries(
        st.from_regex(names, fullmatch=True),
        st.one_of(
            st.binary(max_size=200),
            values.map(lambda value: json.dumps(value).encode()),
            st.fixed_dictionaries(
                {"version": st.sampled_from([1, 1.0, True, "1", 2]), "server": values},
                optional={name: values for name in optional},
            ).map(lambda value: json.dumps(value).encode()),
        ),
        max_size=6,
    )

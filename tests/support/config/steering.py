"""What tests/config/test_deniedenv.py shares with the other tests: anyCase."""

from __future__ import annotations

from hypothesis import strategies as st


@st.composite
def anyCase(draw: st.DrawFn, name: str) -> str:
    """C{name} with each letter in a case of hypothesis's choosing."""
    flips = draw(st.lists(st.booleans(), min_size=len(name), max_size=len(name)))
    return "".join(c.swapcase() if flip else c for c, flip in zip(name, flips, strict=True))

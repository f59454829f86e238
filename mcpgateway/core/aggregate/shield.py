# -*- test-case-name: tests.core.aggregate.test_shield -*-
"""Response shielding: a tool result too large for a model's context is
shrunk, and the model is told how to read the rest.

One job: given a C{tools/call} result, a L{ShieldSpec} and the ref under
which the caller kept the whole result (L{mcpgateway.core.aggregate.results}), make
a copy that fits C{spec.budget} bytes of compact JSON. A result at or under
the budget is returned unchanged. Over it, the text parts are shrunk
(structurally when a text holds JSON), in this order, each step only if
the previous one was not enough:

  1. fields of array-of-object items averaging over C{heavyField} bytes
     are dropped (never C{id}, C{name}, C{title}, C{uri}, C{url}, C{path},
     C{type}, C{status} or C{key}); images, audio and blobs always become
     a text marker with their size and path;
  2. arrays are cut to C{maxItems}, ending C{"… N more items (get_result
     ref=…)"};
  3. strings are cut to C{maxString}, ending C{…[cut: showing K of M
     characters; get_result ref=…]};
  4. both limits are halved, down to 5 items and 256 characters;
  5. what is left of the content is cut hard, as one text.

A trailing text item, addressed to the model, says what was cut and to call
C{get_result} with the ref; C{_meta["mcpgateway/shielded"]} holds C{{ref,
omitted}} for programs. C{structuredContent} is shrunk the same way only
when a C{structuredValid} hook says the shrunk copy is still valid against
the tool's C{outputSchema}; without a hook, or when the hook says no or
cannot tell, it is left whole and the note says so (the rest of the
result is then shrunk to the budget on its own). Nothing is ever made
larger: a copy no smaller than the original is dropped for the original.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from mcpgateway.core.aggregate.results import compact
from mcpgateway.core.aggregate.types import ShieldSpec

__all__ = ["KEPT_FIELDS", "META", "Shielded", "StructuredValid", "shield", "size"]

#: Fields never dropped as heavy: they identify an item.
KEPT_FIELDS = frozenset({"id", "name", "title", "uri", "url", "path", "type", "status", "key"})
#: The C{_meta} key of the shield's summary.
META = "mcpgateway/shielded"
#: The least the limits are halved to.
MIN_ITEMS = 5
MIN_STRING = 256
#: Entries of C{omitted} named in C{_meta} and in the note.
META_ENTRIES = 20
NOTE_ENTRIES = 5

StructuredValid = Callable[[Any], "bool | None"]
"""Whether a shrunk C{structuredContent} is still valid against the tool's
C{outputSchema} (C{None}: cannot tell)."""


@dataclass(frozen=True)
class Shielded:
    """What L{shield} made.

    @ivar result: the result to send (the original when nothing was cut).
    @ivar ref: the ref the result points the model to, or C{None} when
        nothing was cut.
    @ivar omitted: how much was left out, per dotted path: characters of a
        string, items of an array (C{path.*.field}: items that lost
        C{field}), 1 for a replaced image, audio or blob, or a dropped key.
    @ivar structuredKept: C{structuredContent} was left whole (no check,
        or shrinking it would break its schema), so C{result} may be over
        the budget.
    """

    result: dict[str, Any]
    ref: str | None
    omitted: Mapping[str, int] = field(default_factory=dict)
    structuredKept: bool = False


def size(result: object) -> int:
    """Bytes of the compact UTF-8 JSON of C{result}."""
    return len(compact(result))


@dataclass
class _Pass:
    ref: str
    heavyField: int
    heavy: bool
    items: int | None
    chars: int | None
    omitted: dict[str, int] = field(default_factory=dict)
    marker: bool = True
    """End a cut array with a text item saying how many were left out (not
    in C{structuredContent}: the item would break its schema's C{items})."""


def _cutString(text: str, path: str, p: _Pass) -> str:
    if p.chars is None or len(text) <= p.chars:
        return text
    p.omitted[path] = len(text) - p.chars
    return (
        f"{text[: p.chars]}…[cut: showing {p.chars} of {len(text)} characters; "
        f"get_result ref={p.ref}]"
    )


def _estimate(value: object) -> int:
    """About the bytes of C{value}'s JSON (a string's characters, cheaply)."""
    if isinstance(value, str):
        return len(value) + 2
    if value is None or isinstance(value, (bool, int, float)):
        return len(str(value))
    return size(value)


def _shrink(value: Any, path: str, p: _Pass) -> Any:
    if isinstance(value, str):
        return _cutString(value, path, p)
    if isinstance(value, dict):
        return {key: _shrink(item, f"{path}.{key}", p) for key, item in value.items()}
    if not isinstance(value, list):
        return value
    items = value
    if p.heavy and len(items) > 1 and all(isinstance(item, dict) for item in items):
        totals: dict[str, int] = {}
        for item in items:
            for key, inner in item.items():
                totals[key] = totals.get(key, 0) + _estimate(inner)
        heavy = {
            key
            for key, total in totals.items()
            if key not in KEPT_FIELDS and total / len(items) > p.heavyField
        }
        if heavy:
            for key in heavy:
                p.omitted[f"{path}.*.{key}"] = sum(1 for item in items if key in item)
            items = [{k: v for k, v in item.items() if k not in heavy} for item in items]
    more = 0
    if p.items is not None and len(items) > p.items:
        more = len(items) - p.items
        items = items[: p.items]
        p.omitted[path] = more
    shrunk = [_shrink(item, f"{path}.{i}", p) for i, item in enumerate(items)]
    if more and p.marker:
        shrunk.append(f"… {more} more items (get_result ref={p.ref})")
    return shrunk


def _decoded(text: str) -> Any:
    if text.lstrip()[:1] not in ("[", "{"):
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, (list, dict)) else None


def _marker(item: Mapping[str, Any], data: object, path: str, p: _Pass) -> dict[str, Any]:
    p.omitted[path] = 1
    kind = str(item.get("type", "blob"))
    mime = item.get("mimeType")
    length = len(data) if isinstance(data, str) else 0
    return {
        "type": "text",
        "text": (
            f"[{kind} omitted: {length} characters of base64"
            f"{f' ({mime})' if isinstance(mime, str) else ''}; "
            f"get_result ref={p.ref} path={path}]"
        ),
    }


def _content(item: Any, i: int, p: _Pass) -> Any:
    path = f"content.{i}"
    if not isinstance(item, dict):
        return _shrink(item, path, p)
    kind = item.get("type")
    if kind == "text" and isinstance(item.get("text"), str):
        text = item["text"]
        parsed = _decoded(text)
        if parsed is not None:
            before = len(p.omitted)
            shrunk = _shrink(parsed, f"{path}.text", p)
            if len(p.omitted) == before:
                return item
            return {**item, "text": json.dumps(shrunk, separators=(",", ":"), ensure_ascii=False)}
        return {**item, "text": _cutString(text, f"{path}.text", p)}
    if kind in ("image", "audio") and "data" in item:
        return _marker(item, item["data"], f"{path}.data", p)
    resource = item.get("resource")
    if kind == "resource" and isinstance(resource, dict):
        if "blob" in resource:
            marker = _marker(resource, resource["blob"], f"{path}.resource.blob", p)
            uri = resource.get("uri")
            if isinstance(uri, str):
                marker["text"] = marker["text"][:-1] + f" uri={uri}]"
            return marker
        if isinstance(resource.get("text"), str):
            return {
                **item,
                "resource": {
                    **resource,
                    "text": _cutString(resource["text"], f"{path}.resource.text", p),
                },
            }
    return _shrink(item, path, p)


def _note(budget: int, total: int, ref: str, omitted: Mapping[str, int], structured: str) -> str:
    named = [f"{path[:120]} ({count})" for path, count in list(omitted.items())[:NOTE_ENTRIES]]
    if len(omitted) > NOTE_ENTRIES:
        named.append(f"{len(omitted) - NOTE_ENTRIES} more")
    text = (
        f"[mcpgateway: this result was {total} bytes, over the {budget} allowed, so it was "
        f"shortened; left out: {', '.join(named) or 'nothing'}. Call get_result with "
        f'ref="{ref}" (optionally path, offset, limit, fields or query) to read the rest.]'
    )
    return f"{text}\n{structured}" if structured else text


def _assemble(
    result: Mapping[str, Any],
    content: list[Any],
    structured: tuple[bool, Any],
    note: str,
    meta: dict[str, Any],
    drop: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    out = {key: value for key, value in result.items() if key not in drop}
    out["content"] = [*content, {"type": "text", "text": note}]
    present, value = structured
    if present:
        out["structuredContent"] = value
    old = result.get("_meta")
    out["_meta"] = {**(old if isinstance(old, dict) and "_meta" not in drop else {}), META: meta}
    return out


def shield(
    result: dict[str, Any],
    spec: ShieldSpec,
    ref: str,
    structuredValid: StructuredValid | None = None,
) -> Shielded:
    """C{result}, shrunk to C{spec.budget} bytes if it is over them,
    pointing the model at C{ref} for the rest.

    @param structuredValid: checks a shrunk C{structuredContent} against
        the tool's C{outputSchema}; without it C{structuredContent} is
        never shrunk.
    """
    total = size(result)
    if total <= spec.budget:
        return Shielded(result, None)
    content = result.get("content")
    items = content if isinstance(content, list) else []
    hasStructured = "structuredContent" in result
    original = result.get("structuredContent")

    passes: list[tuple[bool, int | None, int | None]] = [
        (True, None, None),
        (True, spec.maxItems, None),
        (True, spec.maxItems, spec.maxString),
    ]
    limitItems, limitChars = spec.maxItems, spec.maxString
    while limitItems > MIN_ITEMS or limitChars > MIN_STRING:
        limitItems = max(MIN_ITEMS, min(limitItems, limitItems // 2))
        limitChars = max(MIN_STRING, min(limitChars, limitChars // 2))
        passes.append((True, limitItems, limitChars))

    out: dict[str, Any] = result
    omitted: dict[str, int] = {}
    kept = False
    for heavy, maxItems, maxChars in passes:
        p = _Pass(ref, spec.heavyField, heavy, maxItems, maxChars)
        shrunk = [_content(item, i, p) for i, item in enumerate(items)]
        structured, kept, why = _structured(hasStructured, original, p, structuredValid)
        out = _assemble(
            result,
            shrunk,
            structured,
            _note(spec.budget, total, ref, p.omitted, why),
            {"ref": ref, "omitted": dict(list(p.omitted.items())[:META_ENTRIES])},
        )
        omitted = p.omitted
        if _measure(out, kept) <= spec.budget:
            break
    else:
        if hasStructured and not kept and out.get("structuredContent") is original:
            kept, why = True, "structuredContent left whole: nothing in it could be shortened."
        cut, cutOmitted = _hardCut(result, out, omitted, spec.budget, total, ref, kept, why)
        if hasStructured and not kept and size(cut) > spec.budget:
            # Its shortest valid form alone is over the budget: send it whole
            # (still valid against the schema) and shrink the rest to fit.
            kept = True
            why = "structuredContent left whole: even shortened it does not fit the budget."
            cut, cutOmitted = _hardCut(
                result,
                {**out, "structuredContent": original},
                omitted,
                spec.budget,
                total,
                ref,
                kept,
                why,
            )
        out, omitted = cut, cutOmitted
    if size(out) >= total:
        return Shielded(result, None, {}, hasStructured)
    return Shielded(out, ref, omitted, kept and hasStructured)


def _measure(out: Mapping[str, Any], kept: bool) -> int:
    """The bytes of C{out} the budget applies to: all of them, but for a
    C{structuredContent} left whole (the rest is shrunk to the budget)."""
    if kept and "structuredContent" in out:
        return size({key: value for key, value in out.items() if key != "structuredContent"})
    return size(out)


def _structured(
    present: bool, original: Any, p: _Pass, structuredValid: StructuredValid | None
) -> tuple[tuple[bool, Any], bool, str]:
    """The structuredContent to send, whether it is the whole original,
    and the note's line about it."""
    if not present:
        return (False, None), False, ""
    if structuredValid is None:
        return (
            (True, original),
            True,
            "structuredContent left whole: it cannot be checked against the tool's "
            "outputSchema here, and shortening it could break it.",
        )
    mine = _Pass(p.ref, p.heavyField, p.heavy, p.items, p.chars, marker=False)
    shrunk = _shrink(original, "structuredContent", mine)
    if not mine.omitted:
        return (True, original), False, ""
    if structuredValid(shrunk) is True:
        p.omitted.update(mine.omitted)
        return (True, shrunk), False, ""
    return (
        (True, original),
        True,
        "structuredContent left whole: shortening it would break the tool's outputSchema.",
    )


def _hardCut(
    result: Mapping[str, Any],
    out: dict[str, Any],
    omitted: dict[str, int],
    budget: int,
    total: int,
    ref: str,
    kept: bool,
    why: str,
) -> tuple[dict[str, Any], dict[str, int]]:
    """Step 5: the content as one text cut to what fits; keys other than
    C{content}, C{isError} and C{structuredContent} dropped."""
    parts = []
    for item in out["content"][:-1]:
        if (
            isinstance(item, dict)
            and item.get("type") == "text"
            and isinstance(item.get("text"), str)
        ):
            parts.append(item["text"])
        else:
            parts.append(json.dumps(item, separators=(",", ":"), ensure_ascii=False))
    whole = "\n".join(parts)
    omitted = dict(omitted)
    drop = frozenset(
        key for key in result if key not in ("content", "isError", "structuredContent")
    )
    for key in sorted(drop):
        omitted[key] = 1
    structured = (True, out["structuredContent"]) if "structuredContent" in out else (False, None)

    def build(n: int) -> dict[str, Any]:
        cut = dict(omitted)
        text = whole
        if n < len(whole):
            cut["content"] = len(whole) - n
            text = (
                f"{whole[:n]}…[cut: showing {n} of {len(whole)} characters; get_result ref={ref}]"
            )
        meta = {"ref": ref, "omitted": dict(list(cut.items())[:3])}
        return _assemble(
            result,
            [{"type": "text", "text": text}],
            structured,
            _note(budget, total, ref, cut, why),
            meta,
            drop,
        )

    lo, hi = 0, min(len(whole), budget)
    if _measure(build(hi), kept) <= budget:
        lo = hi
    else:
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if _measure(build(mid), kept) <= budget:
                lo = mid
            else:
                hi = mid - 1
    final = build(lo)
    finalOmitted = dict(omitted)
    if lo < len(whole):
        finalOmitted["content"] = len(whole) - lo
    return final, finalOmitted

"""A learner's OpenAPI document is data, never an address: vet it before anything reads it.

Fuzzers and JSON Schema libraries follow every `$ref` they meet: an `http://` reference makes
the grading host fetch a URL, a `file://` or relative one opens a host file, and a reference
cycle loops forever. `vet_openapi_text()` parses the document and refuses it unless every
reference is local (`#/...`), resolves, and the references form no cycle; it also refuses the
keywords that rebase or fetch (`$id`, `$schema`, `externalValue`, ...) and bounds its own work
(values, depth, and the size the document would have with every reference expanded, which
stops "billion laughs" chains). Only a vetted document reaches a fuzzer.

Pure Python on purpose: no network, no files, nothing heavy imported. Problems are sentences
the grader wrote; they never quote the document (learner text must not reach feedback).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

MAX_TEXT_BYTES = 2_000_000
MAX_VALUES = 50_000  # every JSON value counts: objects, arrays and scalars
MAX_DEPTH = 64
MAX_EXPANDED_VALUES = 200_000
MAX_REF_HOPS = 32

# Keywords that give a document (or a part of it) an address, rebase the references inside
# it, or fetch something: JSON Schema libraries follow them, so none may appear as text.
ADDRESS_KEYWORDS = (
    "$id",
    "id",
    "$schema",
    "$anchor",
    "$dynamicAnchor",
    "$recursiveAnchor",
    "$dynamicRef",
    "$recursiveRef",
    "externalValue",
    "operationRef",
    "jsonSchemaDialect",
)

_END = object()
_SCHEME = re.compile(r"^[a-z][a-z0-9+.\-]*:")
_CANONICAL_INDEX = re.compile(r"^(0|[1-9][0-9]*)$")
_HOW_TO_FIX = (
    "Declare every schema inside the document (FastAPI does this for Pydantic models, under "
    "components/schemas) and refer to it with #/components/schemas/<Name>."
)


class RefError(ValueError):
    """A `$ref` that is not local, points at nothing, or starts a chain that never ends."""


@dataclass(frozen=True)
class Vetting:
    """The outcome of vetting: the parsed document when it is safe to read, else problems."""

    document: dict[str, Any] | None
    problems: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.document is not None and not self.problems

    def message(self) -> str:
        return " ".join(self.problems)


def vet_openapi_text(
    text: str | bytes,
    *,
    max_bytes: int = MAX_TEXT_BYTES,
    max_values: int = MAX_VALUES,
    max_depth: int = MAX_DEPTH,
    max_expanded: int = MAX_EXPANDED_VALUES,
) -> Vetting:
    """Parse a learner's /openapi.json (strict JSON) and vet it; see `vet_openapi_document`."""
    size = len(text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text)
    if size > max_bytes:
        return Vetting(None, (f"The OpenAPI document is larger than {max_bytes:,} bytes.",))
    try:
        document = json.loads(text, parse_constant=_refuse_constant)
    except (ValueError, RecursionError):  # RecursionError: nesting too deep for the parser
        return Vetting(None, ("The OpenAPI document is not valid JSON.",))
    return vet_openapi_document(
        document, max_values=max_values, max_depth=max_depth, max_expanded=max_expanded
    )


def _refuse_constant(token: str) -> Any:
    raise ValueError("NaN and Infinity are not JSON")


def vet_openapi_document(
    document: object,
    *,
    max_values: int = MAX_VALUES,
    max_depth: int = MAX_DEPTH,
    max_expanded: int = MAX_EXPANDED_VALUES,
) -> Vetting:
    """Vet a parsed OpenAPI document; `ok` only if nothing in it is an address or a loop."""
    if not isinstance(document, dict):
        return Vetting(None, ("The OpenAPI document is not a JSON object.",))
    refs: list[dict[str, Any]] = []
    keywords = False
    for count, (node, depth) in enumerate(_values(document), start=1):
        if count > max_values:
            return Vetting(None, (f"The OpenAPI document has more than {max_values:,} values.",))
        if depth > max_depth:
            return Vetting(None, (f"The OpenAPI document nests deeper than {max_depth} levels.",))
        if isinstance(node, dict):
            if "$ref" in node:
                refs.append(node)
            keywords = keywords or any(isinstance(node.get(k), str) for k in ADDRESS_KEYWORDS)
    problems = _reference_problems(document, refs)
    if keywords:
        problems.append(
            "The OpenAPI document uses keywords that give schemas an address or fetch "
            f"something ({', '.join(ADDRESS_KEYWORDS)}); ServeLab does not follow them: remove "
            "them."
        )
    if problems:
        return Vetting(None, tuple(problems))
    cycle, expanded = _expanded_size(document, max_expanded)
    if cycle:
        return Vetting(
            None,
            (
                "The OpenAPI document's $ref references form a cycle (a schema that contains "
                "itself, directly or through others), which a fuzzer cannot expand. Use request "
                "and response models that do not refer to themselves.",
            ),
        )
    if expanded > max_expanded:
        return Vetting(
            None,
            (
                f"With its $ref references expanded, the OpenAPI document would have more than "
                f"{max_expanded:,} values (references that repeat references). Refer to each "
                "schema directly.",
            ),
        )
    return Vetting(document)


def _values(document: object) -> Iterator[tuple[object, int]]:
    """Every value of the document with its depth, without recursion (depth is attacker-set)."""
    stack: list[tuple[object, int]] = [(document, 0)]
    while stack:
        node, depth = stack.pop()
        yield node, depth
        if isinstance(node, dict):
            stack.extend((child, depth + 1) for child in node.values())
        elif isinstance(node, list):
            stack.extend((child, depth + 1) for child in node)


def _reference_problems(document: dict[str, Any], refs: list[dict[str, Any]]) -> list[str]:
    outside: set[str] = set()
    not_text = unresolved = not_object = 0
    for node in refs:
        ref = node["$ref"]
        if not isinstance(ref, str):
            not_text += 1
            continue
        kind = _outside_kind(ref)
        if kind is not None:
            outside.add(kind)
            continue
        try:
            target = resolve_local_ref(document, ref)
        except RefError:
            unresolved += 1
            continue
        not_object += not isinstance(target, dict)
    problems = []
    if outside:
        problems.append(
            f"The OpenAPI document has $ref references to {' and '.join(sorted(outside))}. "
            "ServeLab follows only references inside the document (starting with #/); it "
            f"fetched and opened nothing. {_HOW_TO_FIX}"
        )
    if not_text:
        problems.append(f"The OpenAPI document has {_count(not_text)} whose value is not text.")
    if unresolved:
        problems.append(
            f"The OpenAPI document has {_count(unresolved)} starting with #/ that point at "
            f"nothing in the document. {_HOW_TO_FIX}"
        )
    if not_object:
        problems.append(
            f"The OpenAPI document has {_count(not_object)} that point at a value that is not "
            "an object (a schema is an object)."
        )
    return problems


def _count(n: int) -> str:
    return "one $ref" if n == 1 else f"{n:,} $ref values"


def _outside_kind(ref: str) -> str | None:
    """None for a local JSON pointer reference, else what else it names (grader words)."""
    if ref.startswith("#/") and "%" not in ref:
        return None
    lowered = ref.strip().lower()
    if lowered.startswith(("http:", "https:", "//")):
        return "web addresses (http:// or https://)"
    if lowered.startswith("file:"):
        return "files (file://)"
    if lowered.startswith("#"):
        return "anchors or escaped pointers (only plain #/ pointers are followed)"
    if _SCHEME.match(lowered):
        return "other addresses (such as urn:)"
    return "relative files"


def resolve_local_ref(document: object, ref: str) -> object:
    """The value a local `#/...` reference points at; RefError for anything else."""
    if not isinstance(ref, str) or _outside_kind(ref) is not None:
        raise RefError("only plain local references (#/...) are followed")
    node = document
    for raw in ref[2:].split("/"):
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, dict) and token in node:
            node = node[token]
        elif isinstance(node, list) and _CANONICAL_INDEX.match(token) and int(token) < len(node):
            node = node[int(token)]
        else:
            raise RefError("the reference points at nothing in the document")
    return node


def dereference(document: object, node: object, *, max_hops: int = MAX_REF_HOPS) -> object:
    """Follow `node` while it is a `{"$ref": ...}` object, at most `max_hops` times."""
    for _ in range(max_hops):
        if not isinstance(node, dict) or "$ref" not in node:
            return node
        node = resolve_local_ref(document, node["$ref"])
    if isinstance(node, dict) and "$ref" in node:
        raise RefError(f"more than {max_hops} references in a row (a cycle?)")
    return node


def _expanded_size(document: dict[str, Any], cap: int) -> tuple[bool, int]:
    """(a reference cycle exists, values with every reference expanded, capped at cap + 1).

    A depth-first walk over objects and arrays whose edges are their children plus, for a
    `$ref` object, its target. Run only after every reference is known to resolve locally.
    """
    on_path, done = 1, 2
    size: dict[int, int] = {}
    state: dict[int, int] = {}
    stack: list[tuple[object, Iterator[object]]] = [(document, _successors(document, document))]
    state[id(document)] = on_path
    totals: dict[int, int] = {id(document): 1}
    while stack:
        node, successors = stack[-1]
        child = next(successors, _END)
        if child is _END:
            stack.pop()
            state[id(node)] = done
            size[id(node)] = min(totals.pop(id(node)), cap + 1)
            if stack:
                parent = id(stack[-1][0])
                totals[parent] = min(totals[parent] + size[id(node)], cap + 1)
            continue
        if not isinstance(child, dict | list):
            totals[id(node)] = min(totals[id(node)] + 1, cap + 1)
            continue
        seen = state.get(id(child))
        if seen == on_path:
            return True, 0
        if seen == done:
            totals[id(node)] = min(totals[id(node)] + size[id(child)], cap + 1)
            continue
        state[id(child)] = on_path
        totals[id(child)] = 1
        stack.append((child, _successors(document, child)))
    return False, size[id(document)]


def _successors(document: dict[str, Any], node: object) -> Iterator[object]:
    if isinstance(node, dict):
        yield from node.values()
        if isinstance(node.get("$ref"), str):
            yield resolve_local_ref(document, node["$ref"])
    elif isinstance(node, list):
        yield from node

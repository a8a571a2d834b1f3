"""JSON Schema → the OpenAPI 3.0 subset that Gemini's `Schema` object accepts. Pure.

Gemini rejects most of JSON Schema: `$ref`/`$defs`, `additionalProperties`, `strict`, `const`, type
arrays, `oneOf`/`allOf`, non-string enums, unknown formats, and schemas nested too deeply. This module
rewrites a schema into the accepted subset, keeping as much meaning as it can:

- `$ref` (local JSON pointers) is inlined; a recursive reference is cut at the second visit.
- `allOf` members are merged; `oneOf` becomes `anyOf`; `anyOf`/type arrays with `null` become
  `nullable: true`; `const` becomes a one-value `enum`.
- enums on non-string types are not allowed, so their values move into the description.
- containers (OBJECT/ARRAY) deeper than `max_depth` become a STRING holding JSON, described as such.
- every keyword outside the accepted subset is dropped; `title` is used as the description when
  there is none.
"""

from __future__ import annotations

from typing import Any

import orjson

# Nesting of OBJECT/ARRAY levels Gemini is known to accept. Google does not document the limit; this
# is the depth reported to work where deeper schemas were refused (tune here if it changes).
MAX_DEPTH = 4

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "object": "OBJECT",
    "array": "ARRAY",
}
_FORMATS = {"STRING": {"enum", "date-time"}, "NUMBER": {"float", "double"}, "INTEGER": {"int32", "int64"}}
_COPY = (
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minProperties",
    "maxProperties",
)
_DEEP_NOTE = "A JSON-encoded value (its schema is nested too deeply to declare here)."


def to_gemini_schema(schema: Any, *, ordering: bool = False, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """Convert `schema`. `ordering` adds `propertyOrdering` (declaration order) to objects, which
    Gemini honours for `responseSchema` only."""
    if not isinstance(schema, dict):
        return {}
    return _Converter(schema, ordering, max_depth).convert(schema, 0, ())


class _Converter:
    def __init__(self, root: dict[str, Any], ordering: bool, max_depth: int) -> None:
        self.root = root
        self.ordering = ordering
        self.max_depth = max_depth

    def resolve(self, ref: Any) -> dict[str, Any] | None:
        if not isinstance(ref, str) or not ref.startswith("#"):
            return None
        node: Any = self.root
        for raw in ref[1:].split("/")[1:] if ref != "#" else []:
            key = raw.replace("~1", "/").replace("~0", "~")
            if isinstance(node, dict) and key in node:
                node = node[key]
            elif isinstance(node, list) and key.isdigit() and int(key) < len(node):
                node = node[int(key)]
            else:
                return None
        return node if isinstance(node, dict) else None

    def deref(self, node: dict[str, Any], refs: tuple[str, ...]) -> tuple[dict[str, Any], tuple[str, ...]]:
        """Inline `$ref` chains; siblings of `$ref` override the target. Returns {} with a marker on
        a cycle or an unresolvable reference."""
        while "$ref" in node:
            ref = node["$ref"]
            target = self.resolve(ref)
            siblings = {k: v for k, v in node.items() if k != "$ref"}
            if target is None or ref in refs:
                return {"description": siblings.get("description") or _title(siblings), "$cut": True}, refs
            refs = (*refs, ref)
            node = {**target, **siblings}
        return node, refs

    def convert(self, node: Any, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(node, dict):
            return {}  # `true` / `{}`: any value
        node, refs = self.deref(node, refs)
        if node.get("$cut"):
            return _deep(node.get("description"), False)
        if isinstance(node.get("allOf"), list):
            node = self.merge_all_of(node, refs)
        variants = node.get("anyOf", node.get("oneOf"))
        if isinstance(variants, list):
            return self.union(node, variants, depth, refs)
        typ = node.get("type")
        if isinstance(typ, list):
            return self.type_list(node, typ, depth, refs)
        return self.single(node, typ, depth, refs)

    def merge_all_of(self, node: dict[str, Any], refs: tuple[str, ...]) -> dict[str, Any]:
        merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
        props: dict[str, Any] = dict(merged.get("properties") or {})
        required: list[str] = list(merged.get("required") or [])
        for member in node["allOf"]:
            if not isinstance(member, dict):
                continue
            member, _ = self.deref(member, refs)
            if isinstance(member.get("allOf"), list):
                member = self.merge_all_of(member, refs)
            props.update(member.get("properties") or {})
            required += [r for r in member.get("required") or [] if r not in required]
            for key, value in member.items():
                merged.setdefault(key, value)
        if props:
            merged["properties"], merged["required"] = props, required
        return merged

    def union(
        self, node: dict[str, Any], variants: list[Any], depth: int, refs: tuple[str, ...]
    ) -> dict[str, Any]:
        nullable = any(_is_null(v) for v in variants)
        rest = [v for v in variants if not _is_null(v)]
        description = node.get("description") or _title(node)
        if len(rest) == 1:
            out = self.convert(rest[0], depth, refs)
        elif not rest:
            out = {"type": "STRING"}
        else:
            branches = [self.convert(v, depth, refs) for v in rest]
            out = {"anyOf": [b for b in branches if b] or [{"type": "STRING"}]}
        if description:
            out["description"] = description
        if nullable or node.get("nullable") is True:
            out["nullable"] = True
        return out

    def type_list(
        self, node: dict[str, Any], types: list[Any], depth: int, refs: tuple[str, ...]
    ) -> dict[str, Any]:
        named = [t for t in types if t != "null"]
        variants: list[Any] = [{**node, "type": t} for t in named]
        variants += [{"type": "null"}] if len(named) < len(types) else []
        if len(named) > 1:  # the description belongs on the union, not on every branch
            variants = [{k: v for k, v in b.items() if k not in ("description", "title")} for b in variants]
        base = {k: v for k, v in node.items() if k in ("description", "title", "nullable")}
        return self.union(base, variants, depth, refs)

    def single(self, node: dict[str, Any], typ: Any, depth: int, refs: tuple[str, ...]) -> dict[str, Any]:
        gtype = _TYPES.get(typ) if isinstance(typ, str) else None
        nullable = typ == "null" or node.get("nullable") is True
        if gtype is None and typ != "null":
            gtype = _infer(node)
        description = node.get("description") or _title(node)
        if gtype in ("OBJECT", "ARRAY") and depth >= self.max_depth:
            return _deep(description, nullable)
        out: dict[str, Any] = {"type": gtype} if gtype else {}
        if typ == "null" and not gtype:
            out["type"] = "STRING"
        values = [node["const"]] if "const" in node else node.get("enum")
        if isinstance(values, list):
            description = self.enum(out, values, description)
            nullable = nullable or None in values
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS.get(out.get("type", ""), ()):
            out["format"] = fmt
        if description:
            out["description"] = description
        if nullable:
            out["nullable"] = True
        for key in _COPY:
            if isinstance(node.get(key), int | float) and not isinstance(node.get(key), bool):
                out[key] = node[key]
        if out.get("type") == "STRING" and isinstance(node.get("pattern"), str):
            out["pattern"] = node["pattern"]
        if gtype == "OBJECT":
            self.object(node, out, depth, refs)
        elif gtype == "ARRAY":
            items = node.get("items", node.get("prefixItems"))
            if isinstance(items, list):  # tuple form: any of the positional schemas
                items = {"anyOf": items} if len(items) != 1 else items[0]
            out["items"] = self.convert(items, depth + 1, refs) if isinstance(items, dict) else {}
            out["items"] = out["items"] or {"type": "STRING"}
        return out

    def enum(self, out: dict[str, Any], values: list[Any], description: str | None) -> str | None:
        values = [v for v in values if v is not None]
        if out.get("type") in (None, "OBJECT", "ARRAY"):
            out["type"] = _scalar_type(values)
        if out["type"] == "STRING":  # Gemini takes string enums only
            if values:
                out["enum"] = [v if isinstance(v, str) else orjson.dumps(v).decode() for v in values]
            return description
        allowed = "Allowed values: " + ", ".join(orjson.dumps(v).decode() for v in values) + "."
        return f"{description} {allowed}" if description else allowed

    def object(self, node: dict[str, Any], out: dict[str, Any], depth: int, refs: tuple[str, ...]) -> None:
        props = node.get("properties")
        if not isinstance(props, dict):
            return
        out["properties"] = {str(k): self.convert(v, depth + 1, refs) for k, v in props.items()}
        required = [r for r in node.get("required") or [] if r in out["properties"]]
        if required:
            out["required"] = required
        if self.ordering and len(out["properties"]) > 1:
            out["propertyOrdering"] = list(out["properties"])


def _is_null(schema: Any) -> bool:
    return isinstance(schema, dict) and schema.get("type") == "null" and len(schema) == 1


def _title(node: dict[str, Any]) -> str | None:
    title = node.get("title")
    return title if isinstance(title, str) and title else None


def _scalar_type(values: list[Any]) -> str:
    if values and all(isinstance(v, bool) for v in values):
        return "BOOLEAN"
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return "INTEGER"
    if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
        return "NUMBER"
    return "STRING"  # strings, or a mix: strings are the one common form


def _infer(node: dict[str, Any]) -> str | None:
    if "properties" in node:
        return "OBJECT"
    if "items" in node or "prefixItems" in node:
        return "ARRAY"
    return None


def _deep(description: str | None, nullable: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "type": "STRING",
        "description": f"{description} ({_DEEP_NOTE})" if description else _DEEP_NOTE,
    }
    if nullable:
        out["nullable"] = True
    return out

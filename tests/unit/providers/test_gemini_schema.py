"""JSON Schema → Gemini Schema subset."""

from __future__ import annotations

from switchyard.providers.gemini.schema import to_gemini_schema

ALLOWED = {
    "type", "format", "description", "nullable", "enum", "items", "properties", "required",
    "minItems", "maxItems", "minimum", "maximum", "minLength", "maxLength", "pattern",
    "minProperties", "maxProperties", "anyOf", "propertyOrdering",
}  # fmt: skip


def keys(schema: dict) -> set[str]:
    """Every keyword used anywhere in a converted schema (property names excluded)."""
    found = set(schema)
    for key, value in schema.items():
        if key == "properties":
            for sub in value.values():
                found |= keys(sub)
        elif key == "items":
            found |= keys(value)
        elif key == "anyOf":
            for sub in value:
                found |= keys(sub)
    return found


def depth(schema: dict) -> int:
    """OBJECT/ARRAY nesting levels."""
    own = 1 if schema.get("type") in ("OBJECT", "ARRAY") else 0
    subs = [
        *list((schema.get("properties") or {}).values()),
        schema.get("items") or {},
        *schema.get("anyOf", []),
    ]
    return own + max((depth(s) for s in subs if s), default=0)


def test_basic_types_uppercase_and_unknown_keywords_dropped():
    out = to_gemini_schema(
        {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "type": "object",
            "title": "Weather",
            "additionalProperties": False,
            "strict": True,
            "properties": {
                "city": {"type": "string", "description": "City", "minLength": 1, "examples": ["Oslo"]},
                "days": {"type": "integer", "minimum": 1, "maximum": 7, "default": 3},
                "ratio": {"type": "number", "exclusiveMinimum": 0},
                "ok": {"type": "boolean"},
            },
            "required": ["city", "ghost"],
        }
    )
    assert out == {
        "type": "OBJECT",
        "description": "Weather",
        "properties": {
            "city": {"type": "STRING", "description": "City", "minLength": 1},
            "days": {"type": "INTEGER", "minimum": 1, "maximum": 7},
            "ratio": {"type": "NUMBER"},
            "ok": {"type": "BOOLEAN"},
        },
        "required": ["city"],
    }


def test_refs_and_defs_are_inlined():
    schema = {
        "$defs": {
            "Address": {
                "type": "object",
                "properties": {"street": {"type": "string"}, "zip": {"$ref": "#/$defs/Zip"}},
                "required": ["street"],
                "additionalProperties": False,
            },
            "Zip": {"type": "string", "pattern": "^[0-9]{5}$"},
        },
        "definitions": {"Legacy": {"type": "integer"}},
        "type": "object",
        "properties": {
            "home": {"$ref": "#/$defs/Address", "description": "Where they live"},
            "n": {"$ref": "#/definitions/Legacy"},
        },
    }
    out = to_gemini_schema(schema)
    assert out["properties"]["home"] == {
        "type": "OBJECT",
        "description": "Where they live",
        "properties": {"street": {"type": "STRING"}, "zip": {"type": "STRING", "pattern": "^[0-9]{5}$"}},
        "required": ["street"],
    }
    assert out["properties"]["n"] == {"type": "INTEGER"}
    assert keys(out) <= ALLOWED


def test_recursive_ref_is_cut_not_unrolled_forever():
    schema = {
        "$defs": {
            "Node": {
                "type": "object",
                "properties": {
                    "value": {"type": "string"},
                    "children": {"type": "array", "items": {"$ref": "#/$defs/Node"}},
                },
            }
        },
        "$ref": "#/$defs/Node",
    }
    out = to_gemini_schema(schema)
    children = out["properties"]["children"]
    assert children["type"] == "ARRAY"
    assert children["items"]["type"] == "STRING"
    assert "JSON" in children["items"]["description"]
    assert keys(out) <= ALLOWED


def test_unresolvable_ref_becomes_json_string():
    out = to_gemini_schema({"type": "object", "properties": {"x": {"$ref": "https://example.com/x.json"}}})
    assert out["properties"]["x"]["type"] == "STRING"


def test_anyof_with_null_becomes_nullable():
    out = to_gemini_schema(
        {
            "type": "object",
            "properties": {
                "nick": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None, "title": "Nick"},
                "age": {"type": ["integer", "null"], "description": "Years"},
                "both": {"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "null"}]},
            },
        }
    )
    props = out["properties"]
    assert props["nick"] == {"type": "STRING", "nullable": True, "description": "Nick"}
    assert props["age"] == {"type": "INTEGER", "description": "Years", "nullable": True}
    assert props["both"] == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}], "nullable": True}


def test_anyof_ref_with_null_keeps_outer_description():
    out = to_gemini_schema(
        {
            "$defs": {
                "Pet": {"type": "object", "description": "A pet", "properties": {"name": {"type": "string"}}}
            },
            "type": "object",
            "properties": {
                "pet": {"anyOf": [{"$ref": "#/$defs/Pet"}, {"type": "null"}], "description": "Optional"}
            },
        }
    )
    pet = out["properties"]["pet"]
    assert pet["type"] == "OBJECT" and pet["nullable"] is True and pet["description"] == "Optional"
    assert pet["properties"] == {"name": {"type": "STRING"}}


def test_type_array_with_several_types_becomes_anyof():
    out = to_gemini_schema({"type": ["string", "number"], "description": "id"})
    assert out == {"anyOf": [{"type": "STRING"}, {"type": "NUMBER"}], "description": "id"}


def test_const_and_enums():
    out = to_gemini_schema(
        {
            "type": "object",
            "properties": {
                "kind": {"const": "circle"},
                "color": {"type": "string", "enum": ["red", "green", None]},
                "level": {"type": "integer", "enum": [1, 2, 3], "description": "Level"},
                "mixed": {"enum": ["a", 1]},
                "flag": {"enum": [True, False]},
            },
        }
    )
    props = out["properties"]
    assert props["kind"] == {"type": "STRING", "enum": ["circle"]}
    assert props["color"] == {"type": "STRING", "enum": ["red", "green"], "nullable": True}
    assert props["level"] == {"type": "INTEGER", "description": "Level Allowed values: 1, 2, 3."}
    assert props["mixed"] == {"type": "STRING", "enum": ["a", "1"]}
    assert props["flag"]["type"] == "BOOLEAN" and "enum" not in props["flag"]


def test_allof_is_merged():
    out = to_gemini_schema(
        {
            "$defs": {
                "Base": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]}
            },
            "allOf": [
                {"$ref": "#/$defs/Base"},
                {"type": "object", "properties": {"name": {"type": "string"}}, "required": ["name"]},
            ],
        }
    )
    assert out == {
        "type": "OBJECT",
        "properties": {"id": {"type": "STRING"}, "name": {"type": "STRING"}},
        "required": ["id", "name"],
    }


def test_formats_filtered_by_type():
    out = to_gemini_schema(
        {
            "type": "object",
            "properties": {
                "when": {"type": "string", "format": "date-time"},
                "id": {"type": "string", "format": "uuid"},
                "n": {"type": "integer", "format": "int64"},
                "x": {"type": "number", "format": "int32"},
            },
        }
    )
    props = out["properties"]
    assert props["when"] == {"type": "STRING", "format": "date-time"}
    assert props["id"] == {"type": "STRING"}
    assert props["n"] == {"type": "INTEGER", "format": "int64"}
    assert props["x"] == {"type": "NUMBER"}


def test_arrays_items_tuples_and_missing_items():
    out = to_gemini_schema(
        {
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
                "pair": {"type": "array", "prefixItems": [{"type": "string"}, {"type": "integer"}]},
                "any": {"type": "array"},
            },
        }
    )
    props = out["properties"]
    assert props["tags"] == {"type": "ARRAY", "items": {"type": "STRING"}, "minItems": 1}
    assert props["pair"]["items"] == {"anyOf": [{"type": "STRING"}, {"type": "INTEGER"}]}
    assert props["any"]["items"] == {"type": "STRING"}


def test_type_inferred_from_shape():
    out = to_gemini_schema({"properties": {"a": {"items": {"type": "string"}}}})
    assert out == {"type": "OBJECT", "properties": {"a": {"type": "ARRAY", "items": {"type": "STRING"}}}}


def test_deep_nesting_is_flattened_to_json_string():
    leaf: dict = {"type": "object", "properties": {"v": {"type": "string"}}}
    schema = leaf
    for _ in range(8):
        schema = {"type": "object", "properties": {"a": {"type": "array", "items": schema}}}
    out = to_gemini_schema(schema)
    assert depth(out) <= 4
    node = out
    while node.get("type") in ("OBJECT", "ARRAY"):
        node = node["properties"]["a"] if node["type"] == "OBJECT" else node["items"]
    assert node["type"] == "STRING" and "JSON" in node["description"]
    assert depth(to_gemini_schema(schema, max_depth=10)) == 10


def test_property_ordering_only_when_asked():
    schema = {"type": "object", "properties": {"b": {"type": "string"}, "a": {"type": "string"}}}
    assert "propertyOrdering" not in to_gemini_schema(schema)
    assert to_gemini_schema(schema, ordering=True)["propertyOrdering"] == ["b", "a"]


def test_non_dict_and_empty_inputs():
    assert to_gemini_schema(None) == {}
    assert to_gemini_schema({}) == {}
    out = to_gemini_schema({"type": "object", "properties": {"free": {}, "t": True}})
    assert out == {"type": "OBJECT", "properties": {"free": {}, "t": {}}}


def test_input_is_not_mutated():
    schema = {
        "$defs": {"A": {"type": "string"}},
        "type": "object",
        "properties": {"a": {"$ref": "#/$defs/A"}},
    }
    before = repr(schema)
    to_gemini_schema(schema)
    assert repr(schema) == before

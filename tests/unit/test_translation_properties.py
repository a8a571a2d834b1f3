"""Property tests: any valid OpenAI chat request survives every provider's `build_request`.

Hypothesis generates OpenAI chat bodies (system/developer/user/assistant/tool messages; string or
content-part lists with text and image_url parts, data: and https:; assistant tool_calls with JSON-object
arguments, each answered by tool messages; tools with random JSON-Schema-ish parameters; optional
temperature/top_p/max_tokens/stop/tool_choice). For every provider:

- `build_request` raises nothing but `UpstreamError(kind="bad_request")`, and only for what the provider
  documents as unsupported: https images on Bedrock (the message must say so), and, on Anthropic and
  Converse, a conversation with nothing to send;
- otherwise the body is valid JSON, and nothing is dropped: every non-blank text is contained in some
  text of the output, every image, tool definition, tool call (name + arguments) and tool result
  (bound to its call) is there, counted on both sides; the sampling parameters are carried.

Two Anthropic request-validity bugs found on the way (tool-id pattern, blank text) are pinned by the last tests.
"""

from __future__ import annotations

import base64
import json
import re
import string
from dataclasses import dataclass, field
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.azure import AzureProvider
from switchyard.providers.base import Target, UpstreamError
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.gemini import GeminiProvider
from switchyard.providers.openai import OpenAIProvider

SETTINGS = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)

TARGETS = {
    "openai": (
        OpenAIProvider(),
        Target("openai", "gpt-4o", "openai", "https://api.openai.com/v1", api_key="k"),
    ),
    "azure": (
        AzureProvider(),
        Target("azure", "gpt-4o", "azure", "https://r.openai.azure.com", api_key="k", auth="api-key"),
    ),
    "anthropic": (
        AnthropicProvider(),
        Target(
            "anthropic",
            "claude-sonnet-4-5",
            "anthropic",
            "https://api.anthropic.com/v1",
            api_key="k",
            auth="x-api-key",
        ),
    ),
    "gemini": (
        GeminiProvider(clock=lambda: 0),
        Target(
            "google-ai-studio",
            "gemini-2.5-flash",
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta",
            api_key="k",
            auth="goog-api-key",
        ),
    ),
    "bedrock": (
        BedrockProvider(clock=lambda: 0),
        Target(
            "bedrock",
            "anthropic.claude-3-5-haiku-20241022-v1:0",
            "bedrock",
            "https://bedrock-runtime.{region}.amazonaws.com",
            api_key="AKID",
            config={"region": "us-east-1"},
        ),
    ),
}

# --- strategies ------------------------------------------------------------------------------------

ALNUM = string.ascii_letters + string.digits
texts = st.text(max_size=30)  # any Unicode (no lone surrogates), may be empty or blank
names = st.builds(
    lambda head, tail: head + tail,
    st.sampled_from(string.ascii_letters + "_"),
    st.text(alphabet=ALNUM + "_-", max_size=20),
)  # OpenAI's function-name pattern, first character a letter or `_` (Gemini's rule)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
json_objects = st.dictionaries(st.text(max_size=8), json_values, max_size=4)

IMAGE_MIMES = ["image/png", "image/jpeg", "image/gif", "image/webp"]


@st.composite
def image_parts(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        mime = draw(st.sampled_from(IMAGE_MIMES))
        data = base64.b64encode(draw(st.binary(min_size=1, max_size=24))).decode()
        url = f"data:{mime};base64,{data}"
    else:
        stem = draw(st.text(alphabet=ALNUM, min_size=1, max_size=10))
        url = f"https://images.example.com/{stem}.{draw(st.sampled_from(['png', 'jpg', 'webp']))}"
    image: dict[str, Any] = {"url": url}
    if draw(st.booleans()):
        image["detail"] = draw(st.sampled_from(["auto", "low", "high"]))
    return {"type": "image_url", "image_url": image}


text_parts = st.builds(lambda t: {"type": "text", "text": t}, texts)
text_content = texts | st.lists(text_parts, min_size=1, max_size=3)
user_content = texts | st.lists(text_parts | image_parts(), min_size=1, max_size=4)
tool_result_content = (
    texts
    | json_objects.map(json.dumps)
    | json_values.map(json.dumps)
    | st.lists(text_parts, min_size=1, max_size=2)
)

LEAF_SCHEMAS = st.sampled_from(
    [
        {"type": "string"},
        {"type": "integer", "minimum": 0},
        {"type": "number"},
        {"type": "boolean"},
        {"type": "string", "enum": ["a", "b", "c"]},
        {"type": ["string", "null"]},
        {"type": "string", "format": "date-time", "description": "when"},
    ]
)


def _object_schema(inner: st.SearchStrategy[dict[str, Any]]) -> st.SearchStrategy[dict[str, Any]]:
    @st.composite
    def build(draw: st.DrawFn) -> dict[str, Any]:
        props = draw(st.dictionaries(names, inner, max_size=4))
        schema: dict[str, Any] = {"type": "object", "properties": props}
        if props:
            schema["required"] = draw(
                st.lists(st.sampled_from(sorted(props)), unique=True, max_size=len(props))
            )
        if draw(st.booleans()):
            schema["additionalProperties"] = draw(st.booleans())
        if draw(st.booleans()):
            schema["description"] = draw(texts)
        return schema

    return build()


schemas = st.recursive(
    LEAF_SCHEMAS,
    lambda inner: (
        _object_schema(inner)
        | st.builds(lambda items: {"type": "array", "items": items}, inner)
        | st.builds(lambda a, b: {"anyOf": [a, b]}, inner, inner)
    ),
    max_leaves=6,
)


@st.composite
def tools_strategy(draw: st.DrawFn) -> list[dict[str, Any]]:
    tool_names = draw(st.lists(names, unique=True, max_size=3))
    tools = []
    for name in tool_names:
        fn: dict[str, Any] = {"name": name}
        if draw(st.booleans()):
            fn["description"] = draw(texts)
        if draw(st.integers(0, 4)):
            fn["parameters"] = draw(_object_schema(schemas))
        tools.append({"type": "function", "function": fn})
    return tools


@st.composite
def tool_call_ids(draw: st.DrawFn, n: int) -> str:
    """Ids as OpenAI (`call_…`), Anthropic (`toolu_…`) and others write them; unique through `n`."""
    prefix = draw(st.sampled_from(["call_", "toolu_", "call-", "", "fc_"]))
    return f"{prefix}{draw(st.text(alphabet=ALNUM, min_size=1, max_size=12))}{n}"


@st.composite
def requests(draw: st.DrawFn) -> dict[str, Any]:
    tools = draw(tools_strategy())
    tool_names = [t["function"]["name"] for t in tools]
    messages: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(0, 2))):
        messages.append(
            {"role": draw(st.sampled_from(["system", "developer"])), "content": draw(text_content)}
        )
    calls = 0
    for _ in range(draw(st.integers(1, 4))):
        messages.append({"role": "user", "content": draw(user_content)})
        if draw(st.booleans()) and draw(st.booleans()):  # a developer note between turns
            messages.append({"role": "developer", "content": draw(text_content)})
        kind = draw(st.sampled_from(["none", "text", "tools", "tools"]))
        if kind == "text":
            messages.append({"role": "assistant", "content": draw(text_content)})
        elif kind == "tools":
            batch = []
            for _ in range(draw(st.integers(1, 3))):
                calls += 1
                name = draw(st.sampled_from(tool_names)) if tool_names else draw(names)
                args = draw(json_objects)
                batch.append(
                    {
                        "id": draw(tool_call_ids(calls)),
                        "type": "function",
                        "function": {
                            "name": name,
                            "arguments": json.dumps(args, ensure_ascii=draw(st.booleans())),
                        },
                    }
                )
            assistant: dict[str, Any] = {"role": "assistant", "tool_calls": batch}
            assistant["content"] = draw(st.none() | text_content)
            messages.append(assistant)
            for call in draw(st.permutations(batch)):
                messages.append(
                    {"role": "tool", "tool_call_id": call["id"], "content": draw(tool_result_content)}
                )
            if draw(st.booleans()):  # the model's answer after the results
                messages.append({"role": "assistant", "content": draw(text_content)})
    body: dict[str, Any] = {"model": "m", "messages": messages}
    if tools:
        body["tools"] = tools
        choice = draw(st.sampled_from([None, "auto", "none", "required", "function"]))
        if choice == "function":
            body["tool_choice"] = {
                "type": "function",
                "function": {"name": draw(st.sampled_from(tool_names))},
            }
        elif choice is not None:
            body["tool_choice"] = choice
    if draw(st.booleans()):
        body["temperature"] = draw(st.floats(0, 2))
    if draw(st.booleans()):
        body["top_p"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        body[draw(st.sampled_from(["max_tokens", "max_completion_tokens"]))] = draw(st.integers(1, 8192))
    if draw(st.booleans()):
        body["stop"] = draw(
            st.text(min_size=1, max_size=5)
            | st.lists(st.text(min_size=1, max_size=5), min_size=1, max_size=4)
        )
    if draw(st.booleans()):
        body["stream"] = draw(st.booleans())
    return body


# --- what the caller sent ----------------------------------------------------------------------------


@dataclass
class Sent:
    texts: list[str] = field(default_factory=list)  # non-blank message texts (tool results excluded)
    images: list[str] = field(default_factory=list)  # urls
    calls: list[tuple[str, str, Any]] = field(default_factory=list)  # (id, name, parsed arguments)
    # (tool_call_id, whole text, the part texts when the content was a list of parts)
    results: list[tuple[str, str, list[str] | None]] = field(default_factory=list)
    tools: list[dict[str, Any]] = field(default_factory=list)  # function objects


def sent(body: dict[str, Any]) -> Sent:
    out = Sent(tools=[t["function"] for t in body.get("tools") or []])
    for m in body["messages"]:
        content = m.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if m["role"] == "tool":
            texts = None if isinstance(content, str) else [p["text"] for p in parts]
            out.results.append((m["tool_call_id"], "".join(texts) if texts is not None else content, texts))
            continue
        for p in parts:
            if p["type"] == "text" and p["text"].strip():
                out.texts.append(p["text"])
            elif p["type"] == "image_url":
                out.images.append(p["image_url"]["url"])
        for c in m.get("tool_calls") or []:
            out.calls.append((c["id"], c["function"]["name"], json.loads(c["function"]["arguments"])))
    return out


def has_https_image(body: dict[str, Any]) -> bool:
    return any(url.startswith("https:") for url in sent(body).images)


def nothing_to_send(provider: str, body: dict[str, Any]) -> bool:
    """No non-system message carries anything: Anthropic and Converse reject empty conversations
    (both also reject blank text, so whitespace counts as nothing there)."""

    def blank(text: str) -> bool:
        return not text.strip() if provider in ("bedrock", "anthropic") else not text

    for m in body["messages"]:
        if m["role"] in ("system", "developer"):
            continue
        if m["role"] == "tool" or m.get("tool_calls"):
            return False
        content = m.get("content")
        parts = [{"type": "text", "text": content}] if isinstance(content, str) else content or []
        if any(p["type"] != "text" or not blank(p["text"]) for p in parts):
            return False
    return True


# --- what reached the wire ---------------------------------------------------------------------------


@dataclass
class Wire:
    texts: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)  # normalised back to the caller's url
    calls: list[tuple[str | None, str, Any]] = field(default_factory=list)  # (wire id or None, name, args)
    results: list[tuple[str, Any]] = field(default_factory=list)  # (wire call id, or function name, value)
    tools: list[tuple[str, str | None, Any]] = field(default_factory=list)  # (name, description, schema)


def wire_openai(body: dict[str, Any]) -> Wire:
    s = sent(body)
    return Wire(
        texts=s.texts,
        images=s.images,
        calls=list(s.calls),
        results=[(cid, text) for cid, text, _ in s.results],
        tools=[(f["name"], f.get("description"), f.get("parameters")) for f in s.tools],
    )


def wire_anthropic(body: dict[str, Any]) -> Wire:
    w = Wire()
    system = body.get("system")
    w.texts += [system] if isinstance(system, str) else [b["text"] for b in system or []]
    for m in body["messages"]:
        content = m["content"]
        for b in [{"type": "text", "text": content}] if isinstance(content, str) else content:
            if b["type"] == "text":
                w.texts.append(b["text"])
            elif b["type"] == "image":
                src = b["source"]
                w.images.append(
                    src["url"] if src["type"] == "url" else f"data:{src['media_type']};base64,{src['data']}"
                )
            elif b["type"] == "tool_use":
                w.calls.append((b["id"], b["name"], b["input"]))
            elif b["type"] == "tool_result":
                value = b.get("content", "")
                if isinstance(value, list):
                    value = [x["text"] for x in value]
                w.results.append((b["tool_use_id"], value))
    w.tools = [(t["name"], t.get("description"), t.get("input_schema")) for t in body.get("tools") or []]
    return w


def wire_gemini(body: dict[str, Any]) -> Wire:
    w = Wire()
    w.texts += [p["text"] for p in (body.get("systemInstruction") or {}).get("parts", [])]
    for turn in body["contents"]:
        for p in turn["parts"]:
            if "text" in p:
                w.texts.append(p["text"])
            elif "inlineData" in p:
                w.images.append(f"data:{p['inlineData']['mimeType']};base64,{p['inlineData']['data']}")
            elif "fileData" in p:
                w.images.append(p["fileData"]["fileUri"])
            elif "functionCall" in p:
                w.calls.append((None, p["functionCall"]["name"], p["functionCall"].get("args", {})))
            elif "functionResponse" in p:
                w.results.append((p["functionResponse"]["name"], p["functionResponse"]["response"]))
    for tool in body.get("tools") or []:
        for d in tool.get("functionDeclarations") or []:
            w.tools.append((d["name"], d.get("description"), d.get("parameters")))
    return w


def wire_bedrock(body: dict[str, Any]) -> Wire:
    w = Wire()
    w.texts += [b["text"] for b in body.get("system") or [] if "text" in b]
    for m in body["messages"]:
        for b in m["content"]:
            if "text" in b:
                w.texts.append(b["text"])
            elif "image" in b:
                img = b["image"]
                w.images.append(f"data:image/{img['format']};base64,{img['source']['bytes']}")
            elif "toolUse" in b:
                u = b["toolUse"]
                w.calls.append((u["toolUseId"], u["name"], u["input"]))
            elif "toolResult" in b:
                r = b["toolResult"]
                w.results.append((r["toolUseId"], r["content"]))
    for t in (body.get("toolConfig") or {}).get("tools") or []:
        if "toolSpec" in t:
            spec = t["toolSpec"]
            w.tools.append((spec["name"], spec.get("description"), spec["inputSchema"]["json"]))
    return w


WIRE = {
    "openai": wire_openai,
    "azure": wire_openai,
    "anthropic": wire_anthropic,
    "gemini": wire_gemini,
    "bedrock": wire_bedrock,
}


# --- comparing -----------------------------------------------------------------------------------------


def _loads(text: str) -> tuple[bool, Any]:
    try:
        return True, json.loads(text)
    except ValueError:
        return False, None


def _same_image(sent_url: str, wire_url: str) -> bool:
    if not sent_url.startswith("data:"):
        return sent_url == wire_url
    s_head, _, s_data = sent_url[5:].partition(",")
    w_head, _, w_data = wire_url[5:].partition(",")
    return s_head.split(";")[0].replace("jpg", "jpeg") == w_head.split(";")[0] and s_data == w_data


def result_kept(provider: str, text: str, parts: list[str] | None, value: Any) -> bool:
    """Does the wire's tool result carry the caller's `text` (sent as `parts` when a list)?"""
    is_json, parsed = _loads(text)
    if provider == "gemini":  # response must be an object: JSON objects as themselves, the rest wrapped
        if is_json and isinstance(parsed, dict):
            return value == parsed
        return value == {"result": parsed} or value == {"result": text}
    if provider == "bedrock":  # [{text}] or [{json}] blocks; JSON objects may travel as json blocks
        blocks = value
        wire_text = "".join(b.get("text", "") for b in blocks)
        if any("json" in b for b in blocks):
            return is_json and [b["json"] for b in blocks] == [parsed]
        if not text.strip():  # blank results are said to be empty (Converse rejects blank text)
            return wire_text in ("", "(empty)", text)
        return all(p in wire_text for p in (parts if parts is not None else [text]) if p.strip())
    if isinstance(
        value, list
    ):  # anthropic text blocks; blank parts are dropped (Anthropic rejects blank text)
        kept = "".join(p for p in parts if p.strip()) if parts is not None else text
        return kept == "".join(value) or text == "".join(value) or (not text.strip() and not value)
    # Anthropic rejects blank text blocks: a whitespace-only result is sent as an empty one
    return value == text or (not text.strip() and value in ("", None))


def check_kept(provider: str, body: dict[str, Any], wire_body: dict[str, Any]) -> None:
    s, w = sent(body), WIRE[provider](wire_body)

    # texts: every non-blank text is inside some wire text
    for text in s.texts:
        assert any(text in t for t in w.texts), f"text dropped: {text!r}"

    # images: counted, same content
    assert len(w.images) == len(s.images)
    for a, b in zip(s.images, w.images, strict=True):
        assert _same_image(a, b), (a, b)

    # tool calls: counted, same names and arguments, in order
    assert [(n, a) for _, n, a in w.calls] == [(n, a) for _, n, a in s.calls]

    # tool results: counted, bound to the call they answer, content kept
    assert len(w.results) == len(s.results)
    wire_id = {cid: wid for (cid, _, _), (wid, _, _) in zip(s.calls, w.calls, strict=True)}
    name_of = {cid: n for cid, n, _ in s.calls}
    if provider != "gemini":
        assert len(set(wire_id.values())) == len(wire_id), "two calls share one wire id"
    # results keep their relative order inside a turn; match them up by the call they answer
    remaining = list(w.results)
    for cid, text, parts in s.results:
        ref = name_of[cid] if provider == "gemini" else wire_id[cid]
        match = next((r for r in remaining if r[0] == ref and result_kept(provider, text, parts, r[1])), None)
        assert match is not None, f"tool result for {cid!r} lost or unbound: {text!r} not in {remaining!r}"
        remaining.remove(match)

    # tool definitions
    declared = [(f["name"], f.get("description") or None) for f in s.tools]
    got = [(n, d or None) for n, d, _ in w.tools]
    if provider == "bedrock" and not s.tools:
        assert {n for n, _ in got} <= {n for _, n, _ in s.calls} | {"tool"}  # stubs for the history only
    elif provider == "bedrock" and body.get("tool_choice") == "none" and not s.calls:
        assert got in ([], declared)  # documented: Converse has no "none", the tools are withheld
    else:
        assert got == declared
    if provider in ("anthropic", "bedrock", "openai", "azure"):  # JSON Schema verbatim
        for f, (_, _, schema) in zip(s.tools, w.tools, strict=False):
            assert schema == (f.get("parameters") or schema)
    if provider == "gemini":
        for f, (_, _, schema) in zip(s.tools, w.tools, strict=True):
            props = (f.get("parameters") or {}).get("properties")
            if props:
                assert set(schema["properties"]) == set(props)


def check_params(provider: str, body: dict[str, Any], out: dict[str, Any]) -> None:
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    stop = body.get("stop")
    stops = [stop] if isinstance(stop, str) else stop
    if provider == "anthropic":
        got = (out.get("max_tokens"), out.get("temperature"), out.get("top_p"), out.get("stop_sequences"))
    elif provider == "gemini":
        cfg = out.get("generationConfig") or {}
        got = (cfg.get("maxOutputTokens"), cfg.get("temperature"), cfg.get("topP"), cfg.get("stopSequences"))
    elif provider == "bedrock":
        cfg = out.get("inferenceConfig") or {}
        got = (cfg.get("maxTokens"), cfg.get("temperature"), cfg.get("topP"), cfg.get("stopSequences"))
    else:
        got = (max_tokens, out.get("temperature"), out.get("top_p"), stops)
        assert out == {
            **body,
            "model": out["model"],
            **({"stream_options": out["stream_options"]} if "stream_options" in out else {}),
        }
    want = (max_tokens, body.get("temperature"), body.get("top_p"), stops)
    if provider == "anthropic" and max_tokens is None:
        want = (got[0], *want[1:])  # Anthropic requires max_tokens: a default is sent
    assert got == want


# --- the properties -------------------------------------------------------------------------------------


def translate(provider: str, body: dict[str, Any]) -> dict[str, Any] | None:
    """The translated body, or None when the provider rightly refused the request."""
    impl, target = TARGETS[provider]
    before = json.dumps(body, sort_keys=True)
    try:
        req = impl.build_request(body, target)
    except UpstreamError as exc:
        assert exc.kind == "bad_request" and exc.status == 400, repr(exc)
        if provider in ("anthropic", "bedrock") and nothing_to_send(provider, body):
            assert "at least one non-system message" in exc.message, exc.message
            return None
        assert provider == "bedrock" and has_https_image(body), f"unexpected refusal: {exc.message}"
        assert "data: URL" in exc.message and "image" in exc.message, exc.message
        return None
    assert json.dumps(body, sort_keys=True) == before, "the caller's body was mutated"
    assert provider != "bedrock" or not has_https_image(body), "Bedrock cannot fetch https images"
    out = json.loads(req.body)  # strict standard JSON
    assert req.stream is (body.get("stream") is True)
    return out


@SETTINGS
@given(body=requests())
def test_every_provider_keeps_everything(body: dict[str, Any]) -> None:
    """One generated request through every provider (generation is the costly part, so it is shared):
    refused only where documented, else valid JSON with every text, image, tool, call and result kept
    and the sampling parameters carried. Failures name the provider."""
    for provider in TARGETS:
        try:
            out = translate(provider, body)
            if out is not None:
                check_kept(provider, body, out)
                check_params(provider, body, out)
        except AssertionError as exc:
            raise AssertionError(f"[{provider}] {exc}") from exc


# --- Anthropic's tool-id pattern -------------------------------------------------------------------------

ANTHROPIC_TOOL_ID = re.compile(r"^[a-zA-Z0-9_-]+$")  # Anthropic rejects other ids with a 400


def _kimi_history(ids: list[str]) -> dict[str, Any]:
    return {
        "model": "m",
        "messages": [
            {"role": "user", "content": "weather in Paris and Rome?"},
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {"id": cid, "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}
                    for cid in ids
                ],
            },
            *({"role": "tool", "tool_call_id": cid, "content": "sunny"} for cid in ids),
        ],
        "tools": [
            {"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}
        ],
    }


@SETTINGS
@given(
    ids=st.lists(
        st.text(alphabet=ALNUM + "_-.:|", min_size=1, max_size=24), min_size=1, max_size=3, unique=True
    )
)
@example(ids=["functions.get_weather:0", "functions.get_weather:1"])
def test_anthropic_tool_ids_fit_the_api_pattern_and_stay_paired(ids: list[str]) -> None:
    impl, target = TARGETS["anthropic"]
    out = json.loads(impl.build_request(_kimi_history(ids), target).body)
    uses = [
        b["id"]
        for m in out["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_use"
    ]
    results = [
        b["tool_use_id"]
        for m in out["messages"]
        if isinstance(m["content"], list)
        for b in m["content"]
        if b["type"] == "tool_result"
    ]
    assert all(ANTHROPIC_TOOL_ID.match(i) for i in uses), uses
    assert results == uses and len(set(uses)) == len(ids)


# --- Anthropic and whitespace-only text ------------------------------------------------------------------


def _blank_only(blocks: Any) -> bool:
    """A system prompt or message whose content is text and all of it whitespace."""
    if isinstance(blocks, str):
        return not blocks.strip()
    return bool(blocks) and all(b.get("type") == "text" and not b["text"].strip() for b in blocks)


@SETTINGS
@given(body=requests())
@example(
    body={
        "model": "m",
        "messages": [
            {"role": "user", "content": "Hi"},
            {"role": "assistant", "content": "\n\n"},
            {"role": "user", "content": "Still there?"},
        ],
    }
)
def test_anthropic_sends_no_whitespace_only_text(body: dict[str, Any]) -> None:
    impl, target = TARGETS["anthropic"]
    try:
        out = json.loads(impl.build_request(body, target).body)
    except UpstreamError:
        return
    assert not ("system" in out and _blank_only(out["system"])), out["system"]
    for m in out["messages"]:
        assert not _blank_only(m["content"]), m

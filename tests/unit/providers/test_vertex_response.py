"""Vertex AI answers: recorded Anthropic and Gemini responses, errors and streams parsed through
VertexProvider give exactly what the family's own provider gives."""

from __future__ import annotations

import random

import orjson
import pytest

from support.wire import WIRE, exchange, stream
from switchyard.providers.anthropic import AnthropicProvider
from switchyard.providers.anthropic.stream import AnthropicStreamParser
from switchyard.providers.base import UpstreamError
from switchyard.providers.gemini import GeminiProvider
from switchyard.providers.vertex import VertexProvider

NOW = 1_700_000_000
vertex = VertexProvider(clock=lambda: NOW)
gemini = GeminiProvider(clock=lambda: NOW)
anthropic = AnthropicProvider()

GEMINI_JSON = ["gemini/generate_content.json", "gemini/generate_content_function_call.json"]
ANTHROPIC_JSON = ["anthropic/messages.json", "anthropic/messages_tool_use.json"]
GEMINI_SSE = sorted(f"gemini/{p.name}" for p in (WIRE / "gemini").glob("*.sse"))
ANTHROPIC_SSE = sorted(f"anthropic/{p.name}" for p in (WIRE / "anthropic").glob("*.sse"))
ANTHROPIC_ERRORS = sorted(f"anthropic/{p.name}" for p in (WIRE / "anthropic").glob("error_*.json"))
GEMINI_ERRORS = sorted(f"gemini/{p.name}" for p in (WIRE / "gemini").glob("error_*.json"))


def body(name: str) -> bytes:
    return orjson.dumps(exchange(name)["response"]["body"])


def without_created(doc: dict) -> dict:
    return {k: v for k, v in doc.items() if k != "created"}


def feed(parser, data: bytes, sizes: list[int] | None = None) -> list[dict]:
    if sizes is None:
        return parser.feed(data) + parser.close()
    out, pos, i = [], 0, 0
    while pos < len(data):
        step = sizes[i % len(sizes)]
        out += parser.feed(data[pos : pos + step])
        pos, i = pos + step, i + 1
    return out + parser.close()


# --- non-stream ------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GEMINI_JSON)
def test_gemini_responses(name):
    assert vertex.parse_response(body(name)) == gemini.parse_response(body(name))


@pytest.mark.parametrize("name", ANTHROPIC_JSON)
def test_anthropic_responses(name):
    ours = vertex.parse_response(body(name))
    assert without_created(ours) == without_created(anthropic.parse_response(body(name)))
    assert ours["object"] == "chat.completion"


def test_gemini_pretty_printed_as_vertex_sends_it():
    data = orjson.dumps(exchange(GEMINI_JSON[0])["response"]["body"], option=orjson.OPT_INDENT_2)
    assert vertex.parse_response(data) == gemini.parse_response(data)


def test_body_that_is_not_json_is_an_error():
    with pytest.raises(UpstreamError):
        vertex.parse_response(b"<html>oops</html>")


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ANTHROPIC_ERRORS + GEMINI_ERRORS)
def test_recorded_errors_match_the_family_parser(name):
    resp = exchange(name)["response"]
    data = orjson.dumps(resp["body"])
    own = (anthropic if name.startswith("anthropic/") else gemini).parse_error(
        resp["status"], resp["headers"], data
    )
    ours = vertex.parse_error(resp["status"], resp["headers"], data)
    assert (ours.status, ours.kind, ours.message, ours.type) == (own.status, own.kind, own.message, own.type)


def test_google_envelope_for_a_claude_quota_error():
    # Vertex reports its own quota errors for partner models in the Google RPC envelope
    data = orjson.dumps(
        {
            "error": {
                "code": 429,
                "message": "Quota exceeded for aiplatform.googleapis.com/online_prediction_requests_per_base_model "
                "with base model: anthropic-claude-sonnet-4.",
                "status": "RESOURCE_EXHAUSTED",
            }
        }
    )
    err = vertex.parse_error(429, {}, data)
    assert err.kind == "rate_limited" and err.type == "RESOURCE_EXHAUSTED"
    assert "Quota exceeded" in err.message


def test_google_envelope_inside_a_list():
    data = orjson.dumps(
        [{"error": {"code": 403, "message": "Permission denied", "status": "PERMISSION_DENIED"}}]
    )
    err = vertex.parse_error(403, {}, data)
    assert (err.kind, err.message, err.type) == ("auth", "Permission denied", "PERMISSION_DENIED")


def test_anthropic_error_body_without_type_wrapper():
    data = orjson.dumps({"error": {"type": "overloaded_error", "message": "Overloaded"}})
    err = vertex.parse_error(529, {}, data)
    assert (err.kind, err.type, err.message) == ("overloaded", "overloaded_error", "Overloaded")


def test_empty_error_body_names_vertex():
    err = vertex.parse_error(502, {"retry-after": "3"}, b"")
    assert err.message == "HTTP 502 from Vertex AI" and str(err) == err.message
    assert err.kind == "server" and err.retry_after == 3.0


# --- streams -------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", GEMINI_SSE)
def test_gemini_streams(name):
    data = stream(name)
    expected = feed(gemini.stream_parser(), data)
    parser = vertex.stream_parser()
    assert feed(parser, data) == expected
    assert parser.family == "gemini"
    rng = random.Random(name)
    sizes = [rng.randint(1, 40) for _ in range(50)]
    assert feed(vertex.stream_parser(), data, sizes) == expected
    assert feed(vertex.stream_parser(), data, [1]) == expected


@pytest.mark.parametrize("name", ANTHROPIC_SSE)
def test_anthropic_streams(name):
    data = stream(name)
    expected = feed(AnthropicStreamParser(created=NOW), data)
    parser = vertex.stream_parser()
    assert feed(parser, data) == expected
    assert parser.family == "claude"
    rng = random.Random(name)
    sizes = [rng.randint(1, 40) for _ in range(50)]
    assert feed(vertex.stream_parser(), data, sizes) == expected
    assert feed(vertex.stream_parser(), data, [1]) == expected


def test_anthropic_stream_without_event_lines_is_recognised():
    data = b"".join(
        line + b"\n" for line in stream(ANTHROPIC_SSE[0]).splitlines() if not line.startswith(b"event:")
    )
    parser = vertex.stream_parser()
    assert feed(parser, data) == feed(AnthropicStreamParser(created=NOW), data)
    assert parser.family == "claude"


def test_anthropic_error_event_in_a_stream_raises():
    data = (
        b'event: error\ndata: {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}\n\n'
    )
    with pytest.raises(UpstreamError) as e:
        feed(vertex.stream_parser(), data)
    assert e.value.kind == "overloaded"


def test_gemini_error_in_a_stream_raises():
    data = b'data: {"error": {"code": 429, "message": "Resource exhausted", "status": "RESOURCE_EXHAUSTED"}}\r\n\r\n'
    with pytest.raises(UpstreamError) as e:
        feed(vertex.stream_parser(), data)
    assert e.value.kind == "rate_limited"


def test_nothing_is_emitted_before_the_family_is_known():
    parser = vertex.stream_parser()
    assert parser.feed(b'data: {"candi') == []
    assert parser.family is None
    assert parser.feed(b'dates": []}') == [] and parser.family is None
    parser.feed(b"\r\n")
    assert parser.family == "gemini"


def test_empty_stream_fails_on_close():
    with pytest.raises(UpstreamError):
        vertex.stream_parser().close()

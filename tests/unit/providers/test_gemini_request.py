"""OpenAI chat body → Gemini generateContent request."""

from __future__ import annotations

import json

import orjson
import pytest

from support.wire import WIRE
from switchyard.providers.base import Target
from switchyard.providers.gemini import GeminiProvider
from switchyard.providers.gemini.request import SKIP_SIGNATURE, translate

BASE = "https://generativelanguage.googleapis.com/v1beta"
FIXTURES = WIRE / "gemini"


def target(**kw) -> Target:
    return Target(
        **{"provider": "google-ai-studio", "model": "gemini-2.5-flash", "format": "gemini", "base_url": BASE}
        | {"api_key": "AIza-secret", "auth": "goog-api-key"}
        | kw
    )


def payload(body: dict) -> dict:
    return orjson.loads(GeminiProvider().build_request(body, target()).body)


# --- URL, headers, auth ------------------------------------------------------------------------


def test_non_stream_url_and_headers():
    req = GeminiProvider().build_request(
        {"messages": [{"role": "user", "content": "hi"}]}, target(headers={"x-extra": "1"})
    )
    assert req.method == "POST"
    assert req.url == f"{BASE}/models/gemini-2.5-flash:generateContent"
    assert req.stream is False
    assert req.headers["x-goog-api-key"] == "AIza-secret"
    assert req.headers["content-type"] == "application/json"
    assert req.headers["x-extra"] == "1"
    assert "AIza-secret" not in req.url


def test_stream_url():
    req = GeminiProvider().build_request(
        {
            "messages": [{"role": "user", "content": "hi"}],
            "stream": True,
            "stream_options": {"include_usage": True},
        },
        target(base_url=BASE + "/", model="models/gemini-2.0-flash"),
    )
    assert req.url == f"{BASE}/models/gemini-2.0-flash:streamGenerateContent?alt=sse"
    assert req.stream is True
    assert "stream" not in orjson.loads(req.body)


def test_query_key_auth_still_uses_header_never_url():
    req = GeminiProvider().build_request(
        {"messages": [{"role": "user", "content": "hi"}]}, target(auth="query-key")
    )
    assert req.headers["x-goog-api-key"] == "AIza-secret"
    assert "key=" not in req.url


def test_bearer_and_none_auth():
    bearer = GeminiProvider().build_request({"messages": []}, target(auth="bearer", api_key="ya29.token"))
    assert bearer.headers["authorization"] == "Bearer ya29.token" and "x-goog-api-key" not in bearer.headers
    none = GeminiProvider().build_request({"messages": []}, target(auth="none"))
    assert "x-goog-api-key" not in none.headers and "authorization" not in none.headers


# --- messages ----------------------------------------------------------------------------------


def test_system_and_developer_become_system_instruction():
    out = payload(
        {
            "messages": [
                {"role": "system", "content": "Be terse."},
                {"role": "developer", "content": [{"type": "text", "text": "Use metric."}]},
                {"role": "user", "content": "Hello!"},
            ]
        }
    )
    assert out["systemInstruction"] == {"parts": [{"text": "Be terse."}, {"text": "Use metric."}]}
    assert out["contents"] == [{"role": "user", "parts": [{"text": "Hello!"}]}]


def test_multi_turn_roles():
    out = payload(
        {
            "messages": [
                {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"},
                {"role": "user", "content": "How are you?"},
            ]
        }
    )
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Hi"}]},
        {"role": "model", "parts": [{"text": "Hello"}]},
        {"role": "user", "parts": [{"text": "How are you?"}]},
    ]


def test_images_inline_and_remote():
    out = payload(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Compare"},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
                        {
                            "type": "image_url",
                            "image_url": {"url": "https://example.com/cat.webp?size=2", "detail": "low"},
                        },
                        {"type": "image_url", "image_url": {"url": "https://example.com/noext"}},
                    ],
                }
            ]
        }
    )
    assert out["contents"][0]["parts"] == [
        {"text": "Compare"},
        {"inlineData": {"mimeType": "image/png", "data": "iVBORw0KGgo="}},
        {"fileData": {"mimeType": "image/webp", "fileUri": "https://example.com/cat.webp?size=2"}},
        {"fileData": {"mimeType": "image/jpeg", "fileUri": "https://example.com/noext"}},
    ]


def test_audio_and_file_parts():
    out = payload(
        {
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "input_audio", "input_audio": {"data": "UklGR", "format": "wav"}},
                        {
                            "type": "file",
                            "file": {"filename": "a.pdf", "file_data": "data:application/pdf;base64,JVBER"},
                        },
                    ],
                }
            ]
        }
    )
    assert out["contents"][0]["parts"] == [
        {"inlineData": {"mimeType": "audio/wav", "data": "UklGR"}},
        {"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}},
    ]


PARALLEL = [
    {"role": "user", "content": "Weather in Paris and Oslo?"},
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_a",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city":"Paris"}'},
            },
            {
                "id": "call_b",
                "type": "function",
                "function": {"name": "get_time", "arguments": '{"city": "Oslo"}'},
            },
        ],
    },
    {"role": "tool", "tool_call_id": "call_a", "content": '{"temp": 21}'},
    {"role": "tool", "tool_call_id": "call_b", "content": "14:05"},
    {"role": "user", "content": "Thanks"},
]


def test_parallel_tool_calls_and_results():
    out = payload({"messages": PARALLEL})
    assert out["contents"] == [
        {"role": "user", "parts": [{"text": "Weather in Paris and Oslo?"}]},
        {
            "role": "model",
            "parts": [
                {
                    "functionCall": {"name": "get_weather", "args": {"city": "Paris"}},
                    "thoughtSignature": SKIP_SIGNATURE,
                },
                {"functionCall": {"name": "get_time", "args": {"city": "Oslo"}}},
            ],
        },
        {
            "role": "user",
            "parts": [
                {"functionResponse": {"name": "get_weather", "response": {"temp": 21}}},
                {"functionResponse": {"name": "get_time", "response": {"result": "14:05"}}},
            ],
        },
        {"role": "user", "parts": [{"text": "Thanks"}]},
    ]


def test_tool_result_name_comes_from_the_call_not_the_message():
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "real", "arguments": "{}"}}],
        },
        {"role": "tool", "tool_call_id": "c1", "name": "wrong", "content": "[1, 2]"},
    ]
    out = payload({"messages": messages})
    assert out["contents"][2]["parts"] == [
        {"functionResponse": {"name": "real", "response": {"result": [1, 2]}}}
    ]


def test_repeated_call_ids_resolve_to_the_latest_call():
    def call(name):
        return {
            "role": "assistant",
            "tool_calls": [
                {"id": "call_0", "type": "function", "function": {"name": name, "arguments": "{}"}}
            ],
        }

    messages = [
        {"role": "user", "content": "x"},
        call("first"),
        {"role": "tool", "tool_call_id": "call_0", "content": "1"},
        call("second"),
        {"role": "tool", "tool_call_id": "call_0", "content": "2"},
    ]
    out = payload({"messages": messages})
    assert out["contents"][2]["parts"][0]["functionResponse"]["name"] == "first"
    assert out["contents"][4]["parts"][0]["functionResponse"]["name"] == "second"


def test_legacy_function_role_and_unparsable_results():
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": None, "function_call": {"name": "lookup", "arguments": '{"q": 1}'}},
        {"role": "function", "name": "lookup", "content": "not json"},
    ]
    out = payload({"messages": messages})
    assert out["contents"][1]["parts"][0]["functionCall"] == {"name": "lookup", "args": {"q": 1}}
    assert out["contents"][2] == {
        "role": "user",
        "parts": [{"functionResponse": {"name": "lookup", "response": {"result": "not json"}}}],
    }


def test_thought_signature_round_trip():
    sig = "CiQB0e2Kb1234"
    messages = [
        {"role": "user", "content": "x"},
        {
            "role": "assistant",
            "content": "Let me check.",
            "tool_calls": [
                {
                    "id": "call_0",
                    "type": "function",
                    "function": {"name": "f", "arguments": "{}"},
                    "extra_content": {"google": {"thought_signature": sig}},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_0", "content": "{}"},
    ]
    model_turn = payload({"messages": messages})["contents"][1]
    assert model_turn["parts"] == [
        {"text": "Let me check."},
        {"functionCall": {"name": "f", "args": {}}, "thoughtSignature": sig},
    ]


def test_no_message_is_dropped():
    messages = [
        {"role": "user", "content": [{"type": "text", "text": "a"}, {"type": "mystery", "x": 1}]},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": "b"},
    ]
    contents = payload({"messages": messages})["contents"]
    assert contents[0]["parts"][1] == {"text": '{"type":"mystery","x":1}'}
    assert contents[1] == {"role": "model", "parts": [{"text": ""}]}
    assert len(contents) == 3


# --- generation config -------------------------------------------------------------------------


def test_generation_config_mapping():
    out = payload(
        {
            "messages": [{"role": "user", "content": "x"}],
            "temperature": 0.2,
            "top_p": 0.9,
            "top_k": 40,
            "max_tokens": 100,
            "max_completion_tokens": 50,
            "stop": "END",
            "n": 2,
            "presence_penalty": 0.1,
            "frequency_penalty": 0.3,
            "seed": 7,
        }
    )
    assert out["generationConfig"] == {
        "temperature": 0.2,
        "topP": 0.9,
        "topK": 40,
        "candidateCount": 2,
        "presencePenalty": 0.1,
        "frequencyPenalty": 0.3,
        "seed": 7,
        "maxOutputTokens": 50,
        "stopSequences": ["END"],
    }


def test_max_tokens_fallback_and_stop_list():
    out = payload({"messages": [{"role": "user", "content": "x"}], "max_tokens": 100, "stop": ["a", "b"]})
    assert out["generationConfig"] == {"maxOutputTokens": 100, "stopSequences": ["a", "b"]}
    assert "generationConfig" not in payload({"messages": [{"role": "user", "content": "x"}]})


def test_json_object_response_format():
    out = payload(
        {"messages": [{"role": "user", "content": "x"}], "response_format": {"type": "json_object"}}
    )
    assert out["generationConfig"] == {"responseMimeType": "application/json"}


def test_json_schema_response_format_is_sanitised():
    schema = {
        "$defs": {
            "Step": {
                "type": "object",
                "properties": {"n": {"type": "integer"}},
                "additionalProperties": False,
            }
        },
        "type": "object",
        "properties": {
            "steps": {"type": "array", "items": {"$ref": "#/$defs/Step"}},
            "note": {"anyOf": [{"type": "string"}, {"type": "null"}]},
        },
        "required": ["steps", "note"],
        "additionalProperties": False,
    }
    body = {
        "messages": [{"role": "user", "content": "x"}],
        "response_format": {
            "type": "json_schema",
            "json_schema": {"name": "plan", "strict": True, "schema": schema},
        },
    }
    config = payload(body)["generationConfig"]
    assert config["responseMimeType"] == "application/json"
    assert config["responseSchema"] == {
        "type": "OBJECT",
        "properties": {
            "steps": {"type": "ARRAY", "items": {"type": "OBJECT", "properties": {"n": {"type": "INTEGER"}}}},
            "note": {"type": "STRING", "nullable": True},
        },
        "required": ["steps", "note"],
        "propertyOrdering": ["steps", "note"],
    }
    text = json.dumps(config)
    for banned in ("$ref", "$defs", "additionalProperties", "strict"):
        assert banned not in text


@pytest.mark.parametrize(
    ("effort", "expected"),
    [
        ("low", {"thinkingBudget": 1024, "includeThoughts": True}),
        ("medium", {"thinkingBudget": 8192, "includeThoughts": True}),
        ("high", {"thinkingBudget": 24576, "includeThoughts": True}),
        ("minimal", {"thinkingBudget": 512, "includeThoughts": True}),
        ("none", {"thinkingBudget": 0}),
    ],
)
def test_reasoning_effort(effort, expected):
    out = payload({"messages": [{"role": "user", "content": "x"}], "reasoning_effort": effort})
    assert out["generationConfig"]["thinkingConfig"] == expected


def test_no_reasoning_effort_leaves_model_default():
    assert "generationConfig" not in payload({"messages": [{"role": "user", "content": "x"}]})


# --- tools -------------------------------------------------------------------------------------

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather for a city",
            "strict": True,
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
                "required": ["city"],
                "additionalProperties": False,
            },
        },
    },
    {"type": "function", "function": {"name": "ping"}},
]


def test_tools_become_function_declarations():
    out = payload({"messages": [{"role": "user", "content": "x"}], "tools": TOOLS})
    assert out["tools"] == [
        {
            "functionDeclarations": [
                {
                    "name": "get_weather",
                    "description": "Weather for a city",
                    "parameters": {
                        "type": "OBJECT",
                        "properties": {
                            "city": {"type": "STRING"},
                            "unit": {"type": "STRING", "enum": ["c", "f"]},
                        },
                        "required": ["city"],
                    },
                },
                {"name": "ping"},
            ]
        }
    ]


def test_native_and_search_tools_are_kept():
    tools = [*TOOLS, {"type": "web_search"}, {"codeExecution": {}}]
    out = payload({"messages": [{"role": "user", "content": "x"}], "tools": tools})
    assert out["tools"][1:] == [{"googleSearch": {}}, {"codeExecution": {}}]


@pytest.mark.parametrize(
    ("choice", "expected"),
    [
        ("none", {"mode": "NONE"}),
        ("auto", {"mode": "AUTO"}),
        ("required", {"mode": "ANY"}),
        (
            {"type": "function", "function": {"name": "ping"}},
            {"mode": "ANY", "allowedFunctionNames": ["ping"]},
        ),
        (
            {
                "type": "allowed_tools",
                "allowed_tools": {
                    "mode": "required",
                    "tools": [{"type": "function", "function": {"name": "ping"}}],
                },
            },
            {"mode": "ANY", "allowedFunctionNames": ["ping"]},
        ),
    ],
)
def test_tool_choice(choice, expected):
    out = payload({"messages": [{"role": "user", "content": "x"}], "tools": TOOLS, "tool_choice": choice})
    assert out["toolConfig"] == {"functionCallingConfig": expected}


def test_no_tool_choice_no_tool_config():
    assert "toolConfig" not in payload({"messages": [{"role": "user", "content": "x"}], "tools": TOOLS})


# --- against the recorded requests -------------------------------------------------------------


@pytest.mark.skipif(FIXTURES is None, reason="wire fixtures not available")
def test_matches_recorded_text_request():
    recorded = json.loads((FIXTURES / "generate_content.json").read_text())["request"]["body"]
    out = translate(
        {
            "messages": [
                {"role": "system", "content": "You are a chatbot."},
                {"role": "user", "content": "Hello!"},
            ]
        }
    )
    assert out["contents"] == recorded["contents"]
    assert out["systemInstruction"]["parts"] == recorded["systemInstruction"]["parts"]


@pytest.mark.skipif(FIXTURES is None, reason="wire fixtures not available")
def test_matches_recorded_tool_request():
    recorded = json.loads((FIXTURES / "generate_content_function_call.json").read_text())["request"]["body"]
    tools = [
        {
            "type": "function",
            "function": {"name": "get_user_country", "parameters": {"type": "object", "properties": {}}},
        },
        {
            "type": "function",
            "function": {
                "name": "final_result",
                "description": "The final response which ends this conversation",
                "parameters": {
                    "type": "object",
                    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
                    "required": ["city", "country"],
                    "additionalProperties": False,
                },
            },
        },
    ]
    choice = {
        "type": "allowed_tools",
        "allowed_tools": {
            "mode": "required",
            "tools": [{"type": "function", "function": {"name": t["function"]["name"]}} for t in tools],
        },
    }
    out = translate(
        {
            "messages": [{"role": "user", "content": recorded["contents"][0]["parts"][0]["text"]}],
            "tools": tools,
            "tool_choice": choice,
        }
    )
    assert out["contents"] == recorded["contents"]
    assert out["toolConfig"] == recorded["toolConfig"]
    expected = recorded["tools"][0]["functionDeclarations"]
    got = out["tools"][0]["functionDeclarations"]
    assert [{k: v for k, v in d.items() if v != ""} for d in expected] == got

"""The provider contract (`providers/base.Provider`) and the wire-format table (`providers/formats.py`).

Every registered format implements the whole contract with the base class's signatures, and a new format needs
nothing but its class and one table entry: `ToyProvider` below (a made-up line-oriented wire format) is
registered, configured as a custom provider, planned, and called through the executor's `Caller` with a fake
transport — non-stream, stream, an upstream error, an Anthropic Messages caller, embeddings and token counting.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Mapping
from typing import Any

import orjson
import pytest

from switchyard.api.surfaces import CHAT, EMBEDDINGS, MESSAGES
from switchyard.config import Settings
from switchyard.pipeline.byok_egress import Pattern
from switchyard.pipeline.call import Caller
from switchyard.pipeline.context import RequestContext
from switchyard.pipeline.headers import parse_helicone
from switchyard.pipeline.plan import Planner
from switchyard.providers import formats
from switchyard.providers.base import (
    Provider,
    Target,
    UpstreamError,
    UpstreamRequest,
    kind_for_status,
)
from switchyard.providers.credentials import CredentialSpec
from switchyard.providers.formats import (
    FORMATS,
    Translators,
    available,
    build_providers,
    provider_class,
    translator,
)
from switchyard.providers.registry import load_registry
from switchyard.providers.transport import Timeouts

# -- every registered format ----------------------------------------------------------------------------------

HOOKS = [
    name
    for name, member in vars(Provider).items()
    if not name.startswith("_") and (inspect.isfunction(member) or isinstance(member, classmethod))
]


@pytest.mark.parametrize("name", list(FORMATS))
def test_every_registered_format_implements_the_contract(name: str) -> None:
    cls = provider_class(name)
    assert issubclass(cls, Provider) and cls.name == name
    assert not inspect.isabstract(cls)
    provider = cls()
    assert isinstance(provider.native_kinds, frozenset)
    assert isinstance(cls.credentials, CredentialSpec) and "base_url" in cls.credentials.config
    for pattern in cls.credentials.egress_hosts:
        Pattern.parse(pattern)  # the egress policy can read the format's built-in hosts
    for hook in HOOKS:  # overrides keep the base signature, so the executor can call every hook the same way
        base = inspect.signature(getattr(Provider, hook))
        mine = inspect.signature(getattr(cls, hook))
        assert list(mine.parameters) == list(base.parameters), f"{cls.__name__}.{hook}{mine} != {base}"
        assert inspect.iscoroutinefunction(getattr(cls, hook)) == inspect.iscoroutinefunction(
            getattr(Provider, hook)
        ), hook


def test_build_providers_builds_only_what_it_is_asked_for() -> None:
    assert set(build_providers()) == set(FORMATS)
    assert set(build_providers(["openai", "anthropic"])) == {"openai", "anthropic"}
    with pytest.raises(KeyError):
        provider_class("grpc")


def test_translators_make_each_format_on_first_use() -> None:
    made = Translators()
    assert made.names == frozenset(FORMATS) == available(made) and len(made) == 0
    assert translator(made, "gemini") is made["gemini"] and isinstance(
        made["gemini"], provider_class("gemini")
    )
    assert set(made) == {"gemini"}  # only what was asked for
    assert translator(made, "grpc") is None
    with pytest.raises(KeyError):
        made["grpc"]
    assert available({"toy": made["gemini"]}) == {"toy"}  # an injected mapping serves its own keys


def test_defaults_refuse_what_a_format_does_not_do() -> None:
    gemini = provider_class("gemini")()
    t = Target("google-ai-studio", "gemini-2.5-pro", "gemini", "https://g")
    assert not gemini.serves_natively(t, "messages") and not gemini.counts_tokens(t)
    for call in (
        lambda: gemini.native_request({}, t, "messages"),
        lambda: gemini.count_request({}, t),
        lambda: provider_class("openai")().build_embeddings({}, t),  # OpenAI serves embeddings natively
    ):
        with pytest.raises(UpstreamError) as info:
            call()
        assert info.value.kind == "unsupported"
    req = UpstreamRequest("POST", "https://g", {}, b"{}")
    assert asyncio.run(gemini.sign(req, t)) is req
    assert gemini.missing_setting("google-ai-studio", None, {}) is None
    azure = provider_class("azure")
    assert "providers.my-az.base_url" in (azure.missing_setting("my-az", None, {}) or "")
    assert azure.missing_setting("my-az", None, {"resource": "r"}) is None


# -- a new wire format: one class, one table entry -------------------------------------------------------------


class ToyProvider(Provider):
    """A made-up format: `{"say": [...], "limit": n}` in, `{"text", "used": [in, out]}` out; streams are
    newline-separated JSON pieces ending with `{"end": [in, out]}`; signing adds `toy-signature`."""

    name = "toy"

    def build_request(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        said = [m["content"] for m in body["messages"]]
        payload = {"say": said, "limit": body.get("max_tokens"), "model": target.model}
        return UpstreamRequest(
            "POST",
            f"{target.base_url}/toy",
            {"toy-key": target.api_key or ""},
            orjson.dumps(payload),
            bool(body.get("stream")),
        )

    def parse_response(self, body: bytes) -> dict[str, Any]:
        doc = orjson.loads(body)
        return _completion(doc["text"], doc["used"])

    def parse_error(self, status: int, headers: Mapping[str, str], body: bytes) -> UpstreamError:
        return UpstreamError(status, kind_for_status(status), f"toy says: {body.decode()}")

    def stream_parser(self) -> ToyStream:
        return ToyStream()

    def build_embeddings(self, body: dict[str, Any], target: Target) -> UpstreamRequest:
        return UpstreamRequest(
            "POST", f"{target.base_url}/toy-vectors", {}, orjson.dumps({"of": body["input"]})
        )

    def parse_embeddings(self, data: bytes, body: dict[str, Any], model: str) -> dict[str, Any]:
        vectors = orjson.loads(data)["vectors"]
        return {
            "object": "list",
            "model": model,
            "data": [{"object": "embedding", "index": i, "embedding": v} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": len(vectors), "total_tokens": len(vectors)},
        }

    async def sign(self, req: UpstreamRequest, target: Target) -> UpstreamRequest:
        await asyncio.sleep(0)  # the one hook allowed to wait (token fetches)
        req.headers["toy-signature"] = f"signed:{len(req.body)}"
        return req

    def counts_tokens(self, target: Target) -> bool:
        return True

    def count_request(
        self, body: dict[str, Any], target: Target, headers: Mapping[str, str] | None = None
    ) -> UpstreamRequest:
        return UpstreamRequest("POST", f"{target.base_url}/toy-count", {}, orjson.dumps(body))


def _completion(text: str, used: list[int], chunk: bool = False) -> dict[str, Any]:
    usage = {"prompt_tokens": used[0], "completion_tokens": used[1], "total_tokens": sum(used)}
    return {
        "id": "toy-1",
        "object": "chat.completion",
        "created": 0,
        "model": "toy-model",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": usage,
    }


class ToyStream:
    def __init__(self) -> None:
        self._buf = b""
        self._ended = False

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        self._buf += data
        *lines, self._buf = self._buf.split(b"\n")
        return [self._chunk(orjson.loads(line)) for line in lines if line]

    def close(self) -> list[dict[str, Any]]:
        if not self._ended:
            raise UpstreamError(502, "server", "toy stream ended early")
        return []

    def _chunk(self, piece: dict[str, Any]) -> dict[str, Any]:
        base = {"id": "toy-1", "object": "chat.completion.chunk", "created": 0, "model": "toy-model"}
        if "end" in piece:
            self._ended = True
            used = piece["end"]
            usage = {"prompt_tokens": used[0], "completion_tokens": used[1], "total_tokens": sum(used)}
            return {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage}
        return {
            **base,
            "choices": [{"index": 0, "delta": {"content": piece["piece"]}, "finish_reason": None}],
        }


class FakeResponse:
    def __init__(self, status: int, body: bytes, chunks: list[bytes] | None = None) -> None:
        self.status, self.headers, self._body, self._chunks = status, {}, body, chunks
        self.closed = False

    async def read(self) -> bytes:
        return self._body

    async def iter_chunks(self) -> AsyncIterator[bytes]:
        for c in self._chunks or [self._body]:
            yield c

    def close(self) -> None:
        self.closed = True


class FakeTransport:
    """Answers each request with the next queued response and keeps what was sent."""

    def __init__(self, *answers: FakeResponse) -> None:
        self.answers, self.sent = list(answers), []
        self.timeouts = Timeouts(1, 1, 1)

    async def send(self, req: UpstreamRequest, timeouts: Timeouts) -> FakeResponse:
        self.sent.append(req)
        return self.answers.pop(0)


@pytest.fixture
def toy(monkeypatch: pytest.MonkeyPatch) -> Planner:
    """The toy format registered (one table line) and configured as a custom provider `toybox`."""
    monkeypatch.setitem(formats.FORMATS, "toy", f"{__name__}:ToyProvider")
    settings = Settings.model_validate(
        {
            "home": "/tmp/switchyard-test-toy",
            "providers": {"toybox": {"format": "toy", "base_url": "http://toy.internal", "api_key": "tk-1"}},
        }
    )
    return Planner(load_registry(settings, env={}))


def test_config_accepts_exactly_the_registered_formats(monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = {"home": "/tmp/x", "providers": {"toybox": {"format": "toy", "base_url": "http://toy"}}}
    with pytest.raises(ValueError, match="unknown wire format 'toy'"):
        Settings.model_validate(cfg)
    monkeypatch.setitem(formats.FORMATS, "toy", f"{__name__}:ToyProvider")
    assert Settings.model_validate(cfg).providers["toybox"].format == "toy"


def _run(
    planner: Planner, transport: FakeTransport, body: dict[str, Any], spec: Any, stream: bool = False
) -> Any:
    (attempt,) = planner.plan(body["model"])
    ctx = RequestContext(path="/v1/chat/completions", helicone=parse_helicone({}))
    caller = Caller(transport, build_providers(["toy"]))  # type: ignore[arg-type]
    surface = spec.make({})

    async def go() -> Any:
        if not stream:
            return await caller.complete(ctx, attempt, body, surface, transport.timeouts)
        start = await caller.open_stream(ctx, attempt, body, surface, True, transport.timeouts)
        out = [start.first]
        async for data in start.chunks or ():
            out.append(start.pump.feed(data))
        out.append(start.pump.close())
        return b"".join(out), start.pump

    return asyncio.run(go())


CHAT_BODY = {"model": "tiny/toybox", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}


def test_new_format_chat_end_to_end(toy: Planner) -> None:
    transport = FakeTransport(FakeResponse(200, b'{"text": "hello", "used": [3, 1]}'))
    answer = _run(toy, transport, CHAT_BODY, CHAT)
    (sent,) = transport.sent
    assert sent.url == "http://toy.internal/toy" and sent.headers["toy-key"] == "tk-1"
    assert sent.headers["toy-signature"] == f"signed:{len(sent.body)}"  # sign ran after build
    assert orjson.loads(sent.body) == {"say": ["hi"], "limit": 5, "model": "tiny"}
    out = orjson.loads(answer.data)
    assert out["choices"][0]["message"]["content"] == "hello"
    assert answer.usage["total_tokens"] == 4


def test_new_format_stream_end_to_end(toy: Planner) -> None:
    pieces = [b'{"piece": "hel', b'"}\n{"piece": "lo"}\n', b'{"end": [3, 2]}\n']
    transport = FakeTransport(FakeResponse(200, b"", pieces))
    data, pump = _run(toy, transport, {**CHAT_BODY, "stream": True}, CHAT, stream=True)
    events = [orjson.loads(e[6:]) for e in data.split(b"\n\n") if e.startswith(b"data: {")]
    assert "".join(c["choices"][0]["delta"].get("content", "") for c in events if c["choices"]) == "hello"
    assert data.endswith(b"data: [DONE]\n\n") and pump.usage["completion_tokens"] == 2


def test_new_format_error_is_classified_by_the_provider(toy: Planner) -> None:
    transport = FakeTransport(FakeResponse(429, b"slow down"))
    with pytest.raises(UpstreamError) as info:
        _run(toy, transport, CHAT_BODY, CHAT)
    assert info.value.kind == "rate_limited" and info.value.message == "toy says: slow down"


def test_new_format_serves_anthropic_callers_through_translation(toy: Planner) -> None:
    transport = FakeTransport(FakeResponse(200, b'{"text": "hej", "used": [2, 1]}'))
    body = {"model": "tiny/toybox", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}
    answer = _run(toy, transport, body, MESSAGES)
    out = orjson.loads(answer.data)
    assert out["type"] == "message" and out["content"] == [{"type": "text", "text": "hej"}]
    assert orjson.loads(transport.sent[0].body)["limit"] == 9


def test_new_format_embeddings_end_to_end(toy: Planner) -> None:
    transport = FakeTransport(FakeResponse(200, b'{"vectors": [[0.5, 0.25]]}'))
    answer = _run(toy, transport, {"model": "vec/toybox", "input": "x"}, EMBEDDINGS)
    assert transport.sent[0].url == "http://toy.internal/toy-vectors"
    out = orjson.loads(answer.data)
    assert out["data"][0]["embedding"] == [0.5, 0.25] and out["model"] == "vec"
    assert answer.logged["data_count"] == 1  # the log keeps no vectors


def test_new_format_counts_tokens_with_the_default_parser(toy: Planner) -> None:
    provider = build_providers(["toy"])["toy"]
    t = Target("toybox", "tiny", "toy", "http://toy.internal")
    assert provider.counts_tokens(t)
    assert provider.count_request({"messages": []}, t).url.endswith("/toy-count")
    assert provider.parse_count(b'{"input_tokens": 12}', t) == 12
    with pytest.raises(UpstreamError) as info:
        provider.parse_count(b'{"input_tokens": -1}', t)
    assert info.value.status == 502

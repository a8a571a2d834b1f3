"""SigV4 signing of Bedrock requests (botocore), checked against an independent derivation."""

from __future__ import annotations

import datetime
import hashlib
import hmac
from urllib.parse import quote, urlsplit

import botocore.auth
import pytest

from switchyard.providers.base import Target, UpstreamError, UpstreamRequest
from switchyard.providers.bedrock import BedrockProvider
from switchyard.providers.bedrock.sign import sign_request

ACCESS = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "IQoJb3JpZ2luX2VjEXAMPLETOKEN"
FROZEN = datetime.datetime(2025, 1, 2, 3, 4, 5)
provider = BedrockProvider(clock=lambda: 0)


@pytest.fixture(autouse=True)
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    # botocore's own hook for the signing time (SigV4Auth.add_auth calls it)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: FROZEN)


def target(**config) -> Target:
    cfg = {"secret": SECRET, "region": "us-west-2", **config}
    return Target(
        "bedrock",
        "anthropic.claude-sonnet-4-20250514-v1:0",
        "bedrock",
        "https://bedrock-runtime.{region}.amazonaws.com",
        ACCESS,
        "aws-sigv4",
        cfg,
    )


def request(body: bytes = b'{"messages":[]}', t: Target | None = None) -> UpstreamRequest:
    return provider.build_request(
        {"messages": [{"role": "user", "content": body.decode() or "x"}]}, t or target()
    )


def expected_signature(req: UpstreamRequest, secret: str, region: str, signed: list[str]) -> str:
    """SigV4 from its published definition, independent of botocore (non-S3: the path is encoded twice)."""
    url = urlsplit(req.url)
    headers = {k.lower(): v.strip() for k, v in req.headers.items()}
    headers["host"] = url.netloc
    canonical = "\n".join(
        [
            req.method,
            quote(url.path, safe="/~"),
            url.query,
            "".join(f"{h}:{headers[h]}\n" for h in signed),
            ";".join(signed),
            hashlib.sha256(req.body).hexdigest(),
        ]
    )
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/{region}/bedrock/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()])
    key = ("AWS4" + secret).encode()
    for part in (amz_date[:8], region, "bedrock", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def parse_auth(value: str) -> dict[str, str]:
    algorithm, _, rest = value.partition(" ")
    assert algorithm == "AWS4-HMAC-SHA256"
    return dict(part.strip().split("=", 1) for part in rest.split(","))


async def test_sign_headers_and_signature():
    req = request()
    signed = await provider.sign(req, target())
    assert (
        signed is not req
        and signed.body == req.body
        and signed.url == req.url
        and signed.stream == req.stream
    )
    h = signed.headers
    assert h["x-amz-date"] == "20250102T030405Z"
    assert h["x-amz-content-sha256"] == hashlib.sha256(req.body).hexdigest()
    assert "x-amz-security-token" not in h
    assert "host" not in h  # the HTTP client writes Host itself
    assert h["content-type"] == "application/json"
    auth = parse_auth(h["authorization"])
    assert auth["Credential"] == f"{ACCESS}/20250102/us-west-2/bedrock/aws4_request"
    names = auth["SignedHeaders"].split(";")
    assert names == ["accept", "content-type", "host", "x-amz-content-sha256", "x-amz-date"]
    assert auth["Signature"] == expected_signature(signed, SECRET, "us-west-2", names)
    assert req.headers.get("authorization") is None  # the original request is untouched


async def test_session_token_is_sent_and_signed():
    signed = await provider.sign(request(), target(session_token=TOKEN))
    assert signed.headers["x-amz-security-token"] == TOKEN
    names = parse_auth(signed.headers["authorization"])["SignedHeaders"].split(";")
    assert "x-amz-security-token" in names
    assert parse_auth(signed.headers["authorization"])["Signature"] == expected_signature(
        signed, SECRET, "us-west-2", names
    )


async def test_deterministic_under_frozen_time_and_changes_with_body():
    a = (await provider.sign(request(b"one"), target())).headers["authorization"]
    b = (await provider.sign(request(b"one"), target())).headers["authorization"]
    c = (await provider.sign(request(b"two"), target())).headers["authorization"]
    assert a == b
    assert a != c


async def test_signature_changes_with_region_and_secret():
    base = (await provider.sign(request(), target())).headers["authorization"]
    other_region = await provider.sign(request(t=target(region="eu-west-1")), target(region="eu-west-1"))
    assert "/eu-west-1/bedrock/" in other_region.headers["authorization"]
    assert (await provider.sign(request(), target(secret="x" * 40))).headers["authorization"] != base


async def test_secret_key_name_and_endpoint_override():
    t = target(secret=None, secret_key=SECRET, endpoint="http://127.0.0.1:8080")
    req = request(t=t)
    signed = await provider.sign(req, t)
    names = parse_auth(signed.headers["authorization"])["SignedHeaders"].split(";")
    assert parse_auth(signed.headers["authorization"])["Signature"] == expected_signature(
        signed, SECRET, "us-west-2", names
    )


async def test_stale_auth_headers_are_replaced():
    req = request()
    req.headers.update({"Authorization": "old", "X-Amz-Date": "19700101T000000Z"})
    h = (await provider.sign(req, target())).headers
    assert h["x-amz-date"] == "20250102T030405Z"
    assert h["authorization"].startswith("AWS4-HMAC-SHA256 ")
    assert sum(1 for k in h if k.lower() == "authorization") == 1


def test_missing_secret_is_auth_error_without_key_material():
    with pytest.raises(UpstreamError) as info:
        sign_request(request(), target(secret=None))
    assert (info.value.status, info.value.kind) == (401, "auth")
    assert ACCESS not in info.value.message


def test_missing_access_key_is_auth_error():
    t = target()
    t.api_key = None
    with pytest.raises(UpstreamError) as info:
        sign_request(request(), t)
    assert info.value.kind == "auth"


def test_bearer_mode_uses_api_key():
    t = target()
    t.auth = "bearer"
    t.api_key = "bedrock-api-key-abc"
    signed = sign_request(request(), t)
    assert signed.headers["authorization"] == "Bearer bedrock-api-key-abc"
    assert "x-amz-date" not in signed.headers


def test_auth_none_leaves_request_alone():
    t = target()
    t.auth = "none"
    req = request()
    assert sign_request(req, t) is req


def test_botocore_is_imported_only_when_bedrock_is_used():
    """A serving process that never talks to Bedrock does not load botocore (~30 MB of modules)."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import switchyard.app, switchyard.deps\n"
        "from switchyard.providers.formats import build_providers\n"
        "build_providers()\n"
        "print('botocore' in sys.modules)\n"
        "from switchyard.providers.bedrock.stream import BedrockStreamParser\n"
        "BedrockStreamParser(created=0)\n"
        "print('botocore' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "True"]

"""Organisations' keys (BYOK) are validated, sealed and opened as their wire format's `Provider.credentials` says,
so the admin operations, the keyring and the egress policy name no format: a custom provider of the Bedrock format
gets SigV4 key pairs, and a new format declaring a key pair of its own needs no edit outside its class."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from switchyard.admin.base import parse
from switchyard.admin.provider_keys import (
    ProviderKeyCreate,
    ProviderKeyPatch,
    create_provider_key,
    update_provider_key,
)
from switchyard.config import Settings
from switchyard.errors import GatewayError
from switchyard.pipeline.byok_egress import ByokPolicy
from switchyard.pipeline.keyring import org_key
from switchyard.providers import formats
from switchyard.providers.base import Provider
from switchyard.providers.credentials import CredentialError, CredentialSpec, KeyPair
from switchyard.providers.formats import credentials
from switchyard.providers.openai import OpenAIProvider
from switchyard.providers.registry import load_registry
from switchyard.security import Secrets
from switchyard.stores.base import Org, ProviderKey

BEDROCK = credentials("bedrock")
SECRETS = Secrets(b"m" * 32)
ORG = Org("org-1", "acme", 0)


def test_bedrock_pair_round_trip_either_half_as_the_key() -> None:
    for key, fields in (
        ("AKIAEXAMPLE", {"secret_access_key": "s3cr3t", "session_token": "tok"}),
        ("s3cr3t", {"access_key_id": "AKIAEXAMPLE", "session_token": "tok"}),
    ):
        opened = BEDROCK.open(BEDROCK.seal(key, fields))
        assert opened.api_key == "AKIAEXAMPLE" and opened.auth == "aws-sigv4"
        assert dict(opened.secret_config) == {"secret_access_key": "s3cr3t", "session_token": "tok"}
        assert "s3cr3t" not in repr(opened)


@pytest.mark.parametrize(
    ("fields", "param"),
    [
        (
            {"access_key_id": "A", "secret_access_key": "S"},
            "config.access_key_id",
        ),  # both halves: which is key?
        ({"session_token": "T"}, "config.session_token"),  # a token without the pair's other half
    ],
)
def test_bedrock_pair_mistakes_name_the_field(fields: dict[str, str], param: str) -> None:
    with pytest.raises(CredentialError) as info:
        BEDROCK.seal("k" * 20, fields)
    assert info.value.param == param and "k" * 20 not in info.value.message


def test_a_key_alone_opens_with_the_formats_bare_auth() -> None:
    assert BEDROCK.open(BEDROCK.seal("bedrock-api-key")).auth == "bearer"  # a Bedrock API key
    assert credentials("openai").open("sk-1").auth is None  # the provider's own scheme
    sa = '{"type": "service_account", "project_id": "p"}'
    assert credentials("vertex").open(sa).api_key == sa  # Vertex JSON is the key itself


def test_formats_without_a_pair_refuse_secret_fields() -> None:
    with pytest.raises(CredentialError) as info:
        credentials("openai").seal("sk-1", {"secret_access_key": "S"})
    assert info.value.param == "config.secret_access_key"


def test_vertex_key_check_comes_from_its_class() -> None:
    check = credentials("vertex").key_problem
    assert check is not None and check("ya29.token") is None
    assert "file path" in (check("/etc/gcp/key.json") or "")
    assert "token_uri" in (check('{"token_uri": "http://169.254.169.254/"}') or "")


# -- through the admin operations and the keyring, for a provider id that is not the format's name ---------------


class FakeStore:
    def __init__(self) -> None:
        self.keys: dict[str, ProviderKey] = {}

    async def create_provider_key(
        self, org_id: str, provider: str, ciphertext: str, hint: str, **kw: Any
    ) -> Any:
        pk = ProviderKey(kw["key_id"], org_id, provider, hint, kw["config"], kw["enabled"], 0, 0, ciphertext)
        self.keys[pk.id] = pk
        return pk

    async def get_provider_key(self, org_id: str, key_id: str) -> ProviderKey | None:
        return self.keys.get(key_id)

    async def update_provider_key(
        self, org_id: str, key_id: str, *, ciphertext: Any, config: Any, **kw: Any
    ) -> Any:
        old = self.keys[key_id]
        pk = ProviderKey(
            key_id,
            org_id,
            old.provider,
            old.hint,
            config or old.config,
            True,
            0,
            0,
            ciphertext or old.ciphertext,
        )
        self.keys[key_id] = pk
        return pk


def _policy(providers: dict[str, Any]) -> tuple[Any, ByokPolicy]:
    settings = Settings.model_validate({"home": "/tmp/switchyard-test-keys", "providers": providers})
    registry = load_registry(settings, env={})
    return registry, ByokPolicy(None, registry)


def _add(providers: dict[str, Any], body: dict[str, Any]) -> tuple[FakeStore, ByokPolicy, ProviderKey]:
    registry, policy = _policy(providers)
    store = FakeStore()
    pk = asyncio.run(
        create_provider_key(store, SECRETS, registry, ORG, parse(ProviderKeyCreate, body), policy=policy)
    )
    return store, policy, pk


def test_a_custom_bedrock_format_provider_takes_aws_key_pairs() -> None:
    custom = {"corp-aws": {"format": "bedrock", "config": {"region": "eu-west-1"}}}
    body = {
        "provider": "corp-aws",
        "key": "AKIAEXAMPLE",
        "id": "a",
        "config": {"secret_access_key": "s3cr3t", "region": "eu-west-1"},
    }
    _store, policy, pk = _add(custom, body)
    assert pk.config == {"region": "eu-west-1"} and "s3cr3t" not in pk.ciphertext
    key = org_key(pk, SECRETS, policy)
    assert (key.api_key, key.auth, key.config["secret_access_key"]) == ("AKIAEXAMPLE", "aws-sigv4", "s3cr3t")
    # and the built-in AWS hosts are its egress allow-list, as for `bedrock` itself
    assert (
        policy.egress("corp-aws", "bedrock", None).refusal("https://bedrock-runtime.eu-west-1.amazonaws.com")
        is None
    )


def test_secret_fields_for_a_format_without_them_are_refused_naming_the_field() -> None:
    with pytest.raises(GatewayError) as info:
        _add({}, {"provider": "openai", "key": "k" * 20, "config": {"session_token": "t"}})
    assert info.value.status == 400 and info.value.param == "config.session_token"


class PairedToy(OpenAIProvider):
    """A new format whose keys are an account id and a token: declared here, and nowhere else."""

    name = "paired-toy"
    credentials = CredentialSpec(
        config=frozenset({"base_url", "tenant"}),
        pair=KeyPair("account_id", "account_token", auth="toy-hmac"),
        egress_hosts=("*.toy.example",),
    )


def test_a_new_format_declares_its_key_shape_and_nothing_else_changes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert issubclass(PairedToy, Provider)
    monkeypatch.setitem(formats.FORMATS, "paired-toy", f"{__name__}:PairedToy")
    toy = {"toybox": {"format": "paired-toy", "base_url": "https://api.toy.example/v1"}}
    body = {
        "provider": "toybox",
        "key": "acct-1",
        "id": "t",
        "config": {
            "account_token": "tok-secret-1",
            "tenant": "blue",
            "base_url": "https://eu.toy.example/v1",
        },
    }
    store, policy, pk = _add(toy, body)
    assert pk.config == {"tenant": "blue", "base_url": "https://eu.toy.example/v1"}
    key = org_key(pk, SECRETS, policy)
    assert (key.api_key, key.auth, key.base_url) == ("acct-1", "toy-hmac", "https://eu.toy.example/v1")
    assert dict(key.config) == {"tenant": "blue", "account_token": "tok-secret-1"}
    # credentials are replaced as a whole: the token alone is refused, key + token accepted
    with pytest.raises(GatewayError) as info:
        asyncio.run(
            update_provider_key(
                store,
                SECRETS,
                ORG,
                "t",
                parse(ProviderKeyPatch, {"config": {"account_token": "x"}}),
                policy=policy,
            )
        )
    assert info.value.param == "config.account_token"
    patch = parse(ProviderKeyPatch, {"key": "acct-2", "config": {"account_token": "tok-2"}})
    pk = asyncio.run(update_provider_key(store, SECRETS, ORG, "t", patch, policy=policy))
    assert orjson.loads(SECRETS.decrypt(pk.ciphertext)) == {"account_id": "acct-2", "account_token": "tok-2"}
    # its egress hosts come from the class too
    with pytest.raises(GatewayError) as info:
        _add(
            toy, {**body, "id": "u", "config": {"account_token": "t", "base_url": "https://evil.example/v1"}}
        )
    assert info.value.param == "config.base_url"


def test_a_new_formats_secret_parts_are_scrubbed_from_messages(monkeypatch: pytest.MonkeyPatch) -> None:
    from switchyard.providers.base import Target
    from switchyard.providers.scrub import scrub

    monkeypatch.setitem(formats.FORMATS, "paired-toy", f"{__name__}:PairedToy")
    t = Target(
        "toybox",
        "m",
        "paired-toy",
        "https://api.toy.example",
        "acct-1",
        config={"account_token": "tok-9f8e7d6c"},
    )
    assert (
        scrub("upstream said: bad token tok-9f8e7d6c for acct-1", t)
        == "upstream said: bad token [redacted] for acct-1"
    )

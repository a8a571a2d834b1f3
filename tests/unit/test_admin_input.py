"""The admin package's input checks, shared by the admin API, the CLI and the dashboard (admin/*.py)."""

from __future__ import annotations

import pytest

from switchyard.admin.base import parse
from switchyard.admin.limits import parse_limit_spec
from switchyard.admin.provider_keys import ProviderKeyCreate, ProviderKeyPatch
from switchyard.admin.webhooks import AlertCreate, WebhookCreate
from switchyard.errors import GatewayError

ALERT = {"name": "spend", "metric": "cost_usd", "window_minutes": 5, "threshold": 1.0}


def _refusal(model, data) -> str:
    with pytest.raises(GatewayError) as e:
        parse(model, data)
    assert e.value.status == 400
    return str(e.value)


@pytest.mark.parametrize(
    "url, why",
    [
        ("ftp://hooks.example/x", "must be an absolute http:// or https:// URL"),
        ("hooks.example/x", "must be an absolute http:// or https:// URL"),
        ("https://user:pw@hooks.example/x", "must not carry credentials"),
        ("https://hooks.example/" + "x" * 2048, "at most 2048 characters"),
    ],
)
def test_every_url_field_refuses_the_same_urls_with_the_same_reason(url: str, why: str) -> None:
    assert f"url: {why}" in _refusal(WebhookCreate, {"url": url})
    assert f"webhook_url: {why}" in _refusal(AlertCreate, {**ALERT, "webhook_url": url})
    if len(url) <= 2048:  # a config value is at most 2048 characters on its own
        create = {"provider": "openai", "key": "sk-x", "config": {"base_url": url}}
        assert f"config: base_url {why}" in _refusal(ProviderKeyCreate, create)
        assert f"config: base_url {why}" in _refusal(ProviderKeyPatch, {"config": {"base_url": url}})


def test_a_plain_https_url_is_accepted_everywhere() -> None:
    url = "https://hooks.example:8443/path?q=1"
    assert parse(WebhookCreate, {"url": url}).url == url
    assert parse(AlertCreate, {**ALERT, "webhook_url": url}).webhook_url == url
    body = parse(ProviderKeyCreate, {"provider": "openai", "key": "sk-x", "config": {"base_url": url}})
    assert body.config == {"base_url": url}


def test_nul_and_unknown_fields_are_refused_naming_the_field() -> None:
    assert "property_filter.a: must not contain NUL" in _refusal(
        WebhookCreate, {"url": "https://h.example", "property_filter": {"a": "x\x00"}}
    )
    assert "unknown field (accepted: url, secret," in _refusal(
        WebhookCreate, {"url": "https://h.example", "x": 1}
    )


def test_the_cli_limit_form_is_checked_like_the_json_form() -> None:
    rule = parse_limit_spec("usd:5:1d:property:Team")
    assert (rule.metric, rule.limit, rule.window_seconds, rule.per) == ("usd", 5.0, 86400, "property:team")
    with pytest.raises(GatewayError, match="window_seconds: Input should be less than or equal to 31536000"):
        parse_limit_spec("requests:1:400d")

"""security.looks_like_gateway_key: Switchyard's own keys and exactly Helicone's key shapes (imported with
`switchyard keys import`) are looked up; every other string is refused without a store query."""

from __future__ import annotations

import pytest

from switchyard.security import display_prefix, looks_like_gateway_key, new_gateway_key

G = "ab12cd3-ef45gh6-ij78kl9-mn01op2"


@pytest.mark.parametrize(
    "key",
    [
        f"sk-helicone-{G}",
        f"pk-helicone-{G}",
        f"sk-helicone-eu-{G}",
        f"pk-helicone-eu-{G}",
        f"sk-helicone-cp-{G}",
        f"sk-helicone-rl-{G}",
        f"sk-helicone-eu-rl-{G}",
        f"sk-{G}",
    ],
)
def test_helicone_shapes_are_looked_up(key):
    assert looks_like_gateway_key(key)
    assert display_prefix(key).endswith("ab12…") and G[4:] not in display_prefix(key)


@pytest.mark.parametrize(
    "key",
    [
        "sk-proj-" + "a" * 48,
        "sk-ant-api03-" + "a" * 80,
        "sk-helicone-",
        f"sk-helicone-{G}x",
        f"sk-helicone-{G[:-1]}",
        f"xk-helicone-{G}",
        f"sk-helicone-{G.replace('-', '_')}",
        f"sk-helicone-{G}\n",
        "a" * 200,
        "",
        "sk-sy-short",
        "sk-helicone-ab12cd3-ef45gh6-ij78kl9-mn01op\u00e9",
    ],
)
def test_anything_else_is_refused_without_a_lookup(key):
    assert not looks_like_gateway_key(key)


def test_own_keys_still_pass_and_show_their_usual_prefix():
    k = new_gateway_key()
    assert looks_like_gateway_key(k) and display_prefix(k) == k[:10] + "…"

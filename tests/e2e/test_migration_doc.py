"""docs/migrating-from-helicone.md, executed: every fenced block of the page runs, in order, against a real gateway.

- ```yaml blocks are configuration: each must load as a valid configuration; the gateway runs with its `models`
  section (provider addresses and keys point at the mock upstream, as the page's `${VAR}`s would at real ones);
- ```bash blocks run in bash (`set -euo pipefail`) with `switchyard` on PATH and the gateway's home/config;
- ```python blocks run in this interpreter.
Each block must exit 0; the test then checks what the page promises happened.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from support.gateway import BIN, GatewayProcess, default_config, free_port

DOC = Path(__file__).resolve().parents[2] / "docs" / "migrating-from-helicone.md"
HELICONE_KEY = "sk-helicone-doc1234-doc5678-doc9012-doc3456"
CALLER_OPENAI = "sk-doc-caller-openai-key-0123456789"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```$", re.S | re.M)


def blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in BLOCK.finditer(DOC.read_text())]


@pytest.fixture(scope="module")
def gw(upstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    configs = [yaml.safe_load(text) for lang, text in blocks() if lang == "yaml"]
    assert configs, "the page shows its configuration"
    g = GatewayProcess(
        tmp_path_factory.mktemp("gateway-doc"),
        default_config(
            upstream.url,
            free_port(),
            models=configs[0]["models"],
            admin={"key": "admin-doc-0123456789abcdefghijklmn"},
        ),
    )
    g.home.mkdir(parents=True, exist_ok=True)
    g.config_path.write_text(yaml.safe_dump(g.config))
    g.start()
    yield g
    g.stop()


def test_the_configuration_on_the_page_loads(tmp_path):
    from switchyard.config import load_settings

    for lang, text in blocks():
        if lang == "yaml":
            path = tmp_path / "doc.yaml"
            path.write_text(text)
            s = load_settings(str(path), env={"OPENAI_API_KEY": "k1", "ANTHROPIC_API_KEY": "k2"})
            assert s.models.aliases and s.models.deployments


def test_every_snippet_runs_in_order(gw, upstream):
    env = {
        **os.environ,
        "PATH": f"{BIN.parent}{os.pathsep}{os.environ.get('PATH', '')}",
        "SWITCHYARD_HOME": str(gw.home),
        "SWITCHYARD_CONFIG": str(gw.config_path),
        "SWITCHYARD_URL": gw.url,
        "HELICONE_API_KEY": HELICONE_KEY,
        "OPENAI_API_KEY": CALLER_OPENAI,
        "NO_PROXY": "127.0.0.1,localhost",
    }
    ran = {"bash": 0, "python": 0}
    outputs: list[str] = []
    for lang, text in blocks():
        if lang == "yaml":
            continue
        assert lang in ran, f"a {lang} block the test does not know how to run"
        cmd = ["bash", "-c", "set -euo pipefail\n" + text] if lang == "bash" else [sys.executable, "-c", text]
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (
            f"{lang} block failed:\n{text}\n--- stderr:\n{done.stderr}\n--- stdout:\n{done.stdout}"
        )
        outputs.append(done.stdout)
        ran[lang] += 1
        if "orgs update acme --allow-caller-provider-keys" in text:
            _wait_for_caller_keys(gw, upstream)
    assert ran["bash"] >= 5 and ran["python"] >= 3

    # what the page promises
    joined = "\n".join(outputs)
    assert "imported gateway key" in joined and "sk-helicone-doc1…" in joined and HELICONE_KEY not in joined
    assert re.search(r"^cus_Q1\s+2\s", joined, re.M) and re.search(r"^cus_R2\s+1\s", joined, re.M)
    assert '"request_user_id":"alice@example.com"' in joined.replace(
        " ", ""
    )  # the query API found the request
    models = httpx.get(gw.url + "/v1/models", headers={"Authorization": f"Bearer {HELICONE_KEY}"}, timeout=10)
    assert {"my-gpt", "smart"} <= {m["id"] for m in models.json()["data"]}
    # the last program sent the caller's own OpenAI key upstream, once the organisation allowed it
    last = upstream.last("/v1/chat/completions")
    assert last.headers["authorization"] == f"Bearer {CALLER_OPENAI}" and last.body["messages"][0][
        "content"
    ] == ("Say hello")


def _wait_for_caller_keys(gw: GatewayProcess, upstream) -> None:
    """The running gateway sees the organisation's change within about a second (its revision poll): probe until a
    proxy-style request carries the caller's key upstream."""
    import time

    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        r = httpx.post(
            gw.url + "/v1/chat/completions",
            json={"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "probe"}]},
            headers={"Helicone-Auth": f"Bearer {HELICONE_KEY}", "Authorization": f"Bearer {CALLER_OPENAI}"},
            timeout=30,
        )
        r.raise_for_status()
        if upstream.last("/v1/chat/completions").headers["authorization"] == f"Bearer {CALLER_OPENAI}":
            return
        time.sleep(0.2)
    raise AssertionError("the organisation's switch did not take")

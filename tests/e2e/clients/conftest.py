"""The client matrix's fixtures: one agent upstream (tests/support/agent_upstream.py) and one gateway process for
the whole directory, with OpenAI, Anthropic, Gemini, Claude on Vertex and Claude on Bedrock all pointed at it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from support.agent_upstream import AgentUpstream
from support.gateway import GatewayProcess, free_port


@pytest.fixture(scope="session")
def agent_upstream() -> Iterator[AgentUpstream]:
    mock = AgentUpstream().start()
    yield mock
    mock.stop()


@pytest.fixture(scope="session")
def matrix_gateway(
    agent_upstream: AgentUpstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GatewayProcess]:
    up = agent_upstream.url
    cfg = {
        "server": {"host": "127.0.0.1", "port": free_port(), "workers": 1, "max_body_bytes": 1024 * 1024},
        "providers": {
            "openai": {"api_key": "sk-upstream-openai-matrix-0001", "base_url": f"{up}/openai/v1"},
            "anthropic": {"api_key": "sk-ant-upstream-matrix-0002", "base_url": f"{up}/anthropic/v1"},
            "google-ai-studio": {"api_key": "AIzaUpstreamMatrix0003xyz", "base_url": f"{up}/gemini/v1beta"},
            "vertex": {
                "base_url": f"{up}/vertex/v1/projects/{{project}}/locations/{{region}}",
                "api_key": "ya29.vertex-matrix-token-0005",
                "config": {"project": "proj-m", "region": "us-east5"},
            },
            "bedrock": {
                "api_key": "AKIAMATRIXACCESSKEY06",
                "config": {
                    "endpoint": f"{up}/bedrock",
                    "region": "us-east-1",
                    "secret_key": "matrix/secret/access/key/0007",
                },
            },
        },
        "log": {"flush_interval_ms": 50},
    }
    gw = GatewayProcess(tmp_path_factory.mktemp("client-matrix"), cfg)
    gw.prepare()
    gw.start()
    yield gw
    gw.stop()

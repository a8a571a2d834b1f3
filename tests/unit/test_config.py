"""switchyard.config: loading, interpolation, validation; and how provider settings merge into the registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from switchyard.config import ConfigError, Settings, interpolate, load_settings
from switchyard.providers.registry import RegistryError, load_registry


def write(tmp_path: Path, text: str) -> str:
    p = tmp_path / "switchyard.yaml"
    p.write_text(text)
    return str(p)


def load(tmp_path: Path, text: str | None = None, **env: str) -> Settings:
    env.setdefault("SWITCHYARD_HOME", str(tmp_path / "home"))
    return load_settings(write(tmp_path, text) if text is not None else None, env=env)


def config_error(tmp_path: Path, text: str, **env: str) -> str:
    with pytest.raises(ConfigError) as info:
        load(tmp_path, text, **env)
    return str(info.value)


# -- defaults --------------------------------------------------------------------------------------------


def test_defaults_without_a_file(tmp_path: Path) -> None:
    s = load(tmp_path)
    home = (tmp_path / "home").resolve()
    assert s.server.port == 8787 and s.server.host == "127.0.0.1"
    assert s.home_path == home
    assert s.database_url == f"sqlite:///{home / 'switchyard.db'}"
    assert s.spool_path == home / "spool"
    assert s.providers == {}
    assert s.log.store_bodies is True
    assert s.security.master_key is None


def test_home_defaults_to_dot_switchyard_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    s = load_settings(None, env={})
    assert s.home_path == (tmp_path / ".switchyard").resolve()
    assert s.database_url.startswith("sqlite:///") and s.database_url.endswith("/.switchyard/switchyard.db")


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    assert load(tmp_path, "").server.port == 8787
    assert load(tmp_path, "# only a comment\n").server.port == 8787


def test_values_from_the_file(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        """
server:
  host: 0.0.0.0
  port: 9000
database:
  url: postgresql://u@db:5432/gw
  schema: gateway_a
log:
  spool_dir: /var/spool/sy
""",
    )
    assert (s.server.host, s.server.port) == ("0.0.0.0", 9000)
    assert s.database_url == "postgresql://u@db:5432/gw" and s.database.schema_name == "gateway_a"
    assert s.spool_path == Path("/var/spool/sy")


def test_config_path_from_environment(tmp_path: Path) -> None:
    path = write(tmp_path, "server:\n  port: 9100\n")
    s = load_settings(None, env={"SWITCHYARD_CONFIG": path, "SWITCHYARD_HOME": str(tmp_path)})
    assert s.server.port == 9100
    other = tmp_path / "other.yaml"
    other.write_text("server:\n  port: 9200\n")
    s = load_settings(str(other), env={"SWITCHYARD_CONFIG": path, "SWITCHYARD_HOME": str(tmp_path)})
    assert s.server.port == 9200, "an explicit path wins over $SWITCHYARD_CONFIG"


# -- interpolation ---------------------------------------------------------------------------------------


def test_interpolation(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        """
server:
  port: ${PORT}
  host: ${HOST:-0.0.0.0}
providers:
  openai:
    api_key: ${OPENAI_KEY}
    base_url: https://${PROXY_HOST}/v1
  anthropic:
    api_key: ${ANTHROPIC_KEY:-}
    headers:
      x-team: ${TEAM:-platform}
""",
        PORT="9300",
        OPENAI_KEY="sk-test",
        PROXY_HOST="proxy.internal",
    )
    assert s.server.port == 9300  # interpolated text is then validated and converted
    assert s.server.host == "0.0.0.0"
    assert s.providers["openai"].api_key == "sk-test"
    assert s.providers["openai"].base_url == "https://proxy.internal/v1"
    assert s.providers["anthropic"].api_key is None  # empty default → unset
    assert s.providers["anthropic"].headers == {"x-team": "platform"}


def test_unset_variable_without_default_becomes_unset(tmp_path: Path) -> None:
    s = load(tmp_path, "providers:\n  openai:\n    api_key: ${NOT_SET_ANYWHERE}\n")
    assert s.providers["openai"].api_key is None


def test_empty_variable_uses_the_default(tmp_path: Path) -> None:
    s = load(tmp_path, "server:\n  host: ${HOST:-10.0.0.1}\n", HOST="")
    assert s.server.host == "10.0.0.1"


def test_interpolate_is_single_pass_and_walks_lists() -> None:
    env = {"A": "${B}", "B": "secret"}
    assert interpolate("x-${A}-y", env) == "x-${B}-y"
    assert interpolate({"k": ["${B}", 3, {"n": "${B:-d}"}]}, env) == {"k": ["secret", 3, {"n": "secret"}]}
    assert interpolate("$B ${ B} ${1X}", env) == "$B ${ B} ${1X}"  # not variable references


# -- errors ----------------------------------------------------------------------------------------------


def test_bad_value_names_the_field(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "server:\n  port: abc\n")
    assert "server.port" in msg


def test_out_of_range_value_names_the_field(tmp_path: Path) -> None:
    assert "server.port" in config_error(tmp_path, "server:\n  port: 70000\n")
    assert "log.batch_size" in config_error(tmp_path, "log:\n  batch_size: 0\n")


def test_unknown_key_names_the_field(tmp_path: Path) -> None:
    assert "server.bogus" in config_error(tmp_path, "server:\n  bogus: 1\n")
    assert "nope" in config_error(tmp_path, "nope: 1\n")
    assert "providers.openai.api_kye" in config_error(tmp_path, "providers:\n  openai:\n    api_kye: x\n")


def test_every_problem_is_reported(tmp_path: Path) -> None:
    msg = config_error(tmp_path, "server:\n  port: abc\ndatabase:\n  url: mysql://x\n  schema: bad-name\n")
    assert "server.port" in msg and "database.url" in msg and "database.schema" in msg


def test_bad_enum_names_the_field(tmp_path: Path) -> None:
    assert "providers.mine.format" in config_error(tmp_path, "providers:\n  mine:\n    format: grpc\n")


def test_interpolated_bad_value_names_the_field(tmp_path: Path) -> None:
    assert "server.port" in config_error(tmp_path, "server:\n  port: ${PORT}\n", PORT="eighty")


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as info:
        load_settings(str(missing), env={"SWITCHYARD_HOME": str(tmp_path)})
    assert str(missing) in str(info.value)


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(str(tmp_path), env={"SWITCHYARD_HOME": str(tmp_path)})  # a directory
    assert "cannot read" in str(info.value)


def test_invalid_yaml(tmp_path: Path) -> None:
    assert "YAML" in config_error(tmp_path, "server: [1, 2\n")


@pytest.mark.parametrize("text", ["- a\n- b\n", "just a string\n", "42\n"])
def test_non_mapping_yaml(tmp_path: Path, text: str) -> None:
    assert "mapping" in config_error(tmp_path, text)


def test_settings_are_frozen(tmp_path: Path) -> None:
    s = load(tmp_path)
    with pytest.raises(Exception):  # noqa: B017 - pydantic raises ValidationError for frozen models
        s.server.port = 1  # type: ignore[misc]


# -- providers → registry --------------------------------------------------------------------------------


def test_custom_provider_needs_a_format(tmp_path: Path) -> None:
    s = load(tmp_path, "providers:\n  my-vllm:\n    base_url: http://vllm:8000/v1\n")
    with pytest.raises(RegistryError) as info:
        load_registry(s, env={})
    assert "providers.my-vllm" in str(info.value) and "format" in str(info.value)


def test_custom_provider_needs_a_base_url(tmp_path: Path) -> None:
    s = load(tmp_path, "providers:\n  my-vllm:\n    format: openai\n")
    with pytest.raises(RegistryError) as info:
        load_registry(s, env={})
    assert "providers.my-vllm" in str(info.value) and "base_url" in str(info.value)


def test_custom_provider(tmp_path: Path) -> None:
    s = load(
        tmp_path,
        """
providers:
  my-vllm:
    format: openai
    base_url: http://vllm:8000/v1/
    api_key: ${VLLM_KEY}
    headers: {x-tenant: acme}
""",
        VLLM_KEY="vk",
    )
    p = load_registry(s, env={}).providers["my-vllm"]
    assert p.custom and p.format == "openai" and p.base_url == "http://vllm:8000/v1"
    assert p.api_key == "vk" and p.auth == "bearer" and dict(p.headers) == {"x-tenant": "acme"}
    assert p.completions and p.embeddings  # a custom provider is assumed to serve every OpenAI route


def test_builtin_override_keeps_other_fields(tmp_path: Path) -> None:
    s = load(tmp_path, "providers:\n  openai:\n    base_url: http://egress-proxy/openai/v1/\n")
    reg = load_registry(s, env={"OPENAI_API_KEY": "from-env"})
    p = reg.providers["openai"]
    assert p.base_url == "http://egress-proxy/openai/v1"
    assert not p.custom
    assert p.format == "openai" and p.auth == "bearer" and p.key_env == ("OPENAI_API_KEY",)
    assert p.api_key == "from-env" and p.priority == 3 and p.embeddings and p.responses
    assert reg.models["gpt-4o-mini"].endpoints["openai"].provider_model_id == "gpt-4o-mini"


def test_builtin_override_merges_config_with_options(tmp_path: Path) -> None:
    s = load(tmp_path, "providers:\n  anthropic:\n    api_key: direct\n    config:\n      beta: x\n")
    p = load_registry(s, env={"ANTHROPIC_API_KEY": "from-env"}).providers["anthropic"]
    assert p.api_key == "direct"  # the config's key wins over the environment
    assert dict(p.config) == {"anthropic_version": "2023-06-01", "beta": "x"}


def test_builtin_override_priority(tmp_path: Path) -> None:
    s = load(tmp_path, "providers:\n  openrouter:\n    priority: 1\n")
    assert load_registry(s, env={}).providers["openrouter"].priority == 1


def test_builtin_override_priority_zero(tmp_path: Path) -> None:
    s = load(tmp_path, "providers:\n  openrouter:\n    priority: 0\n")
    assert load_registry(s, env={}).providers["openrouter"].priority == 0

"""The management CLI against a temporary SWITCHYARD_HOME: provider keys (secret from stdin or the environment,
never argv, never printed, never stored in the clear), credits, organisation and key updates."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from support.cli_inprocess import run_cli

SECRET = "sk-cli-byok-SECRET-0f3e9a7c5d21"
SECRET_2 = "sk-cli-byok-ROTATED-88aa1b2c3d4e"
AWS_ID = "AKIACLIEXAMPLE000042"
AWS_SECRET = "cliAwsSecretAccessKey/EXAMPLE+0123456789"


class Cli:
    def __init__(self, home: Path) -> None:
        self.home = home
        self.outputs: list[str] = []

    def __call__(
        self, *args: str, stdin: str | None = None, env: dict[str, str] | None = None, ok: bool = True
    ) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "SWITCHYARD_HOME": str(self.home), **(env or {})}
        full_env.pop("SWITCHYARD_CONFIG", None)
        out = run_cli(args, env=full_env, stdin=stdin if stdin is not None else "")
        self.outputs += [out.stdout, out.stderr]
        if ok:
            assert out.returncode == 0, out.stderr
        else:
            assert out.returncode == 1, (out.stdout, out.stderr)
        return out

    def assert_never_leaked(self, *secrets: str) -> None:
        for text in self.outputs:
            for s in secrets:
                assert s not in text
        db = (self.home / "switchyard.db").read_bytes()
        for wal in self.home.glob("switchyard.db-wal"):
            db += wal.read_bytes()
        for s in secrets:
            assert s.encode() not in db  # encrypted at rest


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Cli:
    c = Cli(tmp_path_factory.mktemp("cli-admin"))
    c("orgs", "create", "acme")
    return c


def test_provider_key_from_stdin_is_listed_only_by_its_hint(cli):
    out = cli(
        "provider-keys",
        "add",
        "--org",
        "acme",
        "--provider",
        "openai",
        "--id",
        "main",
        "--set",
        "base_url=https://api.openai.com/v1",
        stdin=SECRET + "\n",
    )
    assert "main" in out.stdout and SECRET[-4:] in out.stdout
    listing = cli("provider-keys", "list", "--org", "acme").stdout
    line = next(ln for ln in listing.splitlines() if ln.startswith("main "))
    assert "openai" in line and f"…{SECRET[-4:]}" in line and "enabled" in line
    assert "base_url=https://api.openai.com/v1" in line

    cli(
        "provider-keys",
        "update",
        "main",
        "--org",
        "acme",
        "--key-stdin",
        "--unset",
        "base_url",
        "--disable",
        stdin=SECRET_2,
    )
    line = next(
        ln
        for ln in cli("provider-keys", "list", "--org", "acme").stdout.splitlines()
        if ln.startswith("main ")
    )
    assert f"…{SECRET_2[-4:]}" in line and "disabled" in line and "base_url" not in line

    cli("provider-keys", "remove", "main", "--org", "acme")
    assert "main " not in cli("provider-keys", "list", "--org", "acme").stdout
    err = cli("provider-keys", "remove", "main", "--org", "acme", ok=False).stderr
    assert err.startswith("error:") and "main" in err
    cli.assert_never_leaked(SECRET, SECRET_2)


def test_bedrock_secrets_come_from_the_environment_only(cli):
    refused = cli(
        "provider-keys",
        "add",
        "--org",
        "acme",
        "--provider",
        "bedrock",
        "--key-env",
        "AWS_ID",
        "--set",
        f"secret_access_key={AWS_SECRET}",
        env={"AWS_ID": AWS_ID},
        ok=False,
    )
    assert "--set-env secret_access_key=VAR" in refused.stderr
    cli(
        "provider-keys",
        "add",
        "--org",
        "acme",
        "--provider",
        "aws",
        "--id",
        "aws",
        "--key-env",
        "AWS_ID",
        "--set",
        "region=eu-west-1",
        "--set-env",
        "secret_access_key=AWS_SECRET",
        env={"AWS_ID": AWS_ID, "AWS_SECRET": AWS_SECRET},
    )
    line = next(
        ln
        for ln in cli("provider-keys", "list", "--org", "acme").stdout.splitlines()
        if ln.startswith("aws ")
    )
    assert "bedrock" in line and "region=eu-west-1" in line and "secret" not in line
    listing = cli("provider-keys", "list", "--org", "acme", "--json").stdout
    assert '"config": {\n      "region": "eu-west-1"\n    }' in listing
    missing = cli(
        "provider-keys",
        "add",
        "--org",
        "acme",
        "--provider",
        "openai",
        "--key-env",
        "NOT_SET_ANYWHERE",
        ok=False,
    )
    assert "NOT_SET_ANYWHERE" in missing.stderr
    cli.assert_never_leaked(AWS_SECRET)


def test_provider_key_mistakes_are_one_line_errors(cli):
    err = cli(
        "provider-keys", "add", "--org", "acme", "--provider", "no-such", stdin="k" * 20, ok=False
    ).stderr
    assert err.startswith("error: provider: unknown provider 'no-such'")
    err = cli("provider-keys", "add", "--org", "acme", "--provider", "openai", stdin="", ok=False).stderr
    assert "no key given on stdin" in err
    err = cli(
        "provider-keys", "add", "--org", "nobody", "--provider", "openai", stdin="k" * 20, ok=False
    ).stderr
    assert "nobody" in err
    err = cli(
        "provider-keys",
        "add",
        "--org",
        "acme",
        "--provider",
        "openai",
        "--set",
        "colour=red",
        stdin="k" * 20,
        ok=False,
    ).stderr
    assert "config" in err and "colour" in err
    assert "k" * 20 not in "".join(cli.outputs)


def test_credits_add_show_and_ledger(cli):
    assert "balance $0," in cli("credits", "show", "--org", "acme").stdout
    out = cli("credits", "add", "12.5", "--org", "acme", "--note", "welcome").stdout
    assert "added $12.5" in out and "balance $12.5" in out and "not enabled" in out
    cli("credits", "add", "0.25", "--org", "acme")
    shown = cli("credits", "show", "--org", "acme").stdout
    assert "balance $12.75" in shown and "reserved $0" in shown and "available $12.75" in shown
    ledger = cli("credits", "ledger", "--org", "acme").stdout.splitlines()
    assert (
        len(ledger) == 2 and "$0.25" in ledger[0] and "$12.5" in ledger[1] and ledger[1].endswith("welcome")
    )
    assert "grant" in ledger[0]
    assert len(cli("credits", "ledger", "--org", "acme", "--limit", "1").stdout.splitlines()) == 1
    assert json.loads(cli("credits", "show", "--org", "acme", "--json").stdout)["available_usd"] == 12.75
    for bad in ("0", "ten", "1e12"):
        err = cli("credits", "add", bad, "--org", "acme", ok=False).stderr
        assert err.startswith("error:") and ("amount" in err)
    assert "balance $12.75" in cli("credits", "show", "--org", "acme").stdout


def test_org_and_key_updates(cli):
    out = cli(
        "orgs",
        "update",
        "acme",
        "--credits-enabled",
        "--limit",
        "requests:100:1m",
        "--limit",
        "usd:5:1d:user",
    ).stdout
    assert "credits enabled" in out and "requests:100:60:key" in out and "usd:5:86400:user" in out
    assert "credits enabled" in cli("credits", "show", "--org", "acme").stdout
    err = cli("orgs", "update", "acme", "--limit", "requests:0:60", ok=False).stderr
    assert "limit" in err and "greater than 0" in err
    err = cli("orgs", "update", "acme", "--limit", "requests:10:60:team", ok=False).stderr
    assert "per" in err
    assert "limits none" in cli("orgs", "update", "acme", "--no-credits-enabled", "--no-limits").stdout
    assert cli("orgs", "update", "acme", ok=False).stderr.startswith("error: nothing to update")

    created = cli("keys", "create", "--org", "acme", "--name", "ci").stdout.strip().splitlines()
    key_id = created[0].split()[3]
    key = created[-1]
    out = cli(
        "keys",
        "update",
        key_id,
        "--allowed-models",
        "gpt-4o-mini,claude-sonnet-4/anthropic",
        "--limit",
        "tokens:100000:1h",
    ).stdout
    assert "gpt-4o-mini,claude-sonnet-4/anthropic" in out and "tokens:100000:3600:key" in out
    listing = cli("keys", "list", "--org", "acme").stdout
    assert "models=gpt-4o-mini,claude-sonnet-4/anthropic" in listing and key not in listing
    out = cli("keys", "update", key_id, "--allowed-models", "", "--no-limits").stdout
    assert "models all" in out and "limits none" in out
    err = cli("keys", "update", "no-such-key", "--name", "x", ok=False).stderr
    assert "no-such-key" in err

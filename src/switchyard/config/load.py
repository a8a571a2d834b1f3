"""Reading the configuration: one YAML file with `${VAR}` / `${VAR:-default}` interpolation → `Settings`.

Resolution: `--config PATH`, else `$SWITCHYARD_CONFIG`, else no file (embedded defaults). Home directory for
embedded state: `$SWITCHYARD_HOME`, else `./.switchyard`. A bad file fails the start with a message that names
the bad field.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from .base import ConfigError
from .settings import Settings

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def interpolate(value: Any, env: dict[str, str], where: str = "") -> Any:
    """Replace `${VAR}` and `${VAR:-default}` in every string of a parsed YAML tree."""
    if isinstance(value, str):

        def sub(m: re.Match[str]) -> str:
            name, default = m.group(1), m.group(2)
            if name in env and env[name] != "":
                return env[name]
            if default is not None:
                return default
            return ""  # an unset secret becomes empty: the provider then reports the missing key clearly

        return _VAR.sub(sub, value)
    if isinstance(value, dict):
        return {k: interpolate(v, env, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _blank_to_none(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _blank_to_none(v) for k, v in tree.items()}
    if tree == "":
        return None
    return tree


def load_settings(path: str | None = None, env: dict[str, str] | None = None) -> Settings:
    env = dict(os.environ) if env is None else env
    path = path or env.get("SWITCHYARD_CONFIG") or None
    raw: dict[str, Any] = {}
    if path:
        p = Path(path)
        try:
            text = p.read_text()
        except OSError as e:
            raise ConfigError(f"cannot read config file {path}: {e.strerror}") from None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError as e:
            raise ConfigError(f"config file {path} is not valid YAML: {e}") from None
        if loaded is None:
            loaded = {}
        if not isinstance(loaded, dict):
            raise ConfigError(f"config file {path}: the top level must be a mapping")
        raw = _blank_to_none(interpolate(loaded, env))
    home = env.get("SWITCHYARD_HOME") or str(Path.cwd() / ".switchyard")
    raw["home"] = str(Path(home).resolve())
    admin_key = env.get("SWITCHYARD_ADMIN_KEY")
    if admin_key:  # the admin API's key from the environment, unless the file sets admin.key
        admin = raw.get("admin")
        if admin is None:
            raw["admin"] = {"key": admin_key}
        elif isinstance(admin, dict) and not admin.get("key"):
            raw["admin"] = {**admin, "key": admin_key}
    try:
        return Settings.model_validate(raw)
    except ValidationError as e:
        problems = []
        for err in e.errors():
            loc = ".".join(str(x) for x in err["loc"]) or "(top level)"
            problems.append(f"{loc}: {err['msg']}")
        raise ConfigError(f"invalid config {path or ''}: " + "; ".join(problems)) from None

"""`switchyard prompts ...`: managed prompts (create, version, list, show, deploy, diff), through the same
validation and operations as the admin API (`admin/prompts.py`). Running gateways see a change within a
second (they poll the store's prompt revision).

A version is named by its id or by its number (`2` or `v2`); a body is a JSON file, or `-` for standard input.
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import sys
from typing import Any

import orjson

from ..admin import prompts as ap
from ..admin.base import parse, store_errors
from ..admin.orgs import resolve_org
from ..config import Settings
from ..stores.sql import SQLStore
from ..stores.sql_prompts import PromptStore
from .runner import CommandError, command, run_store


def _read_body(source: str) -> Any:
    try:
        raw = sys.stdin.buffer.read() if source == "-" else open(source, "rb").read()  # noqa: SIM115
    except OSError as e:
        raise CommandError(f"{source}: {e.strerror}") from None
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as e:
        raise CommandError(f"{source}: not valid JSON ({e.msg})") from None


def _pick(p: Any, ref: str) -> Any:
    """A version of prompt `p` by id, or by number (`2`, `v2`)."""
    num = ref[1:] if ref[:1] in "vV" else ref
    for v in p.versions:
        if v.id == ref or (num.isdigit() and v.number == int(num)):
            return v
    raise CommandError(
        f"prompt {p.id} has no version {ref!r} (versions: {', '.join(f'v{v.number}' for v in p.versions)})"
    )


def _when(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def _print(data: Any) -> None:
    print(orjson.dumps(data, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode())


@command
def cmd_create(settings: Settings, args: argparse.Namespace) -> int:
    fields = {
        "body": _read_body(args.body),
        **({"id": args.id} if args.id else {}),
        **({"name": args.name} if args.name else {}),
    }
    body = parse(ap.PromptCreate, fields)

    async def go(store: SQLStore) -> Any:
        return await ap.create_prompt(PromptStore(store), await resolve_org(store, args.org), body)

    out = run_store(settings, go)
    if args.json:
        _print(out)
    else:
        print(f"created prompt {out['id']} version v1 {out['version_id']} (deployed to production)")
    return 0


@command
def cmd_version(settings: Settings, args: argparse.Namespace) -> int:
    body = parse(ap.VersionCreate, {"body": _read_body(args.body)})

    async def go(store: SQLStore) -> Any:
        return await ap.add_version(PromptStore(store), await resolve_org(store, args.org), args.prompt, body)

    out = run_store(settings, go)
    if args.json:
        _print(out)
    else:
        print(
            f"created version v{out['number']} {out['version_id']} of prompt {out['id']} (not deployed; "
            f"deploy with: switchyard prompts deploy {out['id']} v{out['number']} --env production "
            f"--org {args.org})"
        )
    return 0


@command
def cmd_list(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> Any:
        org = await resolve_org(store, args.org)
        with store_errors():
            return await PromptStore(store).list(org.id)

    prompts = run_store(settings, go)
    if args.json:
        _print([ap.prompt_json(p) for p in prompts])
        return 0
    for p in prompts:
        envs = ", ".join(f"{e}={v}" for e, v in sorted(p.environments.items()))
        print(f"{p.id}  {p.name or '-'}  {envs}")
    return 0


async def _get(store: SQLStore, org_ref: str, prompt_id: str) -> Any:
    return await ap.get_prompt(PromptStore(store), await resolve_org(store, org_ref), prompt_id)


@command
def cmd_show(settings: Settings, args: argparse.Namespace) -> int:
    p = run_store(settings, lambda s: _get(s, args.org, args.prompt))
    if args.json:
        _print(ap.prompt_json(p))
        return 0
    by_version: dict[str, list[str]] = {}
    for env, vid in sorted(p.environments.items()):
        by_version.setdefault(vid, []).append(env)
    print(f"prompt {p.id}  {p.name or ''}".rstrip())
    for v in p.versions:
        envs = f"  [{', '.join(by_version[v.id])}]" if v.id in by_version else ""
        print(f"  v{v.number}  {v.id}  {_when(v.created_at)}  model={v.body.get('model', '-')}{envs}")
    return 0


@command
def cmd_deploy(settings: Settings, args: argparse.Namespace) -> int:
    async def go(store: SQLStore) -> Any:
        org = await resolve_org(store, args.org)
        p = await ap.get_prompt(PromptStore(store), org, args.prompt)
        v = _pick(p, args.version)
        await ap.deploy(PromptStore(store), org, p.id, args.env, parse(ap.Deploy, {"version_id": v.id}))
        return v

    v = run_store(settings, go)
    print(f"deployed prompt {args.prompt} v{v.number} {v.id} to {args.env}")
    return 0


@command
def cmd_diff(settings: Settings, args: argparse.Namespace) -> int:
    p = run_store(settings, lambda s: _get(s, args.org, args.prompt))
    a, b = _pick(p, args.a), _pick(p, args.b)

    def lines(v: Any) -> list[str]:
        return (
            orjson.dumps(v.body, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS).decode().splitlines(True)
        )

    diff = difflib.unified_diff(
        lines(a), lines(b), fromfile=f"{p.id} v{a.number}", tofile=f"{p.id} v{b.number}"
    )
    text = "".join(x if x.endswith("\n") else x + "\n" for x in diff)
    sys.stdout.write(text)
    return 0


def register(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    pr = sub.add_parser("prompts", parents=[common], help="managed prompts: versions and environments")
    actions = pr.add_subparsers(dest="action", required=True)

    def org(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        p.add_argument("--org", required=True, help="organisation name or id")
        return p

    c = org(actions.add_parser("create", parents=[common], help="a new prompt (v1, deployed to production)"))
    c.add_argument("body", metavar="BODY", help="JSON file with the chat body (model, messages, ...), or -")
    c.add_argument("--id", help="the prompt id (default: 6 random letters and digits)")
    c.add_argument("--name", help="a display name")
    c.add_argument("--json", action="store_true", help="print JSON")
    c.set_defaults(fn=cmd_create)

    v = org(actions.add_parser("version", parents=[common], help="a new version of a prompt (not deployed)"))
    v.add_argument("prompt", metavar="PROMPT_ID")
    v.add_argument("body", metavar="BODY", help="JSON file with the chat body, or -")
    v.add_argument("--json", action="store_true", help="print JSON")
    v.set_defaults(fn=cmd_version)

    ls = org(actions.add_parser("list", parents=[common], help="prompts and their environments"))
    ls.add_argument("--json", action="store_true", help="print JSON")
    ls.set_defaults(fn=cmd_list)

    sh = org(actions.add_parser("show", parents=[common], help="a prompt's versions and environments"))
    sh.add_argument("prompt", metavar="PROMPT_ID")
    sh.add_argument("--json", action="store_true", help="print JSON (with every version's body)")
    sh.set_defaults(fn=cmd_show)

    d = org(
        actions.add_parser(
            "deploy", parents=[common], help="point an environment at a version (or roll back)"
        )
    )
    d.add_argument("prompt", metavar="PROMPT_ID")
    d.add_argument("version", metavar="VERSION", help="version id or number (2 or v2)")
    d.add_argument("--env", default="production", help="environment (default production)")
    d.set_defaults(fn=cmd_deploy)

    df = org(actions.add_parser("diff", parents=[common], help="unified diff of two versions' bodies"))
    df.add_argument("prompt", metavar="PROMPT_ID")
    df.add_argument("a", metavar="VERSION_A", help="version id or number")
    df.add_argument("b", metavar="VERSION_B", help="version id or number")
    df.set_defaults(fn=cmd_diff)

"""`noos status` and `noos ping`: org.noos.System1."""

from __future__ import annotations

import argparse

from noos.bus import Connection
from noos.cli.commands import Subcommands
from noos.cli.report import Report
from noos.system import System


def register(subcommands: Subcommands) -> None:
    status_parser = subcommands.add_parser("status", help="the noos version, who you are, models")
    status_parser.set_defaults(run=status)
    ping_parser = subcommands.add_parser("ping", help="check that the noos services answer")
    ping_parser.set_defaults(run=ping)


async def status(args: argparse.Namespace, connection: Connection) -> Report:
    system = System(connection)
    version, uid, models = await system.version(), await system.whoami(), await system.models()
    image_version, debian_lock = await system.image_version(), await system.debian_lock()
    lines = [
        f"version:  {version}",
        f"uid:      {uid}",
        f"image:    {image_version}, Debian lock {debian_lock or 'none'}"
        if image_version
        else "image:    none (not a noos image)",
        "models:" if models else "models:   none",
    ]
    width = max((len(model.name) for model in models), default=0)
    lines += [f"  {model.name:<{width}}  {model.kind:<9}  {model.path}" for model in models]
    return Report(
        data={
            "version": version,
            "uid": uid,
            "image": {"version": image_version, "debian_lock": debian_lock},
            "models": [
                {"name": model.name, "kind": model.kind, "path": model.path} for model in models
            ],
        },
        text="\n".join(lines),
    )


async def ping(args: argparse.Namespace, connection: Connection) -> Report:
    answer = await System(connection).ping()
    return Report(data=answer, text=answer)

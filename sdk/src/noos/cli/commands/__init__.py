"""The subcommands of `noos`: each module here is one group of them.

A module defines `register(subcommands)`, which adds its subparsers and sets
on each the default `run`, an async function of (arguments, connection) that
returns a `Report`. Dropping a module here is all it takes to add commands;
modules import what is heavy inside `run`, so `noos` starts fast.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from typing import TypeAlias

from noos.bus import Connection
from noos.cli.report import Report

Run = Callable[[argparse.Namespace, Connection], Awaitable[Report]]
# What `ArgumentParser.add_subparsers` returns; argparse does not name it publicly.
Subcommands: TypeAlias = "argparse._SubParsersAction[argparse.ArgumentParser]"


def register_all(subcommands: Subcommands) -> None:
    """Let every module of this package add its subcommands."""
    for module in pkgutil.iter_modules(__path__, prefix=f"{__name__}."):
        importlib.import_module(module.name).register(subcommands)

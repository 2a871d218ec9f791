"""`noos`: the command line of the noos services."""

from __future__ import annotations

import argparse
import asyncio
import sys

from noos.bus import BUS_ADDRESS_ENV, Connection
from noos.cli.commands import Run, register_all
from noos.cli.report import Report
from noos.protocol.errors import NoosError

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="noos", description="Talk to the noos services.")
    parser.add_argument(
        "--bus",
        metavar="ADDRESS",
        help=f"the bus of the services (default: ${BUS_ADDRESS_ENV}, else the system bus)",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    subcommands = parser.add_subparsers(title="commands", required=True, metavar="COMMAND")
    register_all(subcommands)
    _accept_json_after(subcommands)
    return parser


def _accept_json_after(subcommands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Let `--json` also follow every command and verb (`noos memory stats
    --json`); SUPPRESS keeps one given before."""
    for subparser in subcommands.choices.values():
        subparser.add_argument(
            "--json", action="store_true", default=argparse.SUPPRESS, help="print as JSON"
        )
        for action in subparser._actions:
            if isinstance(action, argparse._SubParsersAction):
                _accept_json_after(action)


async def run(command: Run, args: argparse.Namespace) -> Report:
    async with await Connection.open(args.bus) as connection:
        return await command(args, connection)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        report = asyncio.run(run(args.run, args))
    except NoosError as error:
        print(f"noos: {error}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    print(report.render(args.json))
    return 0

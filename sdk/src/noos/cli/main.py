"""`noos`: the command line of the noos services."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import TextIO

from noos.bus import BUS_ADDRESS_ENV, Connection
from noos.cli.commands import Run, register_all
from noos.cli.report import Report
from noos.protocol.errors import NoosError
from noos.terminal_text import terminal_safe

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


def show_report(report: Report, as_json: bool, out: TextIO) -> None:
    """Print `report`. Its text quotes what others wrote (file names and
    contents, memories, answers): every terminal control in it is shown, not
    obeyed, whatever the command that made it forgot. JSON escapes them itself."""
    rendered = report.render(as_json)
    print(rendered if as_json else terminal_safe(rendered), file=out)


def show_error(error: NoosError, out: TextIO) -> None:
    """One line: a service's error may quote a file name or a caller's text."""
    print(terminal_safe(f"noos: {error}"), file=out)


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        report = asyncio.run(run(args.run, args))
    except NoosError as error:
        show_error(error, sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    show_report(report, args.json, sys.stdout)
    return 0

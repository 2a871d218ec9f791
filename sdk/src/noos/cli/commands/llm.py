"""`noos llm ask|models|load|unload|jobs`: org.noos.Scheduler1."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from dataclasses import asdict
from typing import TextIO

from noos.bus import Connection
from noos.cli.commands import Subcommands
from noos.cli.commands.index import size_text
from noos.cli.report import JSONValue, Report
from noos.protocol.errors import NotFound
from noos.scheduler import (
    DONE,
    GenerationOptions,
    Job,
    JobFailed,
    JobInfo,
    ModelInfo,
    Prompt,
    Scheduler,
)
from noos.terminal_text import terminal_safe, terminal_safe_line

PRIORITIES = ("interactive", "normal", "batch")


def register(subcommands: Subcommands) -> None:
    llm = subcommands.add_parser("llm", help="ask the language models; their state and jobs")
    verbs = llm.add_subparsers(dest="llm_command", required=True, metavar="COMMAND")

    ask_parser = verbs.add_parser(
        "ask", help="ask a model, and print its answer as it is written (Ctrl-C stops it)"
    )
    ask_parser.add_argument("question", help="the question, or - to read it from stdin")
    ask_parser.add_argument("-m", "--model", help="a model of `noos llm models` (default: default)")
    ask_parser.add_argument("--priority", choices=PRIORITIES, help="default: the model's class")
    ask_parser.add_argument("-n", "--max-tokens", type=int, help="the most tokens to write")
    ask_parser.add_argument("-t", "--temperature", type=float, help="0: always the likeliest")
    ask_parser.add_argument("-s", "--system", help="a system message to set the model's manner")
    ask_parser.add_argument(
        "--raw", action="store_true", help="send the question as raw text for a base model"
    )
    ask_parser.set_defaults(run=ask)

    models_parser = verbs.add_parser("models", help="the models, and which are in memory")
    models_parser.set_defaults(run=models)

    load_parser = verbs.add_parser("load", help="load a model into memory now (root, noos-admin)")
    load_parser.add_argument("model")
    load_parser.set_defaults(run=load)

    unload_parser = verbs.add_parser("unload", help="take a model out of memory (root, noos-admin)")
    unload_parser.add_argument("model")
    unload_parser.set_defaults(run=unload)

    jobs_parser = verbs.add_parser(
        "jobs", help="your jobs, running and recent (root, noos-admin: everyone's)"
    )
    jobs_parser.set_defaults(run=jobs)


def question_of(argument: str) -> str:
    """The question given, or stdin's for "-", less the one newline that ends a file."""
    return sys.stdin.read().removesuffix("\n") if argument == "-" else argument


def prompt_of(args: argparse.Namespace) -> Prompt:
    question = question_of(args.question)
    if args.raw:
        if args.system is not None:
            raise SystemExit("noos: --system needs a chat question, not --raw")
        return question
    if args.system is None:
        return question
    return [("system", args.system), ("user", question)]


def options_of(args: argparse.Namespace) -> GenerationOptions:
    """The options given on the command line; the service decides the rest."""
    options = GenerationOptions()
    if args.model is not None:
        options["model"] = args.model
    if args.priority is not None:
        options["priority"] = args.priority
    if args.max_tokens is not None:
        options["max_tokens"] = args.max_tokens
    if args.temperature is not None:
        options["temperature"] = args.temperature
    return options


def show_answer_piece(piece: str, out: TextIO) -> None:
    """Write a piece of a model's answer as it comes. A model (a remote one
    above all) may write terminal controls: they are shown, not obeyed, piece
    by piece, since each character is judged on its own."""
    out.write(terminal_safe(piece))
    out.flush()


def job_data(info: JobInfo) -> dict[str, JSONValue]:
    return dict(asdict(info))


async def ask(args: argparse.Namespace, connection: Connection) -> Report:
    scheduler = Scheduler(connection)
    prompt, options = prompt_of(args), options_of(args)
    if args.json:
        async with await scheduler.submit(prompt, raw=args.raw, **options) as job:
            info = await job.wait()
        if info.state != DONE:
            raise JobFailed(info)
        return Report(data=job_data(info), text=info.text)
    async for piece in scheduler.stream(prompt, raw=args.raw, **options):
        show_answer_piece(piece, sys.stdout)
    # The answer is out already; printing the report ends its line.
    return Report(data=None, text="")


def flags(model: ModelInfo) -> str:
    return ",".join(
        name for name, on in (("default", model.default), ("pinned", model.pinned)) if on
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns as wide as their widest cell, two spaces apart; a cell's
    controls and line breaks are shown, so none can forge a row."""
    header, rows = header, [[terminal_safe_line(cell) for cell in row] for row in rows]
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header))]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in (header, *rows)
    )


async def models(args: argparse.Namespace, connection: Connection) -> Report:
    found = await Scheduler(connection).models()
    rows = [
        (
            model.name,
            model.backend,
            model.state,
            str(model.context_length),
            size_text(model.ram_bytes),
            flags(model),
        )
        for model in found
    ]
    header = ("NAME", "BACKEND", "STATE", "CONTEXT", "RAM", "FLAGS")
    return Report(
        data=[dict(asdict(model)) for model in found],
        text=table(header, rows) if found else "the catalog has no models",
    )


async def load(args: argparse.Namespace, connection: Connection) -> Report:
    await Scheduler(connection).load(args.model)
    return Report(data={"loading": args.model}, text=f"loading {args.model}")


async def unload(args: argparse.Namespace, connection: Connection) -> Report:
    await Scheduler(connection).unload(args.model)
    return Report(data={"unloading": args.model}, text=f"unloading {args.model}")


async def info_if_any(job: Job) -> JobInfo | None:
    """The job's info; None when it was forgotten since it was listed."""
    try:
        return await job.info()
    except NotFound:
        return None


def seconds_text(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds:.2f}s"


def rate_text(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.1f}"


async def jobs(args: argparse.Namespace, connection: Connection) -> Report:
    listed = await Scheduler(connection).jobs()
    found = [info for info in await asyncio.gather(*map(info_if_any, listed)) if info is not None]
    rows = [
        (
            str(info.id),
            info.model,
            info.state,
            str(info.tokens),
            seconds_text(info.time_to_first_token_s),
            rate_text(info.tokens_per_s),
        )
        for info in found
    ]
    header = ("ID", "MODEL", "STATE", "TOKENS", "TTFT", "TOK/S")
    return Report(
        data=[job_data(info) for info in found],
        text=table(header, rows) if found else "no jobs",
    )

"""`noos memory remember|recall|forget|forget-matching|pin|unpin|stats`: org.noos.Memory1."""

from __future__ import annotations

import argparse
import re
import time

from noos.bus import Connection
from noos.cli.commands import Subcommands
from noos.cli.report import JSONValue, Report
from noos.memory import Memory, MemoryFilter, MemoryRecord, RecallHit
from noos.terminal_text import terminal_safe_line


def register(subcommands: Subcommands) -> None:
    memory = subcommands.add_parser("memory", help="your semantic memory: remember, recall, forget")
    verbs = memory.add_subparsers(dest="memory_command", required=True, metavar="COMMAND")

    remember_parser = verbs.add_parser("remember", help="remember a text")
    remember_parser.add_argument("text")
    remember_parser.add_argument("--kind", default="note", help="note, command, conversation, ...")
    remember_parser.add_argument("--importance", type=float, help="0 to 1")
    remember_parser.add_argument(
        "--meta", action="append", default=[], metavar="KEY=VALUE", help="metadata (repeatable)"
    )
    remember_parser.set_defaults(run=remember)

    recall_parser = verbs.add_parser("recall", help="the memories that best match a query")
    recall_parser.add_argument("query")
    recall_parser.add_argument("-n", "--limit", type=int, default=5)
    recall_parser.add_argument("--kind", action="append", default=[], help="only these kinds")
    recall_parser.add_argument("--since-hours", type=float, help="only the last N hours")
    recall_parser.add_argument(
        "--neighbours",
        action="store_true",
        help="also what was remembered beside each hit (marked: neighbour of ...)",
    )
    recall_parser.set_defaults(run=recall)

    forget_parser = verbs.add_parser("forget", help="forget memories by id")
    forget_parser.add_argument("ids", nargs="+", metavar="ID")
    forget_parser.set_defaults(run=forget)

    matching_parser = verbs.add_parser(
        "forget-matching",
        help="forget your memories whose text or metadata matches a pattern (a leaked secret)",
        description=(
            "Forget every memory of yours whose text or metadata matches PATTERN, a Python "
            "regular expression (-F: a plain string). Start the line with a space in "
            "noos-shell, so that the pattern is not remembered in turn."
        ),
    )
    matching_parser.add_argument("pattern", metavar="PATTERN")
    matching_parser.add_argument(
        "-F", "--fixed-strings", action="store_true", help="PATTERN is a plain string"
    )
    matching_parser.add_argument("-i", "--ignore-case", action="store_true")
    matching_parser.add_argument("--kind", action="append", default=[], help="only these kinds")
    matching_parser.add_argument(
        "-n", "--dry-run", action="store_true", help="list what would be forgotten"
    )
    matching_parser.set_defaults(run=forget_matching)

    for verb, pinned in (("pin", True), ("unpin", False)):
        pin_parser = verbs.add_parser(verb, help=f"{verb} a memory (pinned: never forgotten)")
        pin_parser.add_argument("id")
        pin_parser.set_defaults(run=pin, pinned=pinned)

    stats_parser = verbs.add_parser("stats", help="your memories per tier, and bytes used")
    stats_parser.set_defaults(run=stats)


def metadata_of(pairs: list[str]) -> dict[str, str]:
    metadata = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"noos: --meta takes KEY=VALUE, not {pair!r}")
        metadata[key] = value
    return metadata


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def record_data(record: MemoryRecord) -> dict[str, JSONValue]:
    return {
        "id": record.id,
        "text": record.text,
        "kind": record.kind,
        "created_at": record.created_at,
        "last_accessed": record.last_accessed,
        "metadata": dict(record.metadata),
        "details": {key: value for key, value in record.details.items()},
    }


async def remember(args: argparse.Namespace, connection: Connection) -> Report:
    memory_id = await Memory(connection).remember(
        args.text, args.kind, metadata_of(args.meta), args.importance
    )
    return Report(data={"id": memory_id}, text=memory_id)


def hit_line(hit: RecallHit) -> str:
    """One line per memory: its text's line breaks and controls are shown, not obeyed."""
    memory = hit.memory
    neighbour_of = memory.details.get("neighbour_of")
    marked = f"  (neighbour of {terminal_safe_line(str(neighbour_of))})" if neighbour_of else ""
    return (
        f"{hit.score:5.2f}  {when(memory.created_at)}  {terminal_safe_line(memory.kind):<12}"
        f"  {terminal_safe_line(memory.text)}  [{terminal_safe_line(memory.id)}]{marked}"
    )


async def recall(args: argparse.Namespace, connection: Connection) -> Report:
    since = time.time() - args.since_hours * 3600 if args.since_hours is not None else None
    hits = await Memory(connection).recall(
        args.query,
        args.limit,
        MemoryFilter(kinds=tuple(args.kind), since=since),
        neighbours=args.neighbours,
    )
    lines = [hit_line(hit) for hit in hits]
    return Report(
        data=[{"score": hit.score, **record_data(hit.memory)} for hit in hits],
        text="\n".join(lines) or "nothing remembered matches",
    )


async def forget(args: argparse.Namespace, connection: Connection) -> Report:
    count = await Memory(connection).forget(args.ids)
    return Report(data={"forgotten": count}, text=f"forgot {count}")


def pattern_of(args: argparse.Namespace) -> re.Pattern[str]:
    source = re.escape(args.pattern) if args.fixed_strings else args.pattern
    try:
        return re.compile(source, re.IGNORECASE if args.ignore_case else 0)
    except re.error as error:
        raise SystemExit(f"noos: PATTERN is not a regular expression: {error}") from error


async def forget_matching(args: argparse.Namespace, connection: Connection) -> Report:
    memory, pattern = Memory(connection), pattern_of(args)
    if args.dry_run:
        matched = await memory.matching(pattern, args.kind)
        lines = [f"{terminal_safe_line(m.text)}  [{terminal_safe_line(m.id)}]" for m in matched]
        return Report(
            data=[record_data(record) for record in matched],
            text="\n".join(lines) or "no memory matches",
        )
    count = await memory.forget_matching(pattern, args.kind)
    return Report(data={"forgotten": count}, text=f"forgot {count}")


async def pin(args: argparse.Namespace, connection: Connection) -> Report:
    memory = Memory(connection)
    await (memory.pin(args.id) if args.pinned else memory.unpin(args.id))
    verb = "pinned" if args.pinned else "unpinned"
    return Report(data={verb: args.id}, text=f"{verb} {args.id}")


async def stats(args: argparse.Namespace, connection: Connection) -> Report:
    counts = await Memory(connection).stats()
    text = "\n".join(f"{key + ':':<12} {value}" for key, value in sorted(counts.items()))
    return Report(data=dict(counts), text=text)

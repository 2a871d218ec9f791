"""`noos index search|status|reindex`: org.noos.Index1."""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict

from noos.bus import Connection
from noos.cli.commands import Subcommands
from noos.cli.report import JSONValue, Report
from noos.index import FileHit, Index
from noos.terminal_text import terminal_safe_line


def register(subcommands: Subcommands) -> None:
    index = subcommands.add_parser("index", help="search your files; the index's state")
    verbs = index.add_subparsers(dest="index_command", required=True, metavar="COMMAND")

    search_parser = verbs.add_parser(
        "search", help="the files that best match a query, e.g. 'notes from last week'"
    )
    search_parser.add_argument("query")
    search_parser.add_argument("-n", "--limit", type=int, default=10)
    search_parser.set_defaults(run=search)

    status_parser = verbs.add_parser("status", help="files indexed, queued and failed")
    status_parser.set_defaults(run=status)

    reindex_parser = verbs.add_parser("reindex", help="crawl every indexed directory again")
    reindex_parser.set_defaults(run=reindex)


def when(timestamp: float) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(timestamp))


def hit_text(hit: FileHit) -> str:
    """`path:line:` and what the file is, then the snippet's numbered lines, indented.

    Names and contents may be another user's: each field is one line of the
    layout, its controls and line breaks shown, so none can forge a line."""
    where = [terminal_safe_line(hit.language) or "file", f"modified {when(hit.mtime)}"]
    if hit.page is not None:
        where.append(f"page {hit.page}")
    if hit.device is not None:
        where.append(f"on {terminal_safe_line(hit.device)}")
    # Lines end at "\n" alone (with a CRLF's "\r"): a lone "\r" or form feed is shown.
    lines = hit.snippet.removesuffix("\n").split("\n") if hit.snippet else []
    snippet = "\n".join("    " + terminal_safe_line(line.removesuffix("\r")) for line in lines)
    path = terminal_safe_line(hit.path)
    return f"{path}:{hit.start_line}: ({', '.join(where)})\n{snippet}"


def size_text(size: int) -> str:
    """Bytes in binary units: 512 B, 3.4 MiB."""
    units = ("B", "KiB", "MiB", "GiB")
    scale = 0
    while size >= 1024 ** (scale + 1) and scale < len(units) - 1:
        scale += 1
    return f"{size} B" if scale == 0 else f"{size / 1024**scale:.1f} {units[scale]}"


async def search(args: argparse.Namespace, connection: Connection) -> Report:
    hits = await Index(connection).search(args.query, args.limit)
    data: list[JSONValue] = [dict(asdict(hit)) for hit in hits]
    return Report(
        data=data,
        text="\n\n".join(hit_text(hit) for hit in hits) or "no file you may read matches",
    )


async def status(args: argparse.Namespace, connection: Connection) -> Report:
    state = await Index(connection).status()
    rows = [
        ("files indexed", str(state.files_indexed)),
        ("queued", str(state.queued)),
        ("failed", str(state.failed)),
        ("index size", size_text(state.bytes)),
        ("roots", ", ".join(map(terminal_safe_line, state.roots)) or "none"),
        ("crawling", "yes" if state.crawling else "no"),
    ]
    data: dict[str, JSONValue] = {**asdict(state), "roots": list(state.roots)}
    return Report(data=data, text="\n".join(f"{name + ':':<15}{value}" for name, value in rows))


async def reindex(args: argparse.Namespace, connection: Connection) -> Report:
    started = await Index(connection).reindex()
    text = (
        "crawling every indexed directory again"
        if started
        else "a crawl of every indexed directory is queued already"
    )
    return Report(data={"started": started}, text=text)

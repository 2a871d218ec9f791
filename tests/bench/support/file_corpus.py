"""A synthetic home directory for the index benchmarks, deterministic from a seed.

Files of five kinds, spread over the projects of `corpora` like a developer's
~/src: Python modules (one short function per chunk, its docstring a note),
Markdown notes (one section per chunk), plain-text notes (paragraphs), shell
scripts and YAML configuration (blocks). Their sentences are `corpora`'s
notes, so every chunk is distinct and reads like something a user wrote.
Chunks are short on purpose (about 100 characters): embedding 100,000 of them
is the cold cache's cost, and it grows with length.

Modification times are set relative to a fixed `NOW`: a sixth of the files
changed in the last week, the rest over the half year before, so that "Python
files from the last 7 days" keeps about 5% of the chunks (Python is 30% of
the files).
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tests.bench.support import corpora

# Saturday 2026-06-13, noon, local time: queries are asked then.
NOW = datetime(2026, 6, 13, 12, 0).timestamp()
DAY = 86400.0
RECENT_SHARE = 1 / 6
RECENT_S = 7 * DAY
OLDEST_S = 180 * DAY
DIRECTORIES = ("src", "docs", "notes", "scripts", "config")


@dataclass(frozen=True)
class CorpusFile:
    """A file to write: where (relative to the root), what, and its mtime."""

    path: str
    text: str
    mtime: float


def _python(notes: Iterator[str], rng: random.Random, count: int) -> str:
    functions = []
    for n in range(count):
        verb = rng.choice(("handle", "load", "check", "sync", "render", "parse"))
        functions.append(
            f"def {verb}_{rng.choice(corpora.MODULES)}_{n}(item):\n"
            f'    """{next(notes).capitalize()}."""\n'
            f"    return {rng.choice(corpora.MODULES)}.run(item)\n"
        )
    return "\n\n".join(functions)


def _markdown(notes: Iterator[str], rng: random.Random, count: int) -> str:
    return "\n".join(
        f"## {rng.choice(corpora.TOPICS).capitalize()}\n\n{next(notes).capitalize()}.\n"
        for _ in range(count)
    )


def _text(notes: Iterator[str], rng: random.Random, count: int) -> str:
    # Paragraphs of at least chunking.MIN_CHUNK_CHARS, so that each is a chunk of its own.
    paragraphs = []
    for _ in range(count):
        sentences: list[str] = []
        while sum(len(s) + 2 for s in sentences) < 200:
            sentences.append(next(notes).capitalize() + ".")
        paragraphs.append(" ".join(sentences))
    return "\n\n".join(paragraphs) + "\n"


def _shell(notes: Iterator[str], rng: random.Random, count: int) -> str:
    blocks = ["#!/bin/sh\nset -eu"]
    for _ in range(count):
        command = rng.choice(corpora.TRIVIAL_COMMANDS)
        blocks.append(f"# {next(notes)}\n{command}\n# {next(notes)}\n{command} >/dev/null")
    return "\n\n".join(blocks) + "\n"


def _yaml(notes: Iterator[str], rng: random.Random, count: int) -> str:
    blocks = []
    for n in range(count):
        blocks.append(
            f"{rng.choice(corpora.MODULES)}_{n}:\n"
            f'  description: "{next(notes)}"\n'
            f'  owner: "{next(notes)}"\n'
            f"  retries: {rng.randrange(1, 9)}"
        )
    return "\n\n".join(blocks) + "\n"


# (suffix, directory, share of the files, how to write one of n chunks)
_KINDS: tuple[tuple[str, str, float, Callable[[Iterator[str], random.Random, int], str]], ...] = (
    (".py", "src", 0.3, _python),
    (".md", "notes", 0.3, _markdown),
    (".txt", "docs", 0.2, _text),
    (".sh", "scripts", 0.1, _shell),
    (".yaml", "config", 0.1, _yaml),
)


def files(chunks: int, seed: int = 7) -> Iterator[CorpusFile]:
    """Files holding about `chunks` chunks (1 to 19 each), as `chunking` cuts them."""
    from noosd.index.core.chunking import chunk_file
    from noosd.index.core.filetypes import file_type

    rng = random.Random(seed)
    # More notes than any corpus of this size uses (a text chunk takes about five).
    notes = iter(corpora.varied_memories(6 * chunks, seed=seed))
    total = 0
    number = 0
    while total < chunks:
        suffix, directory, _, write = rng.choices(_KINDS, weights=[k[2] for k in _KINDS])[0]
        project = rng.choice(corpora.PROJECTS)
        path = f"{project}/{directory}/{project.replace('-', '_')}_{number}{suffix}"
        text = write(notes, rng, rng.randrange(1, 20))
        recent = rng.random() < RECENT_SHARE
        age = rng.uniform(0, RECENT_S) if recent else rng.uniform(RECENT_S, OLDEST_S)
        total += len(chunk_file(text.encode(), file_type(Path(path))))
        number += 1
        yield CorpusFile(path, text, NOW - age)


def write_tree(root: Path, chunks: int) -> int:
    """Write the corpus under `root` (files 0644, directories 0755); returns how many files."""
    count = 0
    for corpus_file in files(chunks):
        path = root / corpus_file.path
        path.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        path.write_text(corpus_file.text)
        path.chmod(0o644)
        os.utime(path, (corpus_file.mtime, corpus_file.mtime))
        count += 1
    return count

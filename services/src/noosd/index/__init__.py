"""The file index of noos: the domain core of org.noos.Index1.

The index keeps a vector index of users' files, so that "the python script
with the bug from Tuesday" finds it. This package is the pure part: no D-Bus,
no inotify, no embedding model, no database, and cheap to import (pypdf is
imported only when a PDF is chunked). Its modules, in the order a file and a
query meet them:

- `ignore`: which files are left out (default rules, `.noosignore` files in
  gitignore syntax, tagged cache and virtual-environment directories) and
  which are too large (`SizeLimits`), each with the reason why;
- `filetypes`: a path's language, MIME type and category, from a fixed table
  (and a shebang), which also gives the query's type words their meaning;
- `chunking`: a file's content as `Chunk`s of whole lines, cut along Python
  definitions, Markdown headings or blank lines, each named by the hash of
  its text; binaries and unreadable PDFs are `Unindexable`;
- `changes`: after a write, which chunks to embed, keep and drop, by hash;
- `metadata`: what is recorded of a file (owner, mode, type, size, times,
  device and inode);
- `query`: a query's filters said in words (time, type, place) and the text
  left to search for;
- `ranking`: the semantic and lexical rankings fused by reciprocal rank;
- `snippets`: the lines of a found chunk to show, with their numbers.

On these build, in layers:

- storage and search (`engine.IndexEngine`): SQLite as the truth (`store`:
  files, chunks, float16 vectors, FTS5 for `lexical`), int8 vectors in RAM
  (`noosd.shared.matrix`) for exact search behind a selective filter,
  chromadb (`chroma`, kept in step by `noosd.shared.outbox`) for the rest, and
  `access`: what a caller may open, checked at query time;
- the service side: `watcher` (inotify through watchdog, debounced by
  `pending`), `crawler` (resumable, at idle priority: `priority`), `media`
  (removable file systems, by mountinfo and pyudev), wired by `runner`,
  `indexer` and `sink`; and the D-Bus facade `interface`/`service`.
"""

from noosd.index.changes import ChunkChanges, plan_changes
from noosd.index.chunking import Chunk, Unindexable, chunk_file, is_binary
from noosd.index.filetypes import Category, FileType, Format, file_type
from noosd.index.ignore import IgnoreRules, SizeLimits
from noosd.index.metadata import FileMetadata
from noosd.index.query import ParsedQuery, parse_query
from noosd.index.ranking import Fused, reciprocal_rank_fusion
from noosd.index.snippets import Snippet, snippet

__all__ = [
    "Category",
    "Chunk",
    "ChunkChanges",
    "FileMetadata",
    "FileType",
    "Format",
    "Fused",
    "IgnoreRules",
    "ParsedQuery",
    "SizeLimits",
    "Snippet",
    "Unindexable",
    "chunk_file",
    "file_type",
    "is_binary",
    "parse_query",
    "plan_changes",
    "reciprocal_rank_fusion",
    "snippet",
]

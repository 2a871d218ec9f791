"""The pure core of org.noos.Index1, the file index of noos.

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
- `snippets`: the lines of a found chunk to show, with their numbers.

On these build, outside the core: `store.IndexStore` (read, chunk, embed,
store and search, with `search`), over `storage/` (SQLite as the truth in
`storage.database`, FTS5 for `noosd.shared.lexical`, fused with the semantic
ranking by `noosd.shared.ranking` as Memory1's recall is, chromadb in
`storage.chroma` kept in step by `noosd.shared.outbox`, int8 vectors in RAM
in `noosd.shared.matrix`, and `storage.access`: what a caller may open,
checked at query time); the
threads in `live/` (`watcher` debounced by `pending`, `crawler` at idle
priority, `media`, the store's worker `runner`); `engine.Indexer`, which wires
them; and the D-Bus facade `interface`/`service`.
"""

from noosd.index.core.changes import ChunkChanges, plan_changes
from noosd.index.core.chunking import Chunk, Unindexable, chunk_file, is_binary
from noosd.index.core.filetypes import Category, FileType, Format, file_type
from noosd.index.core.ignore import IgnoreRules, SizeLimits
from noosd.index.core.metadata import FileMetadata
from noosd.index.core.query import ParsedQuery, parse_query
from noosd.index.core.snippets import Snippet, snippet

__all__ = [
    "Category",
    "Chunk",
    "ChunkChanges",
    "FileMetadata",
    "FileType",
    "Format",
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
    "snippet",
]

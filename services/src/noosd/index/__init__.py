"""org.noos.Index1: a vector index of users' files, kept up to date as they change.

Rooms (docs/architecture.md): `service`/`interface`, the D-Bus front door;
`engine.Indexer`, the one object the facade drives; `store.IndexStore`, the
index itself (read, chunk, embed, store, search: `search`); `core/`, the pure
part (chunking, file types, ignore rules, query parsing, ranking, snippets);
`storage/`, SQLite, chromadb and the files read and checked; `live/`, the
threads (crawler, watcher, pending changes, roots, removable media, and the
store's worker).
"""

"""The index's storage: SQLite (the source of truth), chromadb, and the files
it reads and checks access to.
"""
